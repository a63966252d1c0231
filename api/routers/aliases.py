"""Aliases: other names (老地名, 俗称, a compound's former name) the forward geocoder
also answers to. Every change is audited; running workers pick it up on their next
refresh (this worker at once)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, field_serializer

from geo.services import aliases as uc

from api.auth import CallerDep, require_scope
from api.deps import State
from api.schemas import DbId
from api.validation import Actor

router = APIRouter(prefix="/v1", tags=["geocoding"])
EDIT, READ = require_scope("edit"), require_scope("read")


class AliasIn(BaseModel):
    target: Actor = Field(
        description="Code of a unit or special grid, a compound's key, or an exact name",
    )
    alias: Actor = Field(description="The other name")


class AliasOut(BaseModel):
    id: int
    target: str
    alias: str
    created_by: str
    created_at: datetime

    @field_serializer("created_at")
    def _iso(self, value: datetime) -> str:
        # As the answer always read (datetime.isoformat): "+00:00", never pydantic's "Z".
        return value.isoformat()


class AliasAdded(AliasOut):
    matches: bool = Field(description="False when the target names nothing known")


@router.get("/aliases", response_model=list[AliasOut], dependencies=[READ])
def list_aliases(
    state: State, target: Annotated[str | None, Query(max_length=200)] = None
) -> list[AliasOut]:
    return [AliasOut(**a) for a in uc.list_aliases(state, target)]


@router.post("/aliases", status_code=201, response_model=AliasAdded, dependencies=[EDIT])
def add_alias(state: State, caller: CallerDep, body: AliasIn) -> AliasAdded:
    """Add an alias; the same pair again changes nothing. A target that names nothing is
    stored but reported (``matches: false``) so a typo does not pass unnoticed."""
    return AliasAdded(**uc.add_alias(state, body.target, body.alias, who=caller))


@router.delete("/aliases/{alias_id}", status_code=204, dependencies=[EDIT])
def delete_alias(state: State, caller: CallerDep, alias_id: DbId) -> None:
    uc.delete_alias(state, alias_id, who=caller)
