"""Grid edits in PostGIS: each one locked, checked against If-Match, validated, applied
as new versions of every unit it touches, audited and announced — in the caller's
transaction, so it lands whole or not at all.

Edits and publications share one advisory lock: two planners saving the same border
at once are serialised, and the second finds that the version it named (If-Match) is
no longer live, so it gets 412 and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import geopandas as gpd
import pandas as pd
import shapely
from geoalchemy2 import functions as gf
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, func, insert, select, update

from geo.errors import InvalidInput, NotFound, StaleVersion
from geo.store import audit, registers
from geo.store.boundaries import _ACTIVATION_LOCK, NOTIFY_CHANNEL, units_frame
from geo.store.db import ewkt
from geo.store.edit_impact import impact_of
from geo.store.models import AdminUnit, AdminUnitVersion, BoundarySet
from geo.units import edits as pure
from geo.units.codes import allocate_grid_numbers


@dataclass
class EditOutcome:
    action: str
    dry_run: bool
    versions: dict[str, int]  # code → new live version id (ETag); empty on dry runs
    retired: list[str]
    created: list[str]
    impact: dict
    at: datetime | None = None
    notes: list[str] = field(default_factory=list)


def lock(conn: Connection) -> datetime:
    """Take the edit lock; the time returned is after every earlier edit's."""
    conn.execute(select(func.pg_advisory_xact_lock(_ACTIVATION_LOCK)))
    return conn.execute(select(func.clock_timestamp())).scalar_one()


def live_row(live: gpd.GeoDataFrame, code: str, level: str | None = None) -> pd.Series:
    rows = live[live["code"] == code]
    if level:
        rows = rows[rows["level"] == level]
    if rows.empty:
        what = level or "unit"
        raise NotFound(f"no live {what} has code {code}", f"没有编码为 {code} 的现行单元")
    return rows.iloc[0]


def check_if_match(live: gpd.GeoDataFrame, expected: dict[str, int | set[int]]) -> None:
    """Every named unit must still be at the version the caller saw (one version id, or
    a set of ids — the ETags of an If-Match list — of which one must be its live one)."""
    stale = {}
    for code, version in expected.items():
        current = int(live_row(live, code)["version_id"])
        allowed = version if isinstance(version, set) else {int(version)}
        if current not in allowed:
            stale[code] = current
    if stale:
        raise StaleVersion(
            "someone else changed "
            + ", ".join(f"{c} (now version {v})" for c, v in stale.items())
            + " since you loaded it; reload, redo your edit and save again",
            "以下单元已被他人修改："
            + "、".join(f"{c}（现为版本 {v}）" for c, v in stale.items())
            + "；请重新加载后再编辑保存",
            current_versions={c: str(v) for c, v in stale.items()},
        )


def _children(live: gpd.GeoDataFrame, parent_code: str) -> gpd.GeoDataFrame:
    return live[live["parent_code"] == parent_code]


def _after_frame(
    live: gpd.GeoDataFrame, result: pure.EditResult, parents: dict
) -> gpd.GeoDataFrame:
    """The live map as it would be after the edit."""
    after = live.copy()
    for code, geom in result.geometries.items():
        after.loc[after["code"] == code, "geometry"] = geom
    for code, name in result.renamed.items():
        after.loc[after["code"] == code, "name"] = name
    for old, (new_code, new_parent) in result.moved.items():
        idx = after["code"] == old
        after.loc[idx, "code"] = new_code
        after.loc[idx, "parent_code"] = new_parent
        after.loc[after["parent_code"] == old, "parent_code"] = new_code
    after = after[~after["code"].isin(result.retired)]
    if result.created:
        rows = [
            {
                "unit_id": None,
                "version_id": None,
                "level": "grid",
                "code": code,
                "name": parents[code][1],
                "parent_unit_id": None,
                "parent_code": parents[code][0],
                "geometry": geom,
            }
            for code, geom in result.created.items()
        ]
        after = pd.concat([after, gpd.GeoDataFrame(rows, crs=live.crs)], ignore_index=True)
    return gpd.GeoDataFrame(after, geometry="geometry", crs=live.crs)


def _invariant_scope(after: gpd.GeoDataFrame, touched: set[str]) -> gpd.GeoDataFrame:
    """The touched units and their parents, each with everything below it: a parent is
    checked against all of its children or not at all."""
    parents = set(after.loc[after["code"].isin(touched), "parent_code"].dropna())
    scope = touched | parents
    frontier = scope
    while frontier:
        frontier = set(after.loc[after["parent_code"].isin(frontier), "code"]) - scope
        scope |= frontier
    return after[after["code"].isin(scope)]


