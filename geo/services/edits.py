"""Redrawing grids, as use cases: each edit locked, checked against If-Match, validated,
applied as new versions of every unit it touches, audited and announced — in one
transaction, so it lands whole or not at all.

Edits and publications share one advisory lock: two planners saving the same border
at once are serialised, and the second finds that the version it named (If-Match) is
no longer live, so it gets 412 and changes nothing.

:func:`apply_edit` is the use case the API calls (it owns the transaction and asks the
caller's ``authorize`` about every named unit first); the operations below
(:func:`reshape`, :func:`split` …) are its steps, each running :func:`run_edit` in the
transaction given. The geometry of each edit is pure (:mod:`geo.units.edits`); the SQL
is :mod:`geo.store.grid_edits`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import geopandas as gpd
from shapely.geometry.base import BaseGeometry

from geo.errors import InvalidInput, NotFound
from geo.services import policy
from geo.services.policy import Principal
from geo.store import audit, edit_impact, registers
from geo.store import boundaries as bstore
from geo.store import grid_edits as store
from geo.store.db import Connection, Engine
from geo.units import edits as pure
from geo.units import impact
from geo.units.codes import allocate_grid_numbers
from geo.units.frames import (
    after_edit,
    check_if_match,
    children,
    community_at,
    invariant_scope,
    live_row,
)

# A new unit an edit creates: new code → (parent code, name).
Names = dict[str, tuple[str, str]]
# An edit's computation: (transaction, live map) → (what changes, names of new units).
Compute = Callable[[Connection, gpd.GeoDataFrame], tuple[pure.EditResult, Names]]
# Asked, before anything is written, about what an edit would change (the live map,
# the result, the new units' names); raises to refuse (the policy's jurisdiction check).
Authorize = Callable[[gpd.GeoDataFrame, pure.EditResult, Names], None]


@dataclass
class EditOutcome:
    action: str
    dry_run: bool
    versions: dict[str, int]  # code → new live version id (ETag); empty on dry runs
    retired: list[str]
    created: list[str]
    impact: dict[str, Any]
    at: datetime | None = None
    notes: list[str] = field(default_factory=list)


def lock(conn: Connection) -> datetime:
    """Take the edit lock; the time returned is after every earlier edit's."""
    return bstore.lock_map(conn)


def apply_edit(
    engine: Engine,
    operation: Callable[..., EditOutcome],
    *args: Any,
    who: Principal,
    if_match: Mapping[str, int | set[int]],
    author: str | None,
    reason: str,
    dry_run: bool,
    also_authorize: Sequence[str] = (),
    **options: Any,
) -> EditOutcome:
    """Run one grid edit (``operation``, e.g. :func:`reshape`) in its own transaction.

    The policy is asked first about every unit named in ``if_match`` and in
    ``also_authorize``, then about every unit the edit changes or creates (a planner
    edits only their own units); a refusal rolls the transaction back. ``author`` is
    the name the client gave (an "on behalf of" note); the actor is ``who``.
    """
    with engine.begin() as conn:
        policy.require_codes(conn, who, [*if_match, *also_authorize])
        return operation(
            conn,
            *args,
            if_match=if_match,
            author=policy.actor_of(who, author),
            reason=reason,
            dry_run=dry_run,
            authorize=_touched_check(conn, who),
            **options,
        )


def _touched_check(conn: Connection, who: Principal) -> Authorize | None:
    if policy.district_wide(who):
        return None

    def check(live: gpd.GeoDataFrame, result: pure.EditResult, names: Names) -> None:
        chains = policy.frame_chains(live)
        changed = set(result.geometries) | set(result.retired) | set(result.renamed)
        policy.require_frame_codes(who, chains, sorted(changed | set(result.moved)))
        parents = [p for p, _n in names.values()] + [p for _c, p in result.moved.values()]
        policy.require_frame_codes(who, chains, sorted(set(parents)))

    return check


def create_grid_at(
    engine: Engine,
    community_code: str | None,
    geom: BaseGeometry,
    *,
    who: Principal,
    name: str | None,
    author: str | None,
    reason: str,
) -> EditOutcome:
    """Draw a new grid in ``community_code`` (None: the community holding most of it)."""
    with engine.begin() as conn:
        policy.require_scope(who)
        community = community_code or community_at(bstore.units_frame(conn), geom)
        policy.require_codes(conn, who, [str(community)])
        return create_grid(
            conn,
            str(community),
            geom,
            name=name,
            if_match={},
            author=policy.actor_of(who, author),
            reason=reason,
            dry_run=False,
            authorize=_touched_check(conn, who),
        )


