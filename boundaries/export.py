"""Write the boundaries out: GeoPackage, GeoJSON, Shapefile (with .cpg and .prj), CSV.

A GeoPackage holds one layer per level (district, street, community, grid,
special_grid). GeoJSON is one FeatureCollection with a ``level`` property. Shapefile
output is a folder with one .shp per layer, UTF-8 declared in a .cpg. CSV carries
WKT geometry and is safe against formula injection when opened in a spreadsheet.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from geo.crs import CRS, UnknownCRSError, from_wgs84, parse_crs
from geo.errors import InvalidInput
from geo.settings import STORAGE_SRID
from geo.vocab import BOUNDARY_EXPORT_FORMATS, LEVELS

FORMATS = BOUNDARY_EXPORT_FORMATS
LAYERS = (*LEVELS, "special_grid")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# dBase field names stop at 10 characters; these short forms are what the importer reads.
SHP_FIELD_NAMES = {
    "parent_code": "parent",
    "responsible_unit": "resp_unit",
    "contact_name": "cont_name",
    "contact_phone": "cont_phone",
}


def to_output_crs(frame: gpd.GeoDataFrame, crs: str | None) -> gpd.GeoDataFrame:
    """Reproject/shift a WGS-84 frame to the requested output CRS."""
    if crs is None:
        return frame
    try:
        if crs.upper().startswith("EPSG:"):
            return frame.to_crs(crs)
        parsed = parse_crs(crs)
    except (UnknownCRSError, pyproj.exceptions.CRSError):
        raise InvalidInput(
            f"unknown crs {crs!r}; use wgs84, gcj02, bd09, cgcs2000 or a known EPSG:n",
            f"未知坐标系 crs {crs!r}；请使用 wgs84、gcj02、bd09、cgcs2000 或有效的 EPSG:n",
            field="crs",
        ) from None
    if parsed is CRS.cgcs2000:
        return frame.set_crs(4490, allow_override=True)
    if parsed is CRS.wgs84:
        return frame

    def shift(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(from_wgs84(coords[:, 0], coords[:, 1], parsed))

    # GCJ-02 / BD-09 have no EPSG code; the file says EPSG:4326 and the caller knows.
    return frame.set_geometry(shapely.transform(frame.geometry.values, shift))


def _safe_cell(v):
    if isinstance(v, str) and v.startswith(_FORMULA_START):
        return "'" + v  # spreadsheet programs then show it as text, not a formula
    return v


def _layers(units: gpd.GeoDataFrame, special: gpd.GeoDataFrame | None) -> dict:
    cols = ["code", "name", "level", "parent_code", "geometry"]
    out = {
        lvl: units.loc[units["level"] == lvl, cols].reset_index(drop=True) for lvl in LAYERS[:-1]
    }
    if special is not None and len(special):
        out["special_grid"] = special.reset_index(drop=True)
    return {k: v for k, v in out.items() if len(v)}


def export_boundaries(
    units: gpd.GeoDataFrame,
    out: Path,
    fmt: str,
    *,
    special: gpd.GeoDataFrame | None = None,
    crs: str | None = None,
) -> list[Path]:
    """Write units (and special grids) to ``out`` in ``fmt``; returns the files written."""
    if fmt not in FORMATS:
        raise InvalidInput(
            f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}",
            f"不支持的格式 {fmt!r}；可选 {', '.join(FORMATS)}",
        )
    if units.crs is None or units.crs.to_epsg() != STORAGE_SRID:
        raise InvalidInput("export expects WGS-84 input")
    layers = {k: to_output_crs(v, crs) for k, v in _layers(units, special).items()}
    out = Path(out)
    written: list[Path] = []
    if fmt == "gpkg":
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.exists():
            out.unlink()
        for name, frame in layers.items():
            frame.to_file(out, layer=name, driver="GPKG", engine="pyogrio")
        written.append(out)
    elif fmt == "geojson":
        out.parent.mkdir(parents=True, exist_ok=True)
        features = []
        for name, frame in layers.items():
            fc = json.loads(frame.assign(level=name).to_json(drop_id=True))
            features.extend(fc["features"])
        doc = {"type": "FeatureCollection", "features": features}
        if crs:
            doc["crs_name"] = crs  # not RFC 7946, but says what the numbers are
        out.write_text(json.dumps(doc, ensure_ascii=False))
        written.append(out)
    elif fmt == "shp":
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in layers.items():
            path = out / f"{name}.shp"
            frame = frame.rename(columns=SHP_FIELD_NAMES)
            frame.to_file(path, driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
            cpg = path.with_suffix(".cpg")
            if not cpg.exists():
                cpg.write_text("UTF-8")
            written.extend(sorted(out.glob(f"{name}.*")))
    else:  # csv
        out.parent.mkdir(parents=True, exist_ok=True)
        frames = []
        for name, frame in layers.items():
            df = pd.DataFrame(frame.drop(columns=frame.geometry.name))
            df["level"] = name
            df["wkt"] = shapely.to_wkt(frame.geometry.values, rounding_precision=-1)
            frames.append(df)
        table = pd.concat(frames, ignore_index=True)
        for col in table.columns:
            if table[col].dtype == object or str(table[col].dtype).startswith("str"):
                table[col] = table[col].map(_safe_cell)
        table.to_csv(out, index=False, encoding="utf-8-sig")  # BOM: Excel reads UTF-8
        written.append(out)
    return written