def _used_grid_codes(conn: Connection, community_code: str) -> set[str]:
    """Every grid code this community ever used: a retired number is never reissued."""
    v = AdminUnitVersion
    rows = conn.execute(
        select(v.code).where(v.level == "grid", v.code.startswith(community_code)).distinct()
    )
    return {r[0] for r in rows}


def _apply(
    conn: Connection,
    live: gpd.GeoDataFrame,
    result: pure.EditResult,
    names: dict[str, tuple[str, str]],
    *,
    at: datetime,
    action: str,
    author: str,
    reason: str,
) -> dict[str, int]:
    """Close the touched units' live versions and insert their new ones."""
    v = AdminUnitVersion
    touched = set(result.geometries) | set(result.moved) | set(result.retired) | set(result.renamed)
    set_id = conn.execute(
        insert(BoundarySet)
        .values(
            name=f"{action} {', '.join(sorted(touched | set(result.created)))}"[:200],
            status="active",
            source="edit",
            author=author,
            note=reason,
            activated_at=at,
        )
        .returning(BoundarySet.id)
    ).scalar_one()
    old_ids = [int(live_row(live, c)["version_id"]) for c in sorted(touched)]
    conn.execute(update(v).where(v.id.in_(old_ids)).values(valid_to=at))
    unit_of = dict(zip(live["code"], live["unit_id"], strict=True))
    rows = []
    for code in sorted(set(result.geometries) | set(result.moved) | set(result.renamed)):
        if code in result.retired:
            continue
        row = live_row(live, code)
        new_code, new_parent = result.moved.get(code, (code, row["parent_code"]))
        rows.append(
            {
                "unit_id": int(row["unit_id"]),
                "level": row["level"],
                "code": new_code,
                "name": result.renamed.get(code, row["name"]),
                "parent_unit_id": unit_of.get(new_parent),
                "geom": result.geometries.get(code, row["geometry"]),
                "old_code": code,
            }
        )
    for code, geom in result.created.items():
        parent_code, name = names[code]
        uid = conn.execute(
            insert(AdminUnit).values(level="grid").returning(AdminUnit.id)
        ).scalar_one()
        rows.append(
            {
                "unit_id": uid,
                "level": "grid",
                "code": code,
                "name": name,
                "parent_unit_id": unit_of[parent_code],
                "geom": geom,
                "old_code": code,
            }
        )
    versions = {}
    for r in rows:
        versions[r["code"]] = conn.execute(
            insert(v)
            .values(
                unit_id=r["unit_id"],
                boundary_set_id=set_id,
                level=r["level"],
                code=r["code"],
                name=r["name"],
                parent_unit_id=r["parent_unit_id"],
                geom=ewkt(r["geom"]),
                valid_from=at,
                author=author,
                reason=reason,
                attrs={"edit": action, "previous_code": r["old_code"]}
                if r["old_code"] != r["code"]
                else {"edit": action},
            )
            .returning(v.id)
        ).scalar_one()
    audit.record(
        conn,
        actor=author,
        action=f"grid.{action}",
        entity="grid",
        ref=",".join(sorted(touched | set(result.created))),
        reason=reason,
        detail={
            "boundary_set_id": set_id,
            "versions": versions,
            "replaced_versions": old_ids,
            "retired": result.retired,
            "moved": {k: list(val) for k, val in result.moved.items()},
        },
    )
    # A compound's grid follows from its location: recompute in the same transaction.
    registers.set_compound_grids(conn, None)
    conn.execute(select(func.pg_notify(NOTIFY_CHANNEL, f"edit-{set_id}")))
    return versions


