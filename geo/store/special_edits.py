"""Create, change and delete special grids (schools, hospitals, parks …): versioned by
code like the comprehensive grids, under the same lock, If-Match and audit."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import shapely
from geoalchemy2 import functions as gf
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, func, insert, select, update

from geo.errors import Conflict, InvalidInput, NotFound, StaleVersion
from geo.store import audit
from geo.store.boundaries import NOTIFY_CHANNEL
from geo.store.db import ewkt
from geo.store.grid_edits import lock
from geo.store.models import SPECIAL_GRID_KINDS, AdminUnitVersion, SpecialGrid
from geo.topology import validate_units
from geo.topology.fixes import fix_make_valid
from geo.units import edits as pure

FIELDS = ("name", "kind", "responsible_unit", "contact_name", "contact_phone")
_S = SpecialGrid


@dataclass
class SpecialOutcome:
    action: str
    code: str
    dry_run: bool
    version: int | None


def _live(conn: Connection, code: str) -> dict | None:
    row = (
        conn.execute(
            select(
                _S.id,
                _S.code,
                *[getattr(_S, f) for f in FIELDS],
                gf.ST_AsBinary(_S.geom).label("wkb"),
            ).where(_S.code == code, _S.valid_to.is_(None))
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    out = {k: v for k, v in row.items() if k != "wkb"}
    out["geometry"] = shapely.from_wkb(bytes(row["wkb"]))
    return out


def live_special(conn: Connection, code: str) -> dict:
    row = _live(conn, code)
    if row is None:
        raise NotFound(f"no live special grid has code {code}", f"没有编码为 {code} 的现行专属网格")
    return row


def _district(conn: Connection) -> BaseGeometry:
    v = AdminUnitVersion
    wkb = conn.execute(
        select(gf.ST_AsBinary(func.ST_Union(v.geom))).where(
            v.level == "district", v.valid_from.is_not(None), v.valid_to.is_(None)
        )
    ).scalar()
    if wkb is None:
        raise InvalidInput("no district is live yet", "尚无现行的区县边界")
    return shapely.from_wkb(bytes(wkb))


def _check(conn: Connection, code: str, fields: dict, geom: BaseGeometry) -> None:
    if fields.get("kind") not in SPECIAL_GRID_KINDS:
        raise InvalidInput(
            f"kind must be one of {list(SPECIAL_GRID_KINDS)}",
            f"类型 kind 应为 {list(SPECIAL_GRID_KINDS)} 之一",
            field="kind",
        )
    for f in ("name", "responsible_unit"):
        if not (fields.get(f) or "").strip():
            raise InvalidInput(f"{f} is required", f"{f} 为必填项", field=f)
    if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
        raise InvalidInput(
            "geometry must be a Polygon or MultiPolygon", "几何必须为面", field="geometry"
        )
    district = _district(conn)
    units = gpd.GeoDataFrame(
        {"level": ["district"], "code": ["district"], "name": ["district"], "parent_code": [None]},
        geometry=[district],
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


def _insert(conn, code, fields, geom, at, author, reason) -> int:
    return conn.execute(
        insert(_S)
        .values(
            code=code,
            geom=ewkt(fix_make_valid(geom)),
            valid_from=at,
            author=author,
            reason=reason,
            **{f: fields.get(f) for f in FIELDS},
        )
        .returning(_S.id)
    ).scalar_one()


def _if_match(row: dict, expected: set[int]) -> None:
    if int(row["id"]) not in expected:
        raise StaleVersion(
            f"special grid {row['code']} changed (now version {row['id']}); reload and redo",
            f"专属网格 {row['code']} 已被修改（现为版本 {row['id']}）；请重新加载后再保存",
            current_versions={row["code"]: str(row["id"])},
        )


def save(
    conn: Connection,
    code: str,
    fields: dict,
    geom: BaseGeometry | None,
    *,
    if_match: set[int] | None,
    author: str,
    reason: str,
    dry_run: bool = False,
) -> SpecialOutcome:
    """Create (``if_match`` None) or replace a special grid; a change keeps what it
    does not name (geometry None: same shape)."""
    if not reason or not reason.strip():
        raise InvalidInput("say why (reason)", "请填写修改原因（reason）", field="reason")
    at = lock(conn)
    current = _live(conn, code)
    if if_match is None and current is not None:
        raise Conflict(
            f"special grid {code} exists already; change it with PUT and If-Match",
            f"专属网格 {code} 已存在；请用 PUT 并带 If-Match 修改",
        )
    if if_match is not None:
        if current is None:
            live_special(conn, code)
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
        conn.execute(update(_S).where(_S.id == current["id"]).values(valid_to=at))
    vid = _insert(conn, code, fields, geom, at, author, reason)
    audit.record(
        conn,
        actor=author,
        action=action,
        entity="special_grid",
        ref=code,
        reason=reason,
        detail={"version": vid, "replaced": current["id"] if current else None},
    )
    conn.execute(select(func.pg_notify(NOTIFY_CHANNEL, f"special-{vid}")))
    return SpecialOutcome(action, code, False, vid)


def delete(
    conn: Connection,
    code: str,
    *,
    if_match: set[int],
    author: str,
    reason: str,
    dry_run: bool = False,
) -> SpecialOutcome:
    """Close a special grid (it stays in the history)."""
    if not reason or not reason.strip():
        raise InvalidInput("say why (reason)", "请填写修改原因（reason）", field="reason")
    at = lock(conn)
    current = live_special(conn, code)
    _if_match(current, if_match)
    if not dry_run:
        conn.execute(update(_S).where(_S.id == current["id"]).values(valid_to=at))
        audit.record(
            conn,
            actor=author,
            action="special_grid.delete",
            entity="special_grid",
            ref=code,
            reason=reason,
            detail={"closed_version": current["id"]},
        )
        conn.execute(select(func.pg_notify(NOTIFY_CHANNEL, f"special-delete-{current['id']}")))
    return SpecialOutcome("special_grid.delete", code, dry_run, None)


def save_many(
    conn: Connection,
    rows: list[dict],
    *,
    retire: list[str],
    expected: dict[str, int | None],
    author: str,
    reason: str,
    batch: dict | None = None,
) -> dict[str, int]:
    """Write many special grids at once (an import): one lock, one transaction.

    ``rows`` are ``{"code", "fields", "geometry"}``: each closes the code's live
    version (if any) and inserts the new one; ``retire`` codes are closed. Every code
    must still be at the version the caller compared against (``expected``: code →
    live version id, None for a code that must not exist yet), else nothing is
    written (StaleVersion). Geometry is checked by the caller, for the whole file at
    once (:mod:`boundaries.special_import`); attributes are checked here again.

    One audit entry per code, with the same actions as single edits, so a special
    grid's history reads the same whether it was drawn or imported; ``batch`` (the
    file and its content hash) ties the entries of one import together.

    Returns
    -------
    dict
        code → id of the version inserted.
    """
    if not reason or not reason.strip():
        raise InvalidInput("say why (reason)", "请填写修改原因（reason）", field="reason")
    for row in rows:
        fields = row["fields"]
        if fields.get("kind") not in SPECIAL_GRID_KINDS:
            raise InvalidInput(
                f"{row['code']}: kind must be one of {list(SPECIAL_GRID_KINDS)}",
                f"{row['code']}：类型 kind 应为 {list(SPECIAL_GRID_KINDS)} 之一",
            )
        for f in ("name", "responsible_unit"):
            if not (fields.get(f) or "").strip():
                raise InvalidInput(
                    f"{row['code']}: {f} is required", f"{row['code']}：{f} 为必填项"
                )
    at = lock(conn)
    codes = [r["code"] for r in rows] + list(retire)
    live = dict(
        conn.execute(select(_S.code, _S.id).where(_S.code.in_(codes), _S.valid_to.is_(None))).all()
    )
    stale = {c: live.get(c) for c in codes if live.get(c) != expected.get(c)}
    if stale:
        raise StaleVersion(
            f"special grid(s) {', '.join(sorted(stale))} changed since the file was compared; "
            "run the import again",
            f"专属网格 {'、'.join(sorted(stale))} 在比对后已被修改；请重新导入",
            current_versions={c: str(v) if v else None for c, v in stale.items()},
        )
    closing = [live[c] for c in codes if c in live]
    if closing:
        conn.execute(update(_S).where(_S.id.in_(closing)).values(valid_to=at))
    extra = batch or {}
    versions: dict[str, int] = {}
    for row in rows:
        code, replaced = row["code"], live.get(row["code"])
        vid = _insert(conn, code, row["fields"], row["geometry"], at, author, reason)
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
    if versions or retire:
        last = max(versions.values(), default=0)
        conn.execute(select(func.pg_notify(NOTIFY_CHANNEL, f"special-import-{last}")))
    return versions
