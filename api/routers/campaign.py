"""The unowned-compound campaign (无主管楼院整治: 台账 → 分类整治 → 销号): the campaign
ledger, progress per street, community or grid, and each compound's record."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, Field

from geo.services import registers as uc

from api.auth import CallerDep, require_scope
from api.deps import State
from api.schemas import DbId
from api.validation import Actor, Label, PersonName, Reason

router = APIRouter(prefix="/v1/registers", tags=["registers"])
EDIT, READ = require_scope("edit"), require_scope("read")

Mode = Literal["professional", "community", "self_governed"]
Stage = Literal["not_started", "in_progress", "struck_off"]


class WorkIn(BaseModel):
    work: Label
    done_on: date | None = None


class GovernanceIn(BaseModel):
    issues: list[Label] = Field(default_factory=list, description="无门禁, 无路灯, 路面破损 …")
    mode: Mode | None = None
    committee_formed: bool = False
    works: list[WorkIn] = Field(default_factory=list)
    struck_off_on: date | None = Field(default=None, description="销号 date")
    verified_by: PersonName | None = None
    actor: Actor
    reason: Reason | None = None


class GovernanceOut(BaseModel):
    compound_id: int
    name: str
    stage: Stage
    issues: list[str]
    mode: str | None
    committee_formed: bool
    works: list[dict]
    struck_off_on: date | None
    verified_by: str | None


class ProgressOut(BaseModel):
    code: str
    name: str
    listed: int
    not_started: int
    in_progress: int
    struck_off: int


@router.get("/campaign", response_model=list[GovernanceOut], dependencies=[READ])
def campaign_list(
    state: State,
    unit: Annotated[str | None, Query(description="Only inside this unit")] = None,
    stage: Stage | None = None,
) -> list[GovernanceOut]:
    """The unowned compounds with their campaign stage / 无主管楼院整治台账."""
    rows = uc.campaign_list(state.engine, unit=unit, stage=stage)
    return [GovernanceOut(compound_id=r.pop("id"), **r) for r in rows]


@router.get("/campaign/progress", response_model=list[ProgressOut], dependencies=[READ])
def campaign_progress(
    state: State, level: Literal["street", "community", "grid"] = "community"
) -> list[ProgressOut]:
    """Per street, community or grid: how many listed, in progress, struck off (销号)."""
    return [ProgressOut(**r) for r in uc.campaign_progress(state.engine, level)]


@router.get(
    "/compounds/{compound_id}/governance", response_model=GovernanceOut, dependencies=[READ]
)
def get_governance(state: State, compound_id: DbId) -> GovernanceOut:
    return GovernanceOut(**uc.get_governance(state.engine, compound_id))


@router.put(
    "/compounds/{compound_id}/governance", response_model=GovernanceOut, dependencies=[EDIT]
)
def put_governance(
    state: State, caller: CallerDep, compound_id: DbId, body: Annotated[GovernanceIn, Body()]
) -> GovernanceOut:
    """Record issues, the management mode, the owners' committee, works and 销号."""
    record = body.model_dump(exclude={"actor", "reason"}, mode="json")
    out = uc.put_governance(
        state.engine, compound_id, record, who=caller, actor=body.actor, reason=body.reason
    )
    return GovernanceOut(**out)
