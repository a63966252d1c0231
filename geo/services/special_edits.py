"""Create, change, delete and import special grids (schools, hospitals, parks …), as use
cases: versioned by code like the comprehensive grids, under the same lock, If-Match
and audit, one transaction each.

:func:`create`, :func:`change`, :func:`close` and :func:`import_special_grids` own
their transaction; :func:`save`, :func:`delete` and :func:`save_many` are the steps,
running in the transaction given. The SQL is :mod:`geo.store.special_edits`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
from shapely.geometry.base import BaseGeometry

from geo import topology
from geo.errors import Conflict, InvalidInput, StaleVersion
from geo.plausible import require_code, require_text
from geo.services import policy
from geo.services.policy import Principal
from geo.store import audit, registers
from geo.store import boundaries as bstore
from geo.store import special_edits as store
from geo.store.db import Connection, Engine
from geo.store.special_edits import FIELDS, live_special
from geo.topology import validate_units
from geo.topology.fixes import fix_make_valid
from geo.units import edits as pure
from geo.units.special import (
    Incoming,
    SpecialImportReport,
    batch_id,
    diff_special,
    refuse_file,
    writes_for,
)
from geo.vocab import SPECIAL_GRID_KINDS

__all__ = [
    "FIELDS",
    "SpecialOutcome",
    "change",
    "close",
    "create",
    "delete",
    "import_special_grids",
    "live_special",
    "save",
    "save_many",
    "special_grid",
]


@dataclass
class SpecialOutcome:
    action: str
    code: str
    dry_run: bool
    version: int | None


# -- use cases (one transaction each) ---------------------------------------------------


def special_grid(engine: Engine, code: str) -> dict[str, Any]:
    """The live special grid ``code`` (id = its version, the FIELDS, geometry)."""
    with engine.connect() as conn:
        return live_special(conn, code)


def create(
    engine: Engine,
    code: str,
    fields: Mapping[str, Any],
    geom: BaseGeometry,
    *,
    who: Principal,
    author: str | None,
    reason: str,
    dry_run: bool = False,
) -> SpecialOutcome:
    """Draw a new special grid (it must lie inside the district, and inside the units
    ``who`` covers). ``author`` is the client's "on behalf of" name."""
    require_code(code)  # it goes into URLs
    with engine.begin() as conn:
        policy.require_area(conn, who, geom, code)
        return save(
            conn,
            code,
            fields,
            geom,
            if_match=None,
            author=policy.actor_of(who, author),
            reason=reason,
            dry_run=dry_run,
        )


def change(
    engine: Engine,
    code: str,
    fields: Mapping[str, Any],
    geom: BaseGeometry | None,
    *,
    who: Principal,
    if_match: set[int] | None,
    author: str | None,
    reason: str,
    dry_run: bool = False,
) -> SpecialOutcome:
    """Change a special grid's shape and/or attributes (those left None stay).
    ``if_match`` None: whatever version is live (unconditional OGC writes). Both the
    old and the new shape must lie inside the units ``who`` covers."""
    with engine.begin() as conn:
        policy.require_scope(who)
        if not policy.district_wide(who):
            policy.require_area(conn, who, live_special(conn, code)["geometry"], code)
            policy.require_area(conn, who, geom, code)
        if if_match is None:
            if_match = {int(live_special(conn, code)["id"])}
        return save(
            conn,
            code,
            fields,
            geom,
            if_match=if_match,
            author=policy.actor_of(who, author),
            reason=reason,
            dry_run=dry_run,
        )


def close(
    engine: Engine,
    code: str,
    *,
    who: Principal,
    if_match: set[int] | None,
    author: str | None,
    reason: str,
    dry_run: bool = False,
) -> SpecialOutcome:
    """Close a special grid (it stays in the history). ``if_match`` None: whatever
    version is live."""
    with engine.begin() as conn:
        policy.require_scope(who)
        if not policy.district_wide(who):
            policy.require_area(conn, who, live_special(conn, code)["geometry"], code)
        if if_match is None:
            if_match = {int(live_special(conn, code)["id"])}
        return delete(
            conn,
            code,
            if_match=if_match,
            author=policy.actor_of(who, author),
            reason=reason,
            dry_run=dry_run,
        )


def import_special_grids(
    engine: Engine,
    incoming: Incoming,
    *,
    who: Principal,
    source: str,
    retire_missing: bool = False,
    apply: bool = False,
    author: str | None,
    reason: str | None = None,
) -> SpecialImportReport:
    """Check a special-grid file against the live map; write it only if ``apply``
    (a district-wide write: ``who`` needs a key without unit limits)."""
    policy.require_district_wide(who, "a special-grid import", "专属网格导入")
    with engine.begin() as conn:
        return compare_and_apply(
            conn,
            incoming,
            source=source,
            retire_missing=retire_missing,
            apply=apply,
            author=policy.actor_of(who, author),
            reason=reason,
        )


