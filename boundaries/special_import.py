"""Special grids (专属网格: schools, hospitals, parks …) from a file: read, check, report, apply.

The whole file is checked before anything is written: invalid geometry, duplicate
codes and special grids outside the live district (:func:`geo.topology.validate_units`),
and missing names, kinds or responsible units. Any error refuses the whole file with
the findings. Otherwise the report says, per code, whether the file brings a ``new``
special grid, a ``changed`` one (which fields) or an ``unchanged`` one. Live special
grids absent from the file are left alone unless ``retire_missing`` is asked for.

Nothing is written unless ``apply`` is given (dry run by default, like the CLI's and
the API's defaults); then every change lands in one transaction through
:func:`geo.services.special_edits.import_special_grids`. Importing the same file again
changes nothing.

This module reads and normalises the file (:func:`read_special_file`); the comparison
is pure (:mod:`geo.units.special`). The column detection and kind mapping are pure and
tested on their own.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import Connection

from geo.errors import InvalidInput
from geo.io.fieldmap import parse_field_map
from geo.services import special_edits
from geo.settings import STORAGE_SRID
from geo.topology.fixes import make_valid_all
from geo.units.special import FIELDS, Incoming, SpecialImportReport
from geo.units.special import cell_text as _text
from geo.vocab import SPECIAL_GRID_KINDS

from boundaries.columns import detect_columns
from boundaries.importer import _to_wgs84, read_boundary_file

REQUIRED = ("code", "name", "kind", "responsible_unit")
# Chinese kind names seen in districts' registers → geo.store.models.SPECIAL_GRID_KINDS.
# Anything else becomes "other" and is listed in the report (never silently).
KIND_NAMES: dict[str, str] = {
    "学校": "school",
    "中小学": "school",
    "中学": "school",
    "小学": "school",
    "幼儿园": "school",
    "医院": "hospital",
    "卫生院": "hospital",
    "产业园": "industrial_park",
    "产业园区": "industrial_park",
    "工业园": "industrial_park",
    "工业园区": "industrial_park",
    "市场": "market",
    "农贸市场": "market",
    "菜市场": "market",
    "企业": "enterprise",
    "景区": "scenic",
    "旅游景区": "scenic",
    "高校": "campus",
    "校园": "campus",
    "大学": "campus",
    "其他": "other",
    "其它": "other",
}


def map_kind(value) -> tuple[str, bool]:
    """A file's kind value as one of SPECIAL_GRID_KINDS, and whether it was recognised.

    English kind names pass through; Chinese names map through :data:`KIND_NAMES`;
    anything else (or nothing) is ``"other"`` with ``False``.
    """
    text = _text(value)
    if text is None:
        return "other", False
    key = text.replace(" ", "").replace("\u3000", "")
    if key.lower() in SPECIAL_GRID_KINDS:
        return key.lower(), True
    if key in KIND_NAMES:
        return KIND_NAMES[key], True
    return "other", False


def parse_special_column_map(text: str | None) -> dict[str, str] | None:
    """``code=编码,kind=类别,responsible_unit=管理部门`` → dict, for special grids."""
    return parse_field_map(text, ("code", *FIELDS))


def special_columns(columns: list[str], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The file's column for each special-grid field; the four required ones must exist."""
    listed = ", ".join(map(str, columns))
    try:
        found = detect_columns(columns, overrides)
    except KeyError as exc:
        raise InvalidInput(
            f"--map names column {exc.args[0]!r}, which the file does not have; "
            f"its columns are: {listed}",
            f"--map 指定的列 {exc.args[0]!r} 不存在；文件的列为：{listed}",
        ) from None
    missing = [f for f in REQUIRED if f not in found]
    if missing:
        raise InvalidInput(
            f"no {', '.join(missing)} column found (columns: {listed}); "
            f"name it with --map {missing[0]}=<column>",
            f"未找到 {'、'.join(missing)} 列（文件的列为：{listed}）；"
            f"请用 --map {missing[0]}=<列名> 指定",
        )
    return {f: found[f] for f in (*REQUIRED, "contact_name", "contact_phone") if f in found}