def run_edit(
    conn: Connection,
    action: str,
    compute,
    *,
    if_match: dict[str, int],
    author: str,
    reason: str,
    dry_run: bool,
) -> EditOutcome:
    """Lock, check versions, compute (``compute(conn, live) -> (result, names)``),
    check the partition invariant, measure the impact, and write unless dry run."""
    if not reason or not reason.strip():
        raise InvalidInput(
            "say why (reason): the history keeps it for whoever looks later",
            "请填写修改原因（reason），它会保存在历史记录中",
        )
    at = lock(conn)
    live = units_frame(conn)
    check_if_match(live, if_match)
    result, names = compute(conn, live)
    after = _after_frame(live, result, names)
    touched = (
        set(result.geometries) | set(result.created) | {new for new, _p in result.moved.values()}
    )
    errors = pure.partition_errors(_invariant_scope(after, touched))
    if errors:
        raise pure.refuse(
            "the edit would break the grid partition (gaps, overlaps or units outside "
            "their parent); see the findings",
            "该修改会破坏网格划分（出现空白、重叠或超出上级范围）；详见问题列表",
            errors,
        )
    impact = impact_of(conn, live, after, touched | set(result.retired) | set(result.moved))
    outcome = EditOutcome(
        action=action,
        dry_run=dry_run,
        versions={},
        retired=list(result.retired),
        created=list(result.created),
        impact=impact,
        notes=result.notes,
    )
    if not dry_run:
        outcome.versions = _apply(
            conn, live, result, names, at=at, action=action, author=author, reason=reason
        )
        outcome.at = at
    return outcome


# -- the operations -------------------------------------------------------------------


def reshape(conn, code: str, geom: BaseGeometry, *, mode: str, **kw) -> EditOutcome:
    def compute(_conn, live):
        row = live_row(live, code, "grid")
        sib = _children(live, row["parent_code"])
        parent = live_row(live, row["parent_code"])["geometry"]
        siblings = dict(zip(sib["code"], sib.geometry, strict=True))
        return pure.reshape(code, geom, siblings, parent, mode=mode), {}

    return run_edit(conn, "reshape", compute, **kw)


def move_border(conn, code_a: str, code_b: str, line: BaseGeometry, **kw) -> EditOutcome:
    def compute(_conn, live):
        a, b = live_row(live, code_a, "grid"), live_row(live, code_b, "grid")
        if a["parent_code"] != b["parent_code"]:
            raise InvalidInput(
                f"{code_a} and {code_b} belong to different communities; move the grid "
                "to the other community first",
                f"{code_a} 与 {code_b} 属于不同社区；请先把网格移入同一社区",
            )
        return pure.move_border(code_a, a["geometry"], code_b, b["geometry"], line), {}

    return run_edit(conn, "move_border", compute, **kw)


def split(conn, code: str, line: BaseGeometry, *, new_name: str | None = None, **kw) -> EditOutcome:
    def compute(conn_, live):
        row = live_row(live, code, "grid")
        community = row["parent_code"]
        used = _used_grid_codes(conn_, community) | set(live["code"])
        # Allocate on a provisional cut: the number depends only on what is used.
        width = len(code) - len(community)
        new_code = allocate_grid_numbers(community, used, [row["geometry"]], width=width)[0]
        result = pure.split(code, row["geometry"], line, new_code)
        name = new_name or f"{row['name']}（分）"
        return result, {new_code: (community, name)}

    return run_edit(conn, "split", compute, **kw)


def merge(conn, codes: list[str], *, keep: str | None = None, **kw) -> EditOutcome:
    keep = keep or sorted(codes)[0]

    def compute(_conn, live):
        rows = [live_row(live, c, "grid") for c in codes]
        if len({r["parent_code"] for r in rows}) != 1:
            raise InvalidInput(
                "only grids of one community can be merged; move one first",
                "只能合并同一社区的网格；请先移动网格",
            )
        return pure.merge({r["code"]: r["geometry"] for r in rows}, keep), {}

    return run_edit(conn, "merge", compute, **kw)


def move_to_community(conn, code: str, community_code: str, **kw) -> EditOutcome:
    """The grid joins another community: both communities (and, across streets, both
    streets) change shape; the grid gets a code of its new community."""

    def compute(conn_, live):
        row = live_row(live, code, "grid")
        if row["parent_code"] == community_code:
            raise InvalidInput(
                f"{code} already belongs to {community_code}", f"{code} 已属于 {community_code}"
            )
        result = pure.EditResult()
        moving = row["geometry"]
        old_c, new_c = (
            live_row(live, row["parent_code"]),
            live_row(live, community_code, "community"),
        )
        result.geometries[old_c["code"]], result.geometries[new_c["code"]] = pure.move_to_parent(
            code, moving, old_c["geometry"], new_c["geometry"]
        )
        if old_c["parent_code"] != new_c["parent_code"]:
            old_s, new_s = (
                live_row(live, old_c["parent_code"]),
                live_row(live, new_c["parent_code"]),
            )
            result.geometries[old_s["code"]], result.geometries[new_s["code"]] = (
                pure.move_to_parent(code, moving, old_s["geometry"], new_s["geometry"])
            )
        used = _used_grid_codes(conn_, community_code) | set(live["code"])
        width = len(code) - len(row["parent_code"])
        new_code = allocate_grid_numbers(community_code, used, [moving], width=width)[0]
        result.moved[code] = (new_code, community_code)
        result.notes.append(f"{code} → {new_code}")
        return result, {}

    return run_edit(conn, "move_to_community", compute, **kw)


