"""Redrawing grids: topology-safe edits with If-Match, dry-run impact, history, audit.

Every edit needs ``If-Match`` with the ETag(s) of the grid(s) it names (from ``GET
/v1/grids/{code}``); a stale one gets 412 and changes nothing. ``?dry_run=true`` returns
the impact without writing. An edit that would break the partition gets 422 with the
findings as GeoJSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import numpy as np
import shapely
from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from shapely.geometry import mapping

from geo.crs import geometry_from_wgs84
from geo.errors import InvalidInput
from geo.lookup.geocode import mask_phone
from geo.store import audit, history, special_edits
from geo.store import boundaries as bstore
from geo.store import grid_edits as edits

from api.auth import CallerDep, require_scope, require_unit_code
from api.deps import State
from api.edit_input import etags, geometry_in
from api.schemas import CRSName, DbId

router = APIRouter(prefix="/v1", tags=["grid edits"])
EDIT, READ = require_scope("edit"), require_scope("read")
DryRun = Annotated[bool, Query(description="Only report the impact; change nothing")]
IfMatch = Annotated[
    str | None,
    Header(description='ETag(s) of the grid(s) edited, e.g. "1234" or "1234", "1240"'),
]


class GeometryIn(BaseModel):
    geometry: dict[str, Any] = Field(description="GeoJSON geometry")
    crs: CRSName = Field(default="wgs84", description="CRS of the geometry's coordinates")


class EditIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why (kept in history)")
    author: str | None = Field(
        default=None, max_length=200, description="Who (only used without an API key)"
    )


class ReshapeIn(EditIn, GeometryIn):
    mode: Literal["clip", "refuse"] = Field(
        default="clip",
        description="clip: neighbours follow; refuse: refuse if neighbours would change",
    )


class LineIn(EditIn):
    line: dict[str, Any] = Field(description="GeoJSON LineString")
    crs: CRSName = "wgs84"


class SplitIn(LineIn):
    new_name: str | None = Field(default=None, max_length=200)


class BorderIn(LineIn):
    grids: list[str] = Field(min_length=2, max_length=2, description="The two neighbours")


class MergeIn(EditIn):
    grids: list[str] = Field(min_length=2, max_length=20)
    keep: str | None = Field(default=None, description="The grid that stays (default: first)")


class MoveIn(EditIn):
    community: str = Field(description="Code of the community the grid moves to")


class RevertIn(EditIn):
    version_id: int = Field(description="The earlier version whose shape comes back")


def _run(state, caller, body: EditIn, codes: list[str], if_match, dry_run: bool, op, *args, **kw):
    tags = etags(if_match)
    author = body.author if caller.anonymous and body.author else caller.name
    with state.engine.begin() as conn:
        for code in [*codes, *kw.pop("_also_check", [])]:  # a planner edits their own units
            require_unit_code(caller, bstore.chain_unit_ids(conn, code), code)
        out = op(
            conn,
            *args,
            if_match=dict.fromkeys(codes, tags),
            author=author,
            reason=body.reason,
            dry_run=dry_run,
            **kw,
        )
    if not dry_run:
        state.refresh()  # this worker at once; others on their next version check
    payload = {
        "action": out.action,
        "dry_run": out.dry_run,
        "etags": {c: f'"{v}"' for c, v in out.versions.items()},
        "created": out.created,
        "retired": out.retired,
        "notes": out.notes,
        "impact": out.impact,
    }
    headers = {}
    if len(out.versions) and codes[0] in out.versions:
        headers["ETag"] = f'"{out.versions[codes[0]]}"'
    return JSONResponse(_jsonable(payload), headers=headers)


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, datetime):
        return v.isoformat()
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return v


def _feature(data: dict, geom, crs: str) -> dict:
    props = {k: v for k, v in data.items() if k not in ("attrs",)}
    props["crs"] = crs
    return {
        "type": "Feature",
        "id": data["code"],
        "properties": _jsonable(props),
        "geometry": mapping(geometry_from_wgs84(geom, crs)),
    }


@router.get("/grids/{code}", dependencies=[READ])
def get_grid(
    state: State,
    code: str,
    response: Response,
    at: Annotated[datetime | None, Query(description="As of this time (history)")] = None,
    crs: Annotated[CRSName, Query(description="CRS of the returned geometry")] = "wgs84",
):
    """One unit (any level) as a GeoJSON Feature; the ETag is its live version."""
    with state.engine.connect() as conn:
        data, geom = history.version_at(conn, code, at)
    if data["valid_to"] is None:
        response.headers["ETag"] = f'"{data["version_id"]}"'
    return _feature(data, geom, crs)


@router.post("/grids/{code}/reshape", dependencies=[EDIT])
def reshape_grid(
    state: State,
    caller: CallerDep,
    code: str,
    body: ReshapeIn,
    if_match: IfMatch = None,
    dry_run: DryRun = False,
):
    """Give a grid a new shape; neighbours follow (mode=clip) or the edit is refused."""
    geom = geometry_in(body.geometry, body.crs, "geometry")
    return _run(
        state, caller, body, [code], if_match, dry_run, edits.reshape, code, geom, mode=body.mode
    )


@router.post("/grids/{code}/split", dependencies=[EDIT])
def split_grid(
    state: State,
    caller: CallerDep,
    code: str,
    body: SplitIn,
    if_match: IfMatch = None,
    dry_run: DryRun = False,
):
    """Cut a grid in two along a line; the smaller part gets a newly allocated code."""
    line = geometry_in(body.line, body.crs, "line")
    return _run(
        state,
        caller,
        body,
        [code],
        if_match,
        dry_run,
        edits.split,
        code,
        line,
        new_name=body.new_name,
    )


@router.post("/grids/merge", dependencies=[EDIT])
def merge_grids(
    state: State,
    caller: CallerDep,
    body: MergeIn,
    if_match: IfMatch = None,
    dry_run: DryRun = False,
):
    """Merge adjacent grids of one community into one (the others are retired)."""
    keep = body.keep or body.grids[0]
    return _run(
        state,
        caller,
        body,
        [keep, *[g for g in body.grids if g != keep]],
        if_match,
        dry_run,
        edits.merge,
        body.grids,
        keep=keep,
    )


@router.post("/grids/border", dependencies=[EDIT])
def move_border(
    state: State,
    caller: CallerDep,
    body: BorderIn,
    if_match: IfMatch = None,
    dry_run: DryRun = False,
):
    """Redraw the border between two neighbouring grids; both follow."""
    line = geometry_in(body.line, body.crs, "line")
    a, b = body.grids
    return _run(state, caller, body, [a, b], if_match, dry_run, edits.move_border, a, b, line)


@router.post("/grids/{code}/move", dependencies=[EDIT])
def move_grid(
    state: State,
    caller: CallerDep,
    code: str,
    body: MoveIn,
    if_match: IfMatch = None,
    dry_run: DryRun = False,
):
    """Move a grid to a neighbouring community (it gets a code of that community)."""
    return _run(
        state,
        caller,
        body,
        [code],
        if_match,
        dry_run,
        edits.move_to_community,
        code,
        body.community,
        _also_check=[body.community],
    )


@router.post("/grids/{code}/revert", dependencies=[EDIT])
def revert_grid(
    state: State,
    caller: CallerDep,
    code: str,
    body: RevertIn,
    if_match: IfMatch = None,
    dry_run: DryRun = False,
):
    """Bring back an earlier version's shape, as a new edit (neighbours follow)."""
    return _run(state, caller, body, [code], if_match, dry_run, edits.revert, code, body.version_id)