def normalise_special(
    raw: gpd.GeoDataFrame,
    *,
    crs: str | None = None,
    column_map: dict[str, str] | None = None,
    make_valid: bool = False,
) -> Incoming:
    """Canonical special-grid rows from a file's frame (pure: no DB)."""
    cols = special_columns([c for c in raw.columns if c != raw.geometry.name], column_map)
    repaired_idx: list[int] = []
    if make_valid:
        raw, repaired_idx = make_valid_all(raw)
    gdf = _to_wgs84(raw, crs)
    codes = [_text(v) for v in gdf[cols["code"]]]
    data: dict[str, list] = {"code": [c or "" for c in codes]}
    unmapped: dict[str, str] = {}
    kinds = []
    for code, value in zip(data["code"], gdf[cols["kind"]], strict=True):
        kind, known = map_kind(value)
        kinds.append(kind)
        if not known:
            unmapped[code] = _text(value) or ""
    data["kind"] = kinds
    for f in ("name", "responsible_unit", "contact_name", "contact_phone"):
        data[f] = [_text(v) for v in gdf[cols[f]]] if f in cols else [None] * len(gdf)
    frame = gpd.GeoDataFrame(
        # object columns: a string column would turn None into NaN
        {k: pd.Series(v, dtype=object) for k, v in data.items()},
        geometry=[MultiPolygon([g]) if isinstance(g, Polygon) else g for g in gdf.geometry],
        crs=STORAGE_SRID,
    )
    problems = []
    for i, rec in enumerate(frame.itertuples()):
        label = rec.code or f"row {i + 1}"
        if not rec.code:
            problems.append(f"row {i + 1}: empty code / 编码为空")
        for f, zh in (("name", "名称"), ("responsible_unit", "责任单位")):
            if not _text(getattr(rec, f)):
                problems.append(f"{label}: empty {f} / {zh}为空")
    return Incoming(
        frame=frame,
        present=tuple(f for f in FIELDS if f in cols),
        unmapped_kinds=unmapped,
        repaired=[data["code"][i] for i in repaired_idx],
        problems=problems,
    )


def _special_layer(path: Path, layer: str | None) -> str | None:
    """A GeoPackage written by ``gridmap export`` keeps special grids in ``special_grid``."""
    if layer is not None or Path(path).suffix.lower() != ".gpkg":
        return layer
    try:
        names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except Exception:  # unreadable: read_boundary_file reports it properly
        return None
    return "special_grid" if "special_grid" in names and len(names) > 1 else None


def read_special_file(
    path: Path,
    *,
    layer: str | None = None,
    crs: str | None = None,
    encoding: str | None = None,
    column_map: dict[str, str] | None = None,
    make_valid: bool = False,
) -> Incoming:
    """Read and normalise a special-grid file (no DB): what
    :func:`geo.services.special_edits.import_special_grids` compares and applies."""
    raw = read_boundary_file(path, layer=_special_layer(path, layer), encoding=encoding)
    return normalise_special(raw, crs=crs, column_map=column_map, make_valid=make_valid)


def import_special_file(
    conn: Connection,
    path: Path,
    *,
    layer: str | None = None,
    crs: str | None = None,
    encoding: str | None = None,
    column_map: dict[str, str] | None = None,
    make_valid: bool = False,
    retire_missing: bool = False,
    apply: bool = False,
    author: str,
    reason: str | None = None,
    source: str | None = None,
) -> SpecialImportReport:
    """Check a special-grid file against the live map; write it only if ``apply`` (in
    the caller's transaction).

    Raises
    ------
    EditRefused
        Any invalid geometry, duplicate code, special grid outside the district or
        missing required value: the whole file is refused and nothing is written.
    """
    incoming = read_special_file(
        path, layer=layer, crs=crs, encoding=encoding, column_map=column_map, make_valid=make_valid
    )
    return special_edits.compare_and_apply(
        conn,
        incoming,
        source=source or Path(path).name,
        retire_missing=retire_missing,
        apply=apply,
        author=author,
        reason=reason,
    )
