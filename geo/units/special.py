"""Special grids from a file, compared with the live ones (pure).

:class:`Incoming` is a file's special grids normalised (by
:func:`boundaries.special_import.read_special_file`); :func:`diff_special` says per
code whether the file brings a ``new``, ``changed`` or ``unchanged`` special grid, and
:class:`SpecialImportReport` is what an import reports (and, applied, wrote).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import topology
from geo.errors import EditRefused
from geo.topology.fixes import fix_make_valid

FIELDS = ("name", "kind", "responsible_unit", "contact_name", "contact_phone")
# 1e-9° is ~0.1 mm, the tolerance publishing uses for boundaries (geo.units.diff).
SAME_GEOMETRY_DEG = 1e-9


def cell_text(value: Any) -> str | None:
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
        changed = [
            f for f in incoming.present if cell_text(getattr(old, f)) != cell_text(getattr(rec, f))
        ]
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


def refuse_file(source: str, findings: list[topology.Finding], problems: list[str]) -> EditRefused:
    """The refusal of a whole file, with every finding and problem."""
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


def batch_id(incoming: Incoming) -> str:
    """A short content hash naming one import in the audit log."""
    h = hashlib.sha256()
    for rec in incoming.frame.sort_values("code").itertuples():
        h.update("|".join(str(getattr(rec, f)) for f in ("code", *FIELDS)).encode())
        h.update(shapely.to_wkb(shapely.normalize(rec.geometry)))
    return h.hexdigest()[:16]


def writes_for(
    rows: list[dict], incoming: Incoming, live: gpd.GeoDataFrame
) -> tuple[list[dict], dict[str, int | None], list[str]]:
    """What applying the diff writes: rows ``{"code", "fields", "geometry"}``, the
    version each code must still be at (None: must not exist yet), the codes retired."""
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
                f: cell_text(
                    getattr(rec, f) if f in incoming.present or old is None else getattr(old, f)
                )
                for f in FIELDS
            }
            writes.append({"code": code, "fields": fields, "geometry": rec.geometry})
            expected[code] = live_ids.get(code)
        elif r["status"] == "retired":
            expected[code] = live_ids[code]
    retire = [r["code"] for r in rows if r["status"] == "retired"]
    return writes, expected, retire
