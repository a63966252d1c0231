"""Compounds (小区、楼院) from a ledger: a record and a report per row, coordinates in
any of the four CRS converted to WGS-84, and how a parsed row compares with what the
register holds (new, changed or unchanged; the campaign record kept or replaced)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import shapely

from geo.crs import UnknownCRSError, parse_crs, to_wgs84
from geo.gazetteer.text import normalise
from geo.registers.cells import (
    CRS_CODES,
    MANAGEMENT_CODES,
    campaign_cells,
    clean_text,
    float_cell,
    int_cell,
    label_cell,
    year_cell,
)
from geo.registers.fields import CAMPAIGN_FIELDS
from geo.registers.records import CompoundRecord, LedgerTable, RowError, RowReport

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry


def compound_key(name: str, address: str | None) -> str:
    """Stable key of a ledger compound with no 编号: spelling variants share it."""
    basis = f"{normalise(name)}|{normalise(address or '')}"
    return "ledger:" + hashlib.sha1(basis.encode()).hexdigest()[:16]


def parse_compounds(
    table: LedgerTable,
    *,
    default_crs: str | None = None,
    default_management: str | None = None,
    district: BaseGeometry | None = None,
) -> tuple[list[CompoundRecord], list[RowReport]]:
    """Records of the importable rows and a report for every row.

    Coordinates are converted to WGS-84 from the row's 坐标系 (else ``default_crs``);
    points outside ``district`` (a WGS-84 shapely geometry) are fatal, as swapped
    lon/lat or a wrong CRS usually are. Rows without coordinates come back with
    ``lon = None`` for :func:`locate`.
    """
    records: list[CompoundRecord] = []
    reports: list[RowReport] = []
    seen: dict[str, int] = {}
    has_campaign = any(f in table.columns for f in CAMPAIGN_FIELDS)
    for raw, n in zip(table.rows, table.row_numbers, strict=True):
        name = clean_text(raw.get("name"))
        others = [k for k, v in raw.items() if k not in ("name", "key") and clean_text(v)]
        if not name and not others:
            continue  # a footnote in the first column (制表人：…)
        try:
            if not name:
                raise RowError("the compound has no name", "缺少小区名称")
            address = clean_text(raw.get("address")) or None
            key = clean_text(raw.get("key")) or compound_key(name, address)
            management = (
                label_cell(
                    raw.get("management_type"), MANAGEMENT_CODES, "management type", "物业类型"
                )
                or default_management
            )
            if management is None:
                raise RowError("management type missing", "缺少物业类型/管理方式")
            rec = CompoundRecord(
                row=n,
                key=key,
                name=name,
                address=address,
                households=int_cell(raw.get("households"), "households", "户数"),
                buildings=int_cell(raw.get("buildings"), "buildings", "楼栋数"),
                year_built=year_cell(raw.get("year_built")),
                management_type=management,
            )
            if has_campaign and management == "unowned":
                rec.campaign = campaign_cells(raw)
            _coordinates(rec, raw, default_crs, district)
        except RowError as exc:
            reports.append(RowReport(n, "fatal", None, name or None, str(exc), exc.message_zh))
            continue
        if key in seen:
            reports.append(
                RowReport(
                    n,
                    "duplicate",
                    key,
                    name,
                    f"same compound as row {seen[key]}; skipped",
                    f"与第 {seen[key]} 行为同一小区，已跳过",
                )
            )
            continue
        seen[key] = n
        records.append(rec)
        reports.append(RowReport(n, "ok", key, name))
    return records, reports


def _coordinates(rec: CompoundRecord, raw: dict, default_crs, district) -> None:
    lon, lat = float_cell(raw.get("lon")), float_cell(raw.get("lat"))
    if lon is None and lat is None:
        return
    if lon is None or lat is None:
        raise RowError("only one of lon/lat given", "经度、纬度只填了一个")
    crs_text = clean_text(raw.get("crs")) or default_crs
    if not crs_text:
        raise RowError(
            "coordinates without a CRS: add a 坐标系 column (wgs84, gcj02, bd09, cgcs2000)",
            "坐标未注明坐标系：请增加“坐标系”列（wgs84、gcj02、bd09、cgcs2000）",
        )
    try:
        crs = CRS_CODES.get(normalise(crs_text)) or parse_crs(crs_text).value
    except UnknownCRSError:
        raise RowError(
            f"unknown CRS {crs_text!r}; use wgs84, gcj02, bd09 or cgcs2000",
            f"未知坐标系“{crs_text}”；可用 wgs84、gcj02、bd09、cgcs2000",
        ) from None
    x, y = (float(v) for v in to_wgs84(lon, lat, crs))
    if district is not None and not shapely.covers(district, shapely.Point(x, y)):
        raise RowError(
            f"({lon}, {lat}) in {crs} lies outside the district: check the lon/lat order "
            "and the CRS",
            f"坐标 ({lon}, {lat})（{crs}）不在本区内：请检查经纬度顺序和坐标系",
        )
    rec.lon, rec.lat, rec.crs_in, rec.located_by = x, y, crs, "coordinates"


# --- compared with the register ----------------------------------------------------

#: The register's fields a ledger row states, and the campaign record's.
REGISTER_FIELDS = ("name", "address", "households", "buildings", "year_built", "management_type")
GOVERNANCE_FIELDS = ("issues", "mode", "committee_formed", "works", "struck_off_on", "verified_by")
EMPTY_GOVERNANCE: dict[str, Any] = {
    "issues": [],
    "mode": None,
    "committee_formed": False,
    "works": [],
    "struck_off_on": None,
    "verified_by": None,
}
# Two points closer than this (degrees, ~1 mm) are the same location.
SAME_POINT_DEG = 1e-8


def keep_stored_locations(
    records: list[CompoundRecord], stored: dict[str, dict], by_row: dict[int, RowReport]
) -> list[CompoundRecord]:
    """Rows without coordinates, or at the stored point, keep the stored shape and how it
    was located (address, by hand, map); returns the new rows left to locate.

    ``stored`` is key → the register's compound (``geom`` a shapely geometry)."""
    to_locate = []
    for rec in records:
        old = stored.get(rec.key)
        if old is None:
            if rec.lon is None:
                to_locate.append(rec)
            continue
        point = shapely.point_on_surface(old["geom"])
        same = rec.lon is not None and (
            abs(point.x - rec.lon) < SAME_POINT_DEG and abs(point.y - rec.lat) < SAME_POINT_DEG
        )
        if rec.lon is None or same:
            # Keep the stored shape and how it was located (address, by hand, map).
            if rec.lon is None:
                by_row[rec.row].reason = "no coordinates: the stored location is kept"
                by_row[rec.row].reason_zh = "未填坐标：保留已有位置"
            rec.lon, rec.lat = None, None
            rec.located_by, rec.crs_in = old["located_by"], old["crs_in"]
            rec.match_score, rec.matched = old["match_score"], old["matched"]
    return to_locate