def revert(conn, code: str, version_id: int, **kw) -> EditOutcome:
    """Give a grid the shape of one of its earlier versions again, as a new edit
    (neighbours follow as in a clipping reshape)."""
    v = AdminUnitVersion

    def compute(conn_, live):
        row = live_row(live, code, "grid")
        old = conn_.execute(
            select(v.unit_id, gf.ST_AsBinary(v.geom)).where(v.id == version_id)
        ).first()
        if old is None or int(old[0]) != int(row["unit_id"]):
            raise NotFound(
                f"version {version_id} is not a version of {code}",
                f"版本 {version_id} 不是 {code} 的历史版本",
            )
        geom = shapely.from_wkb(bytes(old[1]))
        sib = _children(live, row["parent_code"])
        parent = live_row(live, row["parent_code"])["geometry"]
        siblings = dict(zip(sib["code"], sib.geometry, strict=True))
        return pure.reshape(code, geom, siblings, parent, mode="clip"), {}

    return run_edit(conn, "revert", compute, **kw)


def create_grid(
    conn, community_code: str, geom: BaseGeometry, *, name: str | None = None, **kw
) -> EditOutcome:
    """Draw a new grid in a community; it takes its area from the grids it overlaps and
    gets the community's next grid number."""

    def compute(conn_, live):
        community = live_row(live, community_code, "community")
        sib = _children(live, community_code)
        width = len(sib["code"].iloc[0]) - len(community_code) if len(sib) else 3
        used = _used_grid_codes(conn_, community_code) | set(live["code"])
        new_code = allocate_grid_numbers(community_code, used, [geom], width=width)[0]
        siblings = dict(zip(sib["code"], sib.geometry, strict=True))
        result = pure.insert(new_code, geom, siblings, community["geometry"])
        return result, {
            new_code: (community_code, name or f"{community['name']}{new_code[-width:]}网格")
        }

    return run_edit(conn, "create", compute, **kw)


def delete_grid(conn, code: str, **kw) -> EditOutcome:
    """Retire a grid; its area goes to the neighbours sharing the longest borders."""

    def compute(_conn, live):
        row = live_row(live, code, "grid")
        sib = _children(live, row["parent_code"])
        return pure.dissolve(code, dict(zip(sib["code"], sib.geometry, strict=True))), {}

    return run_edit(conn, "delete", compute, **kw)


def rename(conn, code: str, name: str, **kw) -> EditOutcome:
    def compute(_conn, live):
        live_row(live, code, "grid")
        if not name or not name.strip():
            raise InvalidInput("name must not be empty", "名称不能为空", field="name")
        return pure.EditResult(renamed={code: name.strip()}), {}

    return run_edit(conn, "rename", compute, **kw)


def replace_grid(conn, code: str, geom: BaseGeometry | None, name: str | None, **kw) -> EditOutcome:
    """New shape and/or name in one version (OGC PUT/PATCH); neighbours follow a new
    shape as in a clipping reshape."""

    def compute(_conn, live):
        row = live_row(live, code, "grid")
        if geom is not None:
            sib = _children(live, row["parent_code"])
            parent = live_row(live, row["parent_code"])["geometry"]
            siblings = dict(zip(sib["code"], sib.geometry, strict=True))
            result = pure.reshape(code, geom, siblings, parent, mode="clip")
        else:
            result = pure.EditResult()
        if name is not None and name.strip() and name.strip() != row["name"]:
            result.renamed[code] = name.strip()
        return result, {}

    return run_edit(conn, "replace", compute, **kw)


def community_at(live: gpd.GeoDataFrame, geom: BaseGeometry) -> str:
    """The community holding most of ``geom`` (for a new grid that names none)."""
    communities = live[live["level"] == "community"]
    # The drawn shape may be invalid: find its community on a repaired copy and let
    # the edit itself refuse it with the findings.
    areas = communities.geometry.intersection(pure.fix_make_valid(geom)).area
    if not len(areas) or float(areas.max()) <= 0:
        raise InvalidInput(
            "the new grid lies in no community of the district; draw it inside one",
            "新网格不在本区任何社区内；请在社区范围内绘制",
        )
    return str(communities["code"].iloc[int(areas.to_numpy().argmax())])