def run_edit(
    conn: Connection,
    action: str,
    compute: Compute,
    *,
    if_match: Mapping[str, int | set[int]],
    author: audit.Who,
    reason: str,
    dry_run: bool,
    authorize: Authorize | None = None,
) -> EditOutcome:
    """Lock, check versions, compute, ask ``authorize`` about the result, check the
    partition invariant, measure the impact, and write unless dry run."""
    if not reason or not reason.strip():
        raise InvalidInput(
            "say why (reason): the history keeps it for whoever looks later",
            "请填写修改原因（reason），它会保存在历史记录中",
        )
    at = lock(conn)
    live = bstore.units_frame(conn)
    check_if_match(live, if_match)
    result, names = compute(conn, live)
    if authorize is not None:
        authorize(live, result, names)
    after = after_edit(live, result, names)
    touched = (
        set(result.geometries) | set(result.created) | {new for new, _p in result.moved.values()}
    )
    _keep_partition(after, touched)
    outcome = EditOutcome(
        action=action,
        dry_run=dry_run,
        versions={},
        retired=list(result.retired),
        created=list(result.created),
        impact=impact_of(conn, live, after, touched | set(result.retired) | set(result.moved)),
        notes=result.notes,
    )
    if not dry_run:
        outcome.versions = _write(
            conn, live, result, names, at=at, action=action, author=author, reason=reason
        )
        outcome.at = at
    return outcome


def _keep_partition(after: gpd.GeoDataFrame, touched: set[str]) -> None:
    errors = pure.partition_errors(invariant_scope(after, touched))
    if errors:
        raise pure.refuse(
            "the edit would break the grid partition (gaps, overlaps or units outside "
            "their parent); see the findings",
            "该修改会破坏网格划分（出现空白、重叠或超出上级范围）；详见问题列表",
            errors,
        )


def impact_of(
    conn: Connection, live: gpd.GeoDataFrame, after: gpd.GeoDataFrame, touched: set[str]
) -> dict[str, Any]:
    """What the edit moves, read near the touched grids only."""
    before, after_side = impact.sides(live, after, touched)
    if not before.geoms and not after_side.geoms:
        return {"grids": {}}
    near = edit_impact.nearby(conn, impact.bbox(before, after_side), before.unit_ids)
    return impact.summarise(near, before, after_side)


