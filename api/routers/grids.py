"""Redrawing grids: topology-safe edits with If-Match and a dry-run impact.

Every edit needs ``If-Match`` with the ETag(s) of the grid(s) it names (from ``GET
/v1/grids/{code}``); a stale one gets 412 and changes nothing. ``?dry_run=true`` returns
the impact without writing. An edit that would break the partition gets 422 with the
findings as GeoJSON. The edits themselves are the use cases of
:mod:`geo.services.edits`; a planner edits only units in their jurisdiction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from geo.services import edits
from geo.services import history as hist

from api.auth import Caller, CallerDep, require_scope
from api.deps import State
from api.edit_input import DryRun, EditIn, GeometryIn, IfMatch, etags, geometry_in
from api.features import FeatureOut, jsonable, unit_feature
from api.schemas import CRSName
from api.state import ApiState
from api.validation import Name

router = APIRouter(prefix="/v1", tags=["grid edits"])
EDIT, READ = require_scope("edit"), require_scope("read")


class ReshapeIn(EditIn, GeometryIn):
    mode: Literal["clip", "refuse"] = Field(
        default="clip",
        description="clip: neighbours follow; refuse: refuse if neighbours would change",
    )


class LineIn(EditIn):
    line: dict[str, Any] = Field(description="GeoJSON LineString")
    crs: CRSName = "wgs84"


class SplitIn(LineIn):
    new_name: Name | None = None


class BorderIn(LineIn):
    grids: list[str] = Field(min_length=2, max_length=2, description="The two neighbours")


class MergeIn(EditIn):
    grids: list[str] = Field(min_length=2, max_length=20)
    keep: str | None = Field(default=None, description="The grid that stays (default: first)")


class MoveIn(EditIn):
    community: str = Field(description="Code of the community the grid moves to")


class RevertIn(EditIn):
    version_id: int = Field(description="The earlier version whose shape comes back")


class EditOut(BaseModel):
    """What an edit did (or, dry run, would do); the ETag header is the first grid's."""

    action: str
    dry_run: bool
    etags: dict[str, str] = Field(description='code → new ETag ("version id")')
    created: list[str]
    retired: list[str]
    notes: list[str]
    impact: dict[str, Any] = Field(description="What moves: compounds, incidents, workload …")


@dataclass(frozen=True)
class EditCall:
    """What every edit endpoint shares: the service, the caller, If-Match and dry_run."""

    state: ApiState
    caller: Caller
    if_match: str | None
    dry_run: bool

    def run(
        self,
        body: EditIn,
        codes: list[str],
        operation: Callable[..., edits.EditOutcome],
        *args: Any,
        also_check: tuple[str, ...] = (),
        **options: Any,
    ) -> JSONResponse:
        """Run ``operation`` as one edit of ``codes`` and answer what it did."""
        tags = etags(self.if_match)
        out = edits.apply_edit(
            self.state.engine,
            operation,
            *args,
            who=self.caller,
            if_match=dict.fromkeys(codes, tags),
            author=body.author,
            reason=body.reason,
            dry_run=self.dry_run,
            also_authorize=also_check,  # the policy: a planner edits their own units
            **options,
        )
        if not self.dry_run:
            self.state.refresh()  # this worker at once; others on their next version check
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
        return JSONResponse(jsonable(payload), headers=headers)


def _edit_call(
    state: State, caller: CallerDep, if_match: IfMatch = None, dry_run: DryRun = False
) -> EditCall:
    return EditCall(state, caller, if_match, dry_run)


Edit = Annotated[EditCall, Depends(_edit_call)]


@router.get("/grids/{code}", dependencies=[READ], response_model=FeatureOut)
def get_grid(
    state: State,
    code: str,
    response: Response,
    at: Annotated[datetime | None, Query(description="As of this time (history)")] = None,
    crs: Annotated[CRSName, Query(description="CRS of the returned geometry")] = "wgs84",
) -> dict[str, Any]:
    """One unit (any level) as a GeoJSON Feature; the ETag is its live version."""
    data, geom = hist.unit_at(state.engine, code, at)
    if data["valid_to"] is None:
        response.headers["ETag"] = f'"{data["version_id"]}"'
    return unit_feature(data, geom, crs)


@router.post("/grids/{code}/reshape", dependencies=[EDIT], response_model=EditOut)
def reshape_grid(edit: Edit, code: str, body: ReshapeIn) -> JSONResponse:
    """Give a grid a new shape; neighbours follow (mode=clip) or the edit is refused."""
    geom = geometry_in(body.geometry, body.crs, "geometry")
    return edit.run(body, [code], edits.reshape, code, geom, mode=body.mode)


@router.post("/grids/{code}/split", dependencies=[EDIT], response_model=EditOut)
def split_grid(edit: Edit, code: str, body: SplitIn) -> JSONResponse:
    """Cut a grid in two along a line; the smaller part gets a newly allocated code."""
    line = geometry_in(body.line, body.crs, "line")
    return edit.run(body, [code], edits.split, code, line, new_name=body.new_name)


@router.post("/grids/merge", dependencies=[EDIT], response_model=EditOut)
def merge_grids(edit: Edit, body: MergeIn) -> JSONResponse:
    """Merge adjacent grids of one community into one (the others are retired)."""
    keep = body.keep or body.grids[0]
    codes = [keep, *[g for g in body.grids if g != keep]]
    return edit.run(body, codes, edits.merge, body.grids, keep=keep)


@router.post("/grids/border", dependencies=[EDIT], response_model=EditOut)
def move_border(edit: Edit, body: BorderIn) -> JSONResponse:
    """Redraw the border between two neighbouring grids; both follow."""
    line = geometry_in(body.line, body.crs, "line")
    a, b = body.grids
    return edit.run(body, [a, b], edits.move_border, a, b, line)


@router.post("/grids/{code}/move", dependencies=[EDIT], response_model=EditOut)
def move_grid(edit: Edit, code: str, body: MoveIn) -> JSONResponse:
    """Move a grid to a neighbouring community (it gets a code of that community)."""
    return edit.run(
        body, [code], edits.move_to_community, code, body.community, also_check=(body.community,)
    )


@router.post("/grids/{code}/revert", dependencies=[EDIT], response_model=EditOut)
def revert_grid(edit: Edit, code: str, body: RevertIn) -> JSONResponse:
    """Bring back an earlier version's shape, as a new edit (neighbours follow)."""
    return edit.run(body, [code], edits.revert, code, body.version_id)