def plan_writes(
    records: list[CompoundRecord],
    stored: dict[str, dict],
    unplaced_keys: set[str],
    stored_unplaced: dict[str, dict],
    by_row: dict[int, RowReport],
) -> list[tuple[str, CompoundRecord, dict | None]]:
    """Per record: ``("unplaced" | "compound", record, stored compound or None)``, and
    each row's action (new, changed, unchanged) set on its report."""
    plan: list[tuple[str, CompoundRecord, dict | None]] = []
    for rec in records:
        report = by_row[rec.row]
        old = stored.get(rec.key)
        if rec.key in unplaced_keys:
            before = stored_unplaced.get(rec.key)
            report.action = "new" if before is None else same_or_changed(before, rec.as_json())
            plan.append(("unplaced", rec, old))
            continue
        if old is None:
            report.action = "new"
        else:
            report.action = "unchanged" if unchanged(rec, old) else "changed"
        plan.append(("compound", rec, old))
    return plan


def location_of(d: dict) -> tuple:
    """How a compound was located: (located_by, crs_in, match_score, matched)."""
    return (d.get("located_by"), d.get("crs_in"), d.get("match_score"), d.get("matched"))


def same_or_changed(before: dict, after: dict) -> str:
    return "unchanged" if before == after else "changed"


def governance_to_store(rec: CompoundRecord, old: dict | None) -> dict | None:
    """The campaign record to store, or None to leave it as it is."""
    if rec.campaign is None:
        return None
    if (old is None or old.get("gov_id") is None) and rec.campaign == EMPTY_GOVERNANCE:
        return None
    return rec.campaign


def status_to_store(rec: CompoundRecord, old: dict | None) -> str:
    """The governance status to write on the compound."""
    if (
        old is not None
        and rec.management_type == old["management_type"] == "unowned"
        and governance_to_store(rec, old) is None
    ):
        return old["governance_status"]  # the ledger says nothing new about the campaign
    return rec.governance_status


def unchanged(rec: CompoundRecord, old: dict) -> bool:
    """The row states what the register holds (``old``: the stored compound)."""
    if any(getattr(rec, f) != old[f] for f in REGISTER_FIELDS):
        return False
    if status_to_store(rec, old) != old["governance_status"]:
        return False
    if rec.lon is not None:
        return False  # a new point (same points were turned into None above)
    if location_of(rec.__dict__) != location_of(old):
        return False
    gov = governance_to_store(rec, old)
    return gov is None or gov == {f: old[f] for f in GOVERNANCE_FIELDS}