def _write(
    conn: Connection,
    live: gpd.GeoDataFrame,
    result: pure.EditResult,
    names: Names,
    *,
    at: datetime,
    action: str,
    author: audit.Who,
    reason: str,
) -> dict[str, int]:
    """Close the touched units' live versions, insert their new ones, audit, announce."""
    touched = set(result.geometries) | set(result.moved) | set(result.retired) | set(result.renamed)
    everything = sorted(touched | set(result.created))
    set_id = store.create_edit_set(
        conn,
        name=f"{action} {', '.join(everything)}",
        author=audit.shown(author),
        note=reason,
        at=at,
    )
    old_ids = [int(live_row(live, c)["version_id"]) for c in sorted(touched)]
    store.close_versions(conn, old_ids, at)
    rows = _changed_versions(live, result) + _created_versions(conn, live, result, names)
    versions = store.insert_versions(
        conn, set_id, rows, at=at, action=action, author=audit.shown(author), reason=reason
    )
    audit.record(
        conn,
        actor=author,
        action=f"grid.{action}",
        entity="grid",
        ref=",".join(everything),
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
    bstore.announce(conn, f"edit-{set_id}")
    return versions


def _changed_versions(live: gpd.GeoDataFrame, result: pure.EditResult) -> list[store.NewVersion]:
    """New versions of the units the edit reshapes, moves or renames (not retires)."""
    unit_of = dict(zip(live["code"], live["unit_id"], strict=True))
    rows = []
    for code in sorted(set(result.geometries) | set(result.moved) | set(result.renamed)):
        if code in result.retired:
            continue
        row = live_row(live, code)
        new_code, new_parent = result.moved.get(code, (code, row["parent_code"]))
        rows.append(
            store.NewVersion(
                unit_id=int(row["unit_id"]),
                level=row["level"],
                code=new_code,
                name=result.renamed.get(code, row["name"]),
                parent_unit_id=unit_of.get(new_parent),
                geom=result.geometries.get(code, row["geometry"]),
                old_code=code,
            )
        )
    return rows


def _created_versions(
    conn: Connection, live: gpd.GeoDataFrame, result: pure.EditResult, names: Names
) -> list[store.NewVersion]:
    """First versions of the grids the edit creates (each a new unit)."""
    unit_of = dict(zip(live["code"], live["unit_id"], strict=True))
    rows = []
    for code, geom in result.created.items():
        parent_code, name = names[code]
        rows.append(
            store.NewVersion(
                unit_id=store.new_grid_unit(conn),
                level="grid",
                code=code,
                name=name,
                parent_unit_id=unit_of[parent_code],
                geom=geom,
                old_code=code,
            )
        )
    return rows


# -- the operations -------------------------------------------------------------------


def _siblings(live: gpd.GeoDataFrame, parent_code: str) -> dict[str, BaseGeometry]:
    sib = children(live, parent_code)
    return dict(zip(sib["code"], sib.geometry, strict=True))


def _reshaped(live: gpd.GeoDataFrame, code: str, geom: BaseGeometry, mode: str) -> pure.EditResult:
    """``code`` given ``geom``; its siblings follow (clip) or refuse the edit."""
    row = live_row(live, code, "grid")
    parent = live_row(live, row["parent_code"])["geometry"]
    return pure.reshape(code, geom, _siblings(live, row["parent_code"]), parent, mode=mode)


def _next_grid_code(
    conn: Connection, live: gpd.GeoDataFrame, community: str, geom: BaseGeometry, width: int
) -> str:
    # The number depends only on what is used (ever, not just now) and the shape.
    used = store.used_grid_codes(conn, community) | set(live["code"])
    return allocate_grid_numbers(community, used, [geom], width=width)[0]


def reshape(
    conn: Connection, code: str, geom: BaseGeometry, *, mode: str, **kw: Any
) -> EditOutcome:
    def compute(_conn: Connection, live: gpd.GeoDataFrame) -> tuple[pure.EditResult, Names]:
        return _reshaped(live, code, geom, mode), {}

    return run_edit(conn, "reshape", compute, **kw)


def move_border(
    conn: Connection, code_a: str, code_b: str, line: BaseGeometry, **kw: Any
) -> EditOutcome:
    def compute(_conn: Connection, live: gpd.GeoDataFrame) -> tuple[pure.EditResult, Names]:
        a, b = live_row(live, code_a, "grid"), live_row(live, code_b, "grid")
        if a["parent_code"] != b["parent_code"]:
            raise InvalidInput(
                f"{code_a} and {code_b} belong to different communities; move the grid "
                "to the other community first",
                f"{code_a} 与 {code_b} 属于不同社区；请先把网格移入同一社区",
            )
        return pure.move_border(code_a, a["geometry"], code_b, b["geometry"], line), {}

    return run_edit(conn, "move_border", compute, **kw)


def split(
    conn: Connection, code: str, line: BaseGeometry, *, new_name: str | None = None, **kw: Any
) -> EditOutcome:
    def compute(conn_: Connection, live: gpd.GeoDataFrame) -> tuple[pure.EditResult, Names]:
        row = live_row(live, code, "grid")
        community = row["parent_code"]
        # Allocate on a provisional cut: the number depends only on what is used.
        width = len(code) - len(community)
        new_code = _next_grid_code(conn_, live, community, row["geometry"], width)
        result = pure.split(code, row["geometry"], line, new_code)
        name = new_name or f"{row['name']}（分）"
        return result, {new_code: (community, name)}

    return run_edit(conn, "split", compute, **kw)


def merge(conn: Connection, codes: list[str], *, keep: str | None = None, **kw: Any) -> EditOutcome:
    kept = keep or sorted(codes)[0]

    def compute(_conn: Connection, live: gpd.GeoDataFrame) -> tuple[pure.EditResult, Names]:
        rows = [live_row(live, c, "grid") for c in codes]
        if len({r["parent_code"] for r in rows}) != 1:
            raise InvalidInput(
                "only grids of one community can be merged; move one first",
                "只能合并同一社区的网格；请先移动网格",
            )
        return pure.merge({r["code"]: r["geometry"] for r in rows}, kept), {}

    return run_edit(conn, "merge", compute, **kw)


def move_to_community(conn: Connection, code: str, community_code: str, **kw: Any) -> EditOutcome:
    """The grid joins another community: both communities (and, across streets, both
    streets) change shape; the grid gets a code of its new community."""

    def compute(conn_: Connection, live: gpd.GeoDataFrame) -> tuple[pure.EditResult, Names]:
        row = live_row(live, code, "grid")
        if row["parent_code"] == community_code:
            raise InvalidInput(
                f"{code} already belongs to {community_code}", f"{code} 已属于 {community_code}"
            )
        result = pure.EditResult()
        moving = row["geometry"]
        old_c = live_row(live, row["parent_code"])
        new_c = live_row(live, community_code, "community")
        result.geometries[old_c["code"]], result.geometries[new_c["code"]] = pure.move_to_parent(
            code, moving, old_c["geometry"], new_c["geometry"]
        )
        if old_c["parent_code"] != new_c["parent_code"]:
            old_s = live_row(live, old_c["parent_code"])
            new_s = live_row(live, new_c["parent_code"])
            result.geometries[old_s["code"]], result.geometries[new_s["code"]] = (
                pure.move_to_parent(code, moving, old_s["geometry"], new_s["geometry"])
            )
        width = len(code) - len(row["parent_code"])
        new_code = _next_grid_code(conn_, live, community_code, moving, width)
        result.moved[code] = (new_code, community_code)
        result.notes.append(f"{code} → {new_code}")
        return result, {}

    return run_edit(conn, "move_to_community", compute, **kw)


def revert(conn: Connection, code: str, version_id: int, **kw: Any) -> EditOutcome:
    """Give a grid the shape of one of its earlier versions again, as a new edit
    (neighbours follow as in a clipping reshape)."""

    def compute(conn_: Connection, live: gpd.GeoDataFrame) -> tuple[pure.EditResult, Names]:
        row = live_row(live, code, "grid")
        old = store.version_shape(conn_, version_id)
        if old is None or old[0] != int(row["unit_id"]):
            raise NotFound(
                f"version {version_id} is not a version of {code}",
                f"版本 {version_id} 不是 {code} 的历史版本",
            )
        return _reshaped(live, code, old[1], "clip"), {}

    return run_edit(conn, "revert", compute, **kw)


def create_grid(
    conn: Connection,
    community_code: str,
    geom: BaseGeometry,
    *,
    name: str | None = None,
    **kw: Any,
) -> EditOutcome:
    """Draw a new grid in a community; it takes its area from the grids it overlaps and
    gets the community's next grid number."""

    def compute(conn_: Connection, live: gpd.GeoDataFrame) -> tuple[pure.EditResult, Names]:
        community = live_row(live, community_code, "community")
        sib = children(live, community_code)
        width = len(sib["code"].iloc[0]) - len(community_code) if len(sib) else 3
        new_code = _next_grid_code(conn_, live, community_code, geom, width)
        result = pure.insert(new_code, geom, _siblings(live, community_code), community["geometry"])
        return result, {
            new_code: (community_code, name or f"{community['name']}{new_code[-width:]}网格")
        }

    return run_edit(conn, "create", compute, **kw)


def delete_grid(conn: Connection, code: str, **kw: Any) -> EditOutcome:
    """Retire a grid; its area goes to the neighbours sharing the longest borders."""

    def compute(_conn: Connection, live: gpd.GeoDataFrame) -> tuple[pure.EditResult, Names]:
        row = live_row(live, code, "grid")
        return pure.dissolve(code, _siblings(live, row["parent_code"])), {}

    return run_edit(conn, "delete", compute, **kw)


def rename(conn: Connection, code: str, name: str, **kw: Any) -> EditOutcome:
    def compute(_conn: Connection, live: gpd.GeoDataFrame) -> tuple[pure.EditResult, Names]:
        live_row(live, code, "grid")
        if not name or not name.strip():
            raise InvalidInput("name must not be empty", "名称不能为空", field="name")
        return pure.EditResult(renamed={code: name.strip()}), {}

    return run_edit(conn, "rename", compute, **kw)


def replace_grid(
    conn: Connection, code: str, geom: BaseGeometry | None, name: str | None, **kw: Any
) -> EditOutcome:
    """New shape and/or name in one version (OGC PUT/PATCH); neighbours follow a new
    shape as in a clipping reshape."""

    def compute(_conn: Connection, live: gpd.GeoDataFrame) -> tuple[pure.EditResult, Names]:
        row = live_row(live, code, "grid")
        result = _reshaped(live, code, geom, "clip") if geom is not None else pure.EditResult()
        if name is not None and name.strip() and name.strip() != row["name"]:
            result.renamed[code] = name.strip()
        return result, {}

    return run_edit(conn, "replace", compute, **kw)
