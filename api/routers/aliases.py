"""Aliases: other names (老地名, 俗称, a compound's former name) the forward geocoder
also answers to. Every change is audited; running workers pick it up on their next
refresh (this worker at once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from geo.store import aliases as astore

from api.auth import CallerDep, require_scope
from api.deps import State
from api.schemas import DbId

router = APIRouter(prefix="/v1", tags=["geocoding"])
EDIT, READ = require_scope("edit"), require_scope("read")


class AliasIn(BaseModel):
    target: str = Field(
        min_length=1,
        max_length=200,
        description="Code of a unit or special grid, a compound's key, or an exact name",
    )
    alias: str = Field(min_length=1, max_length=200, description="The other name")


@router.get("/aliases", dependencies=[READ])
def list_aliases(
    state: State, target: Annotated[str | None, Query(max_length=200)] = None
) -> list[dict]:
    with state.engine.connect() as conn:
        return astore.list_aliases(conn, target)


@router.post("/aliases", status_code=201, dependencies=[EDIT])
def add_alias(state: State, caller: CallerDep, body: AliasIn) -> dict:
    """Add an alias; the same pair again changes nothing. A target that names nothing is
    stored but reported (``matches: false``) so a typo does not pass unnoticed."""
    with state.engine.begin() as conn:
        row = astore.add_alias(conn, body.target, body.alias, actor=caller.name)
    state.refresh()
    unknown = set(state.gazetteer.unknown_aliases) if state.gazetteer else set()
    return {**row, "matches": row["target"] not in unknown}


@router.delete("/aliases/{alias_id}", status_code=204, dependencies=[EDIT])
def delete_alias(state: State, caller: CallerDep, alias_id: DbId) -> None:
    with state.engine.begin() as conn:
        astore.delete_alias(conn, alias_id, actor=caller.name)
    state.refresh()