@router.get("/units/{code}/versions", dependencies=[READ])
def unit_versions(state: State, code: str):
    """Every version of the unit (also under its earlier codes), oldest first."""
    with state.engine.connect() as conn:
        rows = history.unit_versions(conn, code)
    return _jsonable({"code": code, "versions": rows})


@router.get("/units/{code}/versions/{version_id}", dependencies=[READ])
def unit_version(
    state: State,
    code: str,
    version_id: DbId,
    crs: Annotated[CRSName, Query(description="CRS of the returned geometry")] = "wgs84",
):
    with state.engine.connect() as conn:
        data, geom = history.version(conn, code, version_id)
    return _feature(data, geom, crs)


@router.get("/units/{code}/diff", dependencies=[READ])
def unit_diff(
    state: State,
    code: str,
    from_version: Annotated[int, Query(alias="from")],
    to_version: Annotated[int, Query(alias="to")],
    crs: Annotated[CRSName, Query(description="CRS of the returned geometries")] = "wgs84",
):
    """What changed between two versions: area gained and lost, attributes."""
    from geo.crs.metric import metric_epsg_for, to_metric

    with state.engine.connect() as conn:
        a, ga = history.version(conn, code, from_version)
        b, gb = history.version(conn, code, to_version)
    gained, lost = shapely.difference(gb, ga), shapely.difference(ga, gb)
    epsg = metric_epsg_for(np.array([ga], dtype=object))
    area = lambda g: round(float(shapely.area(to_metric(g, epsg))), 2)  # noqa: E731
    changed = {
        k: {"from": a[k], "to": b[k]}
        for k in ("code", "name", "parent_code", "level")
        if a[k] != b[k]
    }
    return _jsonable(
        {
            "code": code,
            "from": a,
            "to": b,
            "attributes": changed,
            "area_from_m2": area(ga),
            "area_to_m2": area(gb),
            "gained_m2": area(gained),
            "lost_m2": area(lost),
            "gained": mapping(geometry_from_wgs84(gained, crs)),
            "lost": mapping(geometry_from_wgs84(lost, crs)),
            "crs": crs,
        }
    )


