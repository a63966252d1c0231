"""Special grids (专属网格: schools, hospitals, parks …) from a file: read, check, report, apply.

The whole file is checked before anything is written: invalid geometry, duplicate
codes and special grids outside the live district (:func:`geo.topology.validate_units`),
and missing names, kinds or responsible units. Any error refuses the whole file with
the findings. Otherwise the report says, per code, whether the file brings a ``new``
special grid, a ``changed`` one (which fields) or an ``unchanged`` one. Live special
grids absent from the file are left alone unless ``retire_missing`` is asked for.

Nothing is written unless ``apply`` is given (dry run by default, like the CLI's and
the API's defaults); then every change lands in one transaction through
:func:`geo.store.special_edits.save_many`. Importing the same file again changes nothing.

The column detection and kind mapping are pure and tested on their own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import Connection

from geo import topology
from geo.errors import EditRefused, InvalidInput
from geo.settings import STORAGE_SRID
from geo.store import boundaries as bstore
from geo.store import registers, special_edits
from geo.store.models import SPECIAL_GRID_KINDS
from geo.topology.fixes import fix_make_valid

from boundaries.columns import detect_columns
from boundaries.fixes import make_valid_all
from boundaries.importer import _to_wgs84, read_boundary_file

FIELDS = ("name", "kind", "responsible_unit", "contact_name", "contact_phone")
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
# 1e-9° is ~0.1 mm, the tolerance publishing uses for boundaries (geo.units.diff).
SAME_GEOMETRY_DEG = 1e-9


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
    if not text:
        return None
    allowed = ("code", *FIELDS)
    out: dict[str, str] = {}
    for part in text.replace("，", ",").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise InvalidInput(
                f"--map entry {part!r} is not field=column", f"--map 项 {part!r} 应为 字段=列名"
            )
        name, col = (x.strip() for x in part.split("=", 1))
        if name not in allowed:
            raise InvalidInput(
                f"--map field {name!r} unknown for special grids; use {', '.join(allowed)}",
                f"专属网格的 --map 字段 {name!r} 未知；可用 {'、'.join(allowed)}",
            )
        out[name] = col
    return out


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


def _text(value) -> str | None:
    """A cell as stripped text; None for empty. Integral floats lose their ``.0``
    (a phone or code column read as numbers)."""
    if value is None or (np.isscalar(value) and not isinstance(value, str) and pd.isna(value)):
        return None
    if value is pd.NA:
        return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


@dataclass
class Incoming:
    """A special-grid file normalised: one row per feature, EPSG:4326."""

    frame: gpd.GeoDataFrame  # code, name, kind, responsible_unit, contact_*, geometry
    present: tuple[str, ...]  # fields the file has a column for
    unmapped_kinds: dict[str, str]  # code → the file's kind value that became "other"
    repaired: list[str]  # codes whose geometry fix_make_valid changed (make_valid only)
    problems: list[str]  # attribute problems (empty code, name, responsible unit)


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


def _same_geometry(a, b) -> bool:
    return bool(shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), SAME_GEOMETRY_DEG))


def diff_special(
    live: gpd.GeoDataFrame, incoming: Incoming, *, retire_missing: bool = False
) -> list[dict]:
    """Per code: ``new``, ``changed`` (with the fields), ``unchanged``; live codes absent
    from the file are ``retired`` (``retire_missing``) or ``kept``. Pure.

    A field the file has no column for keeps its live value. The file's geometry is
    compared in the form it would be stored in (``fix_make_valid``).
    """
    by_code = {r.code: r for r in live.itertuples()}
    rows = []
    for rec in incoming.frame.itertuples():
        old = by_code.get(rec.code)
        if old is None:
            rows.append({"code": rec.code, "status": "new", "changed": []})
            continue
        changed = [f for f in incoming.present if _text(getattr(old, f)) != _text(getattr(rec, f))]
        if not _same_geometry(old.geometry, fix_make_valid(rec.geometry)):
            changed.append("geometry")
        rows.append(
            {"code": rec.code, "status": "changed" if changed else "unchanged", "changed": changed}
        )
    in_file = set(incoming.frame["code"])
    for code in sorted(set(by_code) - in_file):
        rows.append(
            {"code": code, "status": "retired" if retire_missing else "kept", "changed": []}
        )
    return rows


@dataclass
class SpecialImportReport:
    """What an import of special grids found, and (when applied) what it wrote."""

    source: str
    dry_run: bool
    rows: list[dict]
    unmapped_kinds: dict[str, str] = field(default_factory=dict)
    repaired: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)  # code → new version (applied)

    @property
    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(("new", "changed", "unchanged", "retired", "kept"), 0)
        for r in self.rows:
            out[r["status"]] += 1
        return out

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "counts": self.counts,
            "special_grids": self.rows,
            "unmapped_kinds": self.unmapped_kinds,
            "repaired": self.repaired,
            "versions": self.versions,
        }


def _refuse(source: str, findings: list[topology.Finding], problems: list[str]) -> EditRefused:
    n = len(findings) + len(problems)
    listed = "; ".join(problems[:10] + [f"{f.type} {' '.join(f.codes)}" for f in findings[:10]])
    return EditRefused(
        f"{n} problem(s) in {source}; nothing was imported: {listed}. Fix the file "
        "(or import with --make-valid / make_valid=true for bad rings) and import it again",
        f"{source} 中有 {n} 处问题，未导入任何数据：{listed}。请修正文件"
        "（几何环错误可用 --make-valid / make_valid=true 修复）后重新导入",
        findings=topology.findings_to_geojson(findings[:500]),
        problems=problems[:500],
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


def batch_id(incoming: Incoming) -> str:
    """A short content hash naming one import in the audit log."""
    h = hashlib.sha256()
    for rec in incoming.frame.sort_values("code").itertuples():
        h.update("|".join(str(getattr(rec, f)) for f in ("code", *FIELDS)).encode())
        h.update(shapely.to_wkb(shapely.normalize(rec.geometry)))
    return h.hexdigest()[:16]


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
    """Check a special-grid file against the live map; write it only if ``apply``.

    Raises
    ------
    EditRefused
        Any invalid geometry, duplicate code, special grid outside the district or
        missing required value: the whole file is refused and nothing is written.
    """
    source = source or Path(path).name
    raw = read_boundary_file(path, layer=_special_layer(path, layer), encoding=encoding)
    incoming = normalise_special(raw, crs=crs, column_map=column_map, make_valid=make_valid)
    district = bstore.units_frame(conn, levels=("district",))
    if district.empty:
        raise InvalidInput("no district is live yet", "尚无现行的区县边界")
    units = district[["level", "code", "name", "parent_code", "geometry"]]
    file_codes = set(incoming.frame["code"])
    findings = [
        f
        for f in topology.validate_units(units, incoming.frame[["code", "name", "geometry"]])
        if f.severity == "error" and set(f.codes) & file_codes
    ]
    if findings or incoming.problems:
        raise _refuse(source, findings, incoming.problems)

    live = registers.special_grids_frame(conn)
    rows = diff_special(live, incoming, retire_missing=retire_missing)
    report = SpecialImportReport(
        source=source,
        dry_run=not apply,
        rows=rows,
        unmapped_kinds=incoming.unmapped_kinds,
        repaired=incoming.repaired,
    )
    if not apply:
        return report
    live_ids = dict(zip(live["code"], (int(i) for i in live["id"]), strict=True))
    by_code = {r.code: r for r in incoming.frame.itertuples()}
    live_by_code = {r.code: r for r in live.itertuples()}
    writes, expected = [], {}
    for r in rows:
        code = r["code"]
        if r["status"] in ("new", "changed"):
            rec = by_code[code]
            old = live_by_code.get(code)
            # A field the file has no column for keeps its live value.
            fields = {
                f: _text(
                    getattr(rec, f) if f in incoming.present or old is None else getattr(old, f)
                )
                for f in FIELDS
            }
            writes.append({"code": code, "fields": fields, "geometry": rec.geometry})
            expected[code] = live_ids.get(code)
        elif r["status"] == "retired":
            expected[code] = live_ids[code]
    retire = [r["code"] for r in rows if r["status"] == "retired"]
    report.versions = special_edits.save_many(
        conn,
        writes,
        retire=retire,
        expected=expected,
        author=author,
        reason=reason or f"imported from {source}",
        batch={"source": source, "batch": batch_id(incoming)},
    )
    report.dry_run = False
    return report