# -- steps (in the caller's transaction) -------------------------------------------------


def _require_reason(reason: str) -> None:
    if not reason or not reason.strip():
        raise InvalidInput("say why (reason)", "请填写修改原因（reason）", field="reason")


def _check_attributes(fields: Mapping[str, Any], label: str | None = None) -> None:
    """A known kind, a name and a responsible unit (``label``: the code, in messages
    about one row of many; then no ``field``)."""
    many = label is not None
    where, where_zh = (f"{label}: ", f"{label}：") if many else ("", "")
    if fields.get("kind") not in SPECIAL_GRID_KINDS:
        raise InvalidInput(
            f"{where}kind must be one of {list(SPECIAL_GRID_KINDS)}",
            f"{where_zh}类型 kind 应为 {list(SPECIAL_GRID_KINDS)} 之一",
            **({} if many else {"field": "kind"}),
        )
    for f in ("name", "responsible_unit"):
        if not (fields.get(f) or "").strip():
            raise InvalidInput(
                f"{where}{f} is required",
                f"{where_zh}{f} 为必填项",
                **({} if many else {"field": f}),
            )
    for f, longest in (("name", 200), ("responsible_unit", 200), ("contact_name", 100)):
        require_text(fields.get(f), f, longest, (where, where_zh), named=not many)


def _check(conn: Connection, code: str, fields: Mapping[str, Any], geom: BaseGeometry) -> None:
    """Attributes present, geometry a polygon inside the live district."""
    _check_attributes(fields)
    if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
        raise InvalidInput(
            "geometry must be a Polygon or MultiPolygon", "几何必须为面", field="geometry"
        )
    units = gpd.GeoDataFrame(
        {"level": ["district"], "code": ["district"], "name": ["district"], "parent_code": [None]},
        geometry=[store.district(conn)],
        crs=4326,
    )
    special = gpd.GeoDataFrame(
        {"code": [code], "name": [fields["name"]]}, geometry=[geom], crs=4326
    )
    errors = [
        f for f in validate_units(units, special) if f.severity == "error" and code in f.codes
    ]
    if errors:
        raise pure.refuse(
            f"special grid {code} is invalid or lies outside the district; see the findings",
            f"专属网格 {code} 几何无效或超出本区范围；详见问题列表",
            errors,
        )


def _if_match(row: Mapping[str, Any], expected: set[int]) -> None:
    if int(row["id"]) not in expected:
        raise StaleVersion(
            f"special grid {row['code']} changed (now version {row['id']}); reload and redo",
            f"专属网格 {row['code']} 已被修改（现为版本 {row['id']}）；请重新加载后再保存",
            current_versions={row["code"]: str(row["id"])},
        )


def save(
    conn: Connection,
    code: str,
    fields: Mapping[str, Any],
    geom: BaseGeometry | None,
    *,
    if_match: set[int] | None,
    author: audit.Who,
    reason: str,
    dry_run: bool = False,
) -> SpecialOutcome:
    """Create (``if_match`` None) or replace a special grid; a change keeps what it
    does not name (geometry None: same shape)."""
    _require_reason(reason)
    at = bstore.lock_map(conn)
    current = store.find_live(conn, code)
    if if_match is None and current is not None:
        raise Conflict(
            f"special grid {code} exists already; change it with PUT and If-Match",
            f"专属网格 {code} 已存在；请用 PUT 并带 If-Match 修改",
        )
    if if_match is not None:
        if current is None:
            current = live_special(conn, code)  # NotFound
        _if_match(current, if_match)
        fields = {
            **{f: current[f] for f in FIELDS},
            **{k: v for k, v in fields.items() if v is not None},
        }
        geom = geom if geom is not None else current["geometry"]
    _check(conn, code, fields, geom)
    action = "special_grid.create" if current is None else "special_grid.update"
    if dry_run:
        return SpecialOutcome(action, code, True, None)
    if current is not None:
        store.close(conn, [current["id"]], at)
    vid = store.insert_version(
        conn, code, fields, fix_make_valid(geom), at=at, author=audit.shown(author), reason=reason
    )
    audit.record(
        conn,
        actor=author,
        action=action,
        entity="special_grid",
        ref=code,
        reason=reason,
        detail={"version": vid, "replaced": current["id"] if current else None},
    )
    bstore.announce(conn, f"special-{vid}")
    return SpecialOutcome(action, code, False, vid)


