"""Read a boundary file into normalised units (nothing is stored here).

The steps are apart from the CLI so the API's upload and ``gridmap sample load`` share
them: read → normalise (columns, CRS, MultiPolygon); storing as a draft (checksum,
draft set) is :func:`geo.services.boundaries.import_units`, and activation a separate,
explicit step (:mod:`geo.services.publish`).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry import MultiPolygon, Polygon

from geo import topology
from geo.crs import CRS, UnknownCRSError, parse_crs, to_wgs84
from geo.errors import InvalidInput
from geo.settings import STORAGE_SRID
from geo.vocab import LEVELS

from boundaries.columns import detect_columns
from boundaries.encoding import detect_encoding, looks_garbled


def read_boundary_file(
    path: Path, *, layer: str | None = None, encoding: str | None = None
) -> gpd.GeoDataFrame:
    """Read a GeoJSON / GeoPackage / Shapefile layer with pyogrio.

    A Shapefile's text encoding is taken from ``encoding``, else its .cpg, else
    detected from the .dbf bytes (GBK files without a .cpg are common). Names that
    still come out garbled are refused, never stored.
    """
    if not Path(path).exists():
        raise InvalidInput(f"file not found: {path}", f"文件不存在：{path}")
    kwargs = {"engine": "pyogrio"}
    if layer:
        kwargs["layer"] = layer
    encoding = encoding or detect_encoding(Path(path))
    if encoding:
        kwargs["encoding"] = encoding
    try:
        frame = gpd.read_file(path, **kwargs)
    except Exception as exc:  # pyogrio raises several types for unreadable input
        raise InvalidInput(
            f"cannot read {Path(path).name}: {exc}. Check it is a complete GeoJSON, "
            "GeoPackage or zipped Shapefile (polygon rings closed) and upload it again",
            f"无法读取 {Path(path).name}：{exc}。请确认它是完整的 GeoJSON、GeoPackage 或"
            "压缩的 Shapefile（多边形闭合）后重新上传",
        ) from exc
    for col in frame.columns:
        if col == frame.geometry.name or frame[col].dtype.kind not in "OUT":
            continue
        bad = [v for v in frame[col].dropna().astype(str).head(500) if looks_garbled(v)]
        if bad:
            raise InvalidInput(
                f"column {col!r} of {Path(path).name} looks garbled (e.g. {bad[0]!r}): the "
                "text encoding is wrong. Pass --encoding GBK (or UTF-8) and import again.",
                f"{Path(path).name} 的 {col!r} 列出现乱码（如 {bad[0]!r}），编码不对。"
                "请用 --encoding GBK（或 UTF-8）重新导入。",
            )
    return frame


def _to_wgs84(gdf: gpd.GeoDataFrame, crs: str | None) -> gpd.GeoDataFrame:
    """Bring geometries to EPSG:4326, honouring an explicit ``crs`` over the file's."""
    if crs is None:
        if gdf.crs is None:
            raise InvalidInput(
                "the file states no CRS; pass --crs (wgs84, gcj02, bd09, cgcs2000 or EPSG:n)",
                "文件未声明坐标系；请用 --crs 指定（wgs84、gcj02、bd09、cgcs2000 或 EPSG:n）",
            )
        epsg = gdf.crs.to_epsg()
        # CGCS2000 geographic is WGS-84 at the metre level (see geo.crs).
        if epsg in (4326, 4490):
            return gdf.set_crs(STORAGE_SRID, allow_override=True)
        return gdf.to_crs(STORAGE_SRID)
    if crs.upper().startswith("EPSG:"):
        try:
            return gdf.set_crs(crs, allow_override=True).to_crs(STORAGE_SRID)
        except pyproj.exceptions.CRSError:
            raise InvalidInput(
                f"unknown crs {crs!r}; use wgs84, gcj02, bd09, cgcs2000 or a known EPSG:n",
                f"未知坐标系 crs {crs!r}；请使用 wgs84、gcj02、bd09、cgcs2000 或有效的 EPSG:n",
            ) from None
    try:
        parsed = parse_crs(crs)
    except UnknownCRSError:
        raise InvalidInput(
            f"unknown crs {crs!r}; use wgs84, gcj02, bd09, cgcs2000 or EPSG:n",
            f"未知坐标系 crs {crs!r}；请使用 wgs84、gcj02、bd09、cgcs2000 或 EPSG:n",
        ) from None
    out = gdf.set_crs(STORAGE_SRID, allow_override=True)
    if parsed in (CRS.wgs84, CRS.cgcs2000):
        return out

    def shift(coords: np.ndarray) -> np.ndarray:
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], parsed)
        return np.column_stack([lon, lat])

    return out.set_geometry(shapely.transform(out.geometry.values, shift))