@router.get("/audit", dependencies=[READ])
def audit_log(
    state: State,
    entity: str | None = None,
    ref: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: int | None = None,
):
    """Who changed what, when and why — newest first; page with before_id."""
    with state.engine.connect() as conn:
        rows = audit.entries(
            conn, entity=entity, ref=ref, actor=actor, since=since, limit=limit, before_id=before_id
        )
    return _jsonable(
        {"entries": rows, "next_before_id": rows[-1]["id"] if len(rows) == limit else None}
    )


# -- special grids ----------------------------------------------------------------------


class SpecialIn(EditIn):
    name: str | None = Field(default=None, max_length=200)
    kind: str | None = Field(default=None, description="school, hospital, industrial_park …")
    responsible_unit: str | None = Field(default=None, max_length=200)
    contact_name: str | None = Field(default=None, max_length=100)
    contact_phone: str | None = Field(default=None, max_length=40)
    geometry: dict[str, Any] | None = Field(default=None, description="GeoJSON (Multi)Polygon")
    crs: CRSName = "wgs84"


class SpecialCreateIn(SpecialIn):
    code: str = Field(min_length=1, max_length=40)


def _special_fields(body: SpecialIn) -> dict:
    return {f: getattr(body, f) for f in special_edits.FIELDS}


def _special_response(out, status: int = 200) -> JSONResponse:
    headers = {"ETag": f'"{out.version}"'} if out.version else {}
    return JSONResponse(
        {
            "action": out.action,
            "code": out.code,
            "dry_run": out.dry_run,
            "etag": headers.get("ETag"),
        },
        status_code=status,
        headers=headers,
    )


@router.get("/special-grids/{code}", dependencies=[READ])
def get_special_grid(
    state: State,
    caller: CallerDep,
    code: str,
    response: Response,
    crs: Annotated[CRSName, Query(description="CRS of the returned geometry")] = "wgs84",
):
    """One live special grid as a GeoJSON Feature; the ETag is its version."""
    with state.engine.connect() as conn:
        row = special_edits.live_special(conn, code)
    response.headers["ETag"] = f'"{row["id"]}"'
    props = {k: v for k, v in row.items() if k not in ("geometry", "id")}
    if not caller.sees_contacts_of([]):
        props["contact_phone"] = mask_phone(props.get("contact_phone"))
    props.update(version=row["id"], crs=crs)
    return {
        "type": "Feature",
        "id": code,
        "properties": props,
        "geometry": mapping(geometry_from_wgs84(row["geometry"], crs)),
    }


@router.post("/special-grids", dependencies=[EDIT], status_code=201)
def create_special_grid(
    state: State, caller: CallerDep, body: SpecialCreateIn, dry_run: DryRun = False
):
    """Draw a new special grid (must lie inside the district)."""
    if body.geometry is None:
        raise InvalidInput("geometry is required", "必须提供几何 geometry", field="geometry")
    geom = geometry_in(body.geometry, body.crs, "geometry")
    author = body.author if caller.anonymous and body.author else caller.name
    with state.engine.begin() as conn:
        out = special_edits.save(
            conn,
            body.code,
            _special_fields(body),
            geom,
            if_match=None,
            author=author,
            reason=body.reason,
            dry_run=dry_run,
        )
    if not dry_run:
        state.refresh()
    return _special_response(out, 200 if dry_run else 201)


@router.put("/special-grids/{code}", dependencies=[EDIT])
def replace_special_grid(
    state: State,
    caller: CallerDep,
    code: str,
    body: SpecialIn,
    if_match: IfMatch = None,
    dry_run: DryRun = False,
):
    """Change a special grid's shape and/or attributes (fields left out stay)."""
    tags = etags(if_match)
    geom = geometry_in(body.geometry, body.crs, "geometry") if body.geometry else None
    author = body.author if caller.anonymous and body.author else caller.name
    with state.engine.begin() as conn:
        out = special_edits.save(
            conn,
            code,
            _special_fields(body),
            geom,
            if_match=tags,
            author=author,
            reason=body.reason,
            dry_run=dry_run,
        )
    if not dry_run:
        state.refresh()
    return _special_response(out)


@router.delete("/special-grids/{code}", dependencies=[EDIT])
def delete_special_grid(
    state: State,
    caller: CallerDep,
    code: str,
    reason: Annotated[str, Query(min_length=1, max_length=2000, description="Why")],
    if_match: IfMatch = None,
    dry_run: DryRun = False,
):
    """Close a special grid; it stays in the history."""
    tags = etags(if_match)
    with state.engine.begin() as conn:
        out = special_edits.delete(
            conn, code, if_match=tags, author=caller.name, reason=reason, dry_run=dry_run
        )
    if not dry_run:
        state.refresh()
    return _special_response(out)