def delete(
    conn: Connection,
    code: str,
    *,
    if_match: set[int],
    author: audit.Who,
    reason: str,
    dry_run: bool = False,
) -> SpecialOutcome:
    """Close a special grid (it stays in the history)."""
    _require_reason(reason)
    at = bstore.lock_map(conn)
    current = live_special(conn, code)
    _if_match(current, if_match)
    if not dry_run:
        store.close(conn, [current["id"]], at)
        audit.record(
            conn,
            actor=author,
            action="special_grid.delete",
            entity="special_grid",
            ref=code,
            reason=reason,
            detail={"closed_version": current["id"]},
        )
        bstore.announce(conn, f"special-delete-{current['id']}")
    return SpecialOutcome("special_grid.delete", code, dry_run, None)


def save_many(
    conn: Connection,
    rows: list[dict[str, Any]],
    *,
    retire: list[str],
    expected: Mapping[str, int | None],
    author: audit.Who,
    reason: str,
    batch: dict[str, Any] | None = None,
) -> dict[str, int]:
    """Write many special grids at once (an import): one lock, one transaction.

    ``rows`` are ``{"code", "fields", "geometry"}``: each closes the code's live
    version (if any) and inserts the new one; ``retire`` codes are closed. Every code
    must still be at the version the caller compared against (``expected``: code →
    live version id, None for a code that must not exist yet), else nothing is
    written (StaleVersion). Geometry is checked by the caller, for the whole file at
    once (:func:`compare_and_apply`); attributes are checked here again.

    One audit entry per code, with the same actions as single edits, so a special
    grid's history reads the same whether it was drawn or imported; ``batch`` (the
    file and its content hash) ties the entries of one import together.

    Returns
    -------
    dict
        code → id of the version inserted.
    """
    _require_reason(reason)
    for row in rows:
        _check_attributes(row["fields"], row["code"])
        if row["code"] in expected and expected[row["code"]] is None:  # a new code
            require_code(str(row["code"]), "special grid code")
    at = bstore.lock_map(conn)
    codes = [r["code"] for r in rows] + list(retire)
    live = _still_as_compared(conn, codes, expected)
    closing = [live[c] for c in codes if c in live]
    if closing:
        store.close(conn, closing, at)
    extra = batch or {}
    versions: dict[str, int] = {}
    for row in rows:
        code, replaced = row["code"], live.get(row["code"])
        vid = store.insert_version(
            conn,
            code,
            row["fields"],
            fix_make_valid(row["geometry"]),
            at=at,
            author=audit.shown(author),
            reason=reason,
        )
        versions[code] = vid
        audit.record(
            conn,
            actor=author,
            action="special_grid.update" if replaced else "special_grid.create",
            entity="special_grid",
            ref=code,
            reason=reason,
            detail={"version": vid, "replaced": replaced, **extra},
        )
    _audit_retired(conn, retire, live, author=author, reason=reason, extra=extra)
    if versions or retire:
        bstore.announce(conn, f"special-import-{max(versions.values(), default=0)}")
    return versions


def _still_as_compared(
    conn: Connection, codes: list[str], expected: Mapping[str, int | None]
) -> dict[str, int]:
    """code → live version id; StaleVersion if any differs from what was compared."""
    live = store.live_ids(conn, codes)
    stale = {c: live.get(c) for c in codes if live.get(c) != expected.get(c)}
    if stale:
        raise StaleVersion(
            f"special grid(s) {', '.join(sorted(stale))} changed since the file was compared; "
            "run the import again",
            f"专属网格 {'、'.join(sorted(stale))} 在比对后已被修改；请重新导入",
            current_versions={c: str(v) if v else None for c, v in stale.items()},
        )
    return live


def _audit_retired(
    conn: Connection,
    retire: list[str],
    live: Mapping[str, int],
    *,
    author: audit.Who,
    reason: str,
    extra: Mapping[str, Any],
) -> None:
    for code in retire:
        audit.record(
            conn,
            actor=author,
            action="special_grid.delete",
            entity="special_grid",
            ref=code,
            reason=reason,
            detail={"closed_version": live[code], **extra},
        )


def compare_and_apply(
    conn: Connection,
    incoming: Incoming,
    *,
    source: str,
    retire_missing: bool = False,
    apply: bool = False,
    author: audit.Who,
    reason: str | None = None,
) -> SpecialImportReport:
    """Check a special-grid file against the live map; write it only if ``apply``.

    Raises
    ------
    EditRefused
        Any invalid geometry, duplicate code, special grid outside the district or
        missing required value: the whole file is refused and nothing is written.
    """
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
        raise refuse_file(source, findings, incoming.problems)
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
    writes, expected, retire = writes_for(rows, incoming, live)
    report.versions = save_many(
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