def _as_multipolygon(geom):
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    return geom


def normalise_units(
    raw: gpd.GeoDataFrame,
    *,
    level: str | None = None,
    crs: str | None = None,
    column_map: dict[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Canonical columns (level, code, name, parent_code, geometry) in EPSG:4326."""
    cols = _unit_columns(raw, column_map, level)
    gdf = _to_wgs84(raw, crs)
    out = gpd.GeoDataFrame(
        {
            "level": level if level else gdf[cols["level"]].astype(str).str.strip(),
            "code": gdf[cols["code"]].astype(str).str.strip(),
            "name": gdf[cols["name"]].astype(str).str.strip(),
            "parent_code": (
                gdf[cols["parent_code"]].map(
                    lambda v: (
                        None if v is None or pd.isna(v) or str(v).strip() == "" else str(v).strip()
                    )
                )
                if "parent_code" in cols
                else None
            ),
        },
        geometry=[_as_multipolygon(g) for g in gdf.geometry],
        crs=STORAGE_SRID,
    )
    bad_levels = sorted(set(out["level"]) - set(LEVELS))
    if bad_levels:
        raise InvalidInput(
            f"unknown level(s) {bad_levels}; use one of {list(LEVELS)}",
            f"未知层级 {bad_levels}；应为 {list(LEVELS)} 之一",
        )
    _refuse_invalid(out)
    return out


def _unit_columns(
    raw: gpd.GeoDataFrame, column_map: dict[str, str] | None, level: str | None
) -> dict[str, str]:
    """The file's column for each unit field; code and name (and level, unless given)
    must exist."""
    listed = ", ".join(map(str, raw.columns))
    try:
        cols = detect_columns([c for c in raw.columns if c != raw.geometry.name], column_map)
    except KeyError as exc:
        raise InvalidInput(
            f"--map names column {exc.args[0]!r}, which the file does not have; "
            f"its columns are: {listed}",
            f"--map 指定的列 {exc.args[0]!r} 不存在；文件的列为：{listed}",
        ) from None
    for field in ("code", "name"):
        if field not in cols:
            raise InvalidInput(
                f"no {field} column found (columns: {listed}); name it with --map {field}=<column>",
                f"未找到{'编码' if field == 'code' else '名称'}列；请用 --map {field}=<列名> 指定",
            )
    if level is None and "level" not in cols:
        raise InvalidInput(
            "the file has no level column; pass --level district|street|community|grid",
            "文件没有层级列；请用 --level 指定 district|street|community|grid",
        )
    return cols


def _refuse_invalid(out: gpd.GeoDataFrame) -> None:
    """Refuse units with empty, non-polygon or invalid geometry, or duplicate codes."""
    problems = []
    for rec in out.itertuples():
        g = rec.geometry
        if g is None or g.is_empty:
            problems.append(f"{rec.code}: empty geometry")
        elif not isinstance(g, MultiPolygon):
            problems.append(f"{rec.code}: {g.geom_type} is not a polygon")
        elif not g.is_valid:
            problems.append(f"{rec.code}: {shapely.is_valid_reason(g)}")
    dupes = out["code"][out["code"].duplicated()].unique().tolist()
    if dupes:
        problems.append(f"duplicate codes: {', '.join(dupes[:20])}")
    if problems:
        # Drafts never hold invalid geometry (the database refuses it), so the file is
        # refused here — with every finding and its location, not just the first.
        findings = topology.validate_units(out)
        raise InvalidInput(
            f"{len(problems)} problem(s) in the file; nothing was imported: "
            + "; ".join(problems[:20])
            + ". Fix these geometries (closed rings of at least 4 points, no "
            "self-intersection) and import again",
            f"文件中有 {len(problems)} 处问题，未导入任何数据："
            + "；".join(problems[:20])
            + "。请修正这些几何（闭合且至少 4 个点、无自相交）后重新导入",
            problems=problems,
            findings=topology.findings_to_json(findings[:500]),
        )
