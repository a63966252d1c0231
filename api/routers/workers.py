"""Grid workers register (网格员): search, read, create or replace, delete. People are
listed within the caller's jurisdiction; phones are masked for callers who may not
see contacts. Every change is audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, Field

from geo.services import registers as uc

from api.auth import Caller, CallerDep, require_scope, require_unit, require_unit_code
from api.deps import State
from api.schemas import PageOffset
from api.validation import Actor, Code, CodePath, PersonName, Reason, WorkerPhone

router = APIRouter(prefix="/v1/registers", tags=["registers"])
EDIT, READ = require_scope("edit"), require_scope("read")

Role = Literal["worker", "leader", "volunteer", "patroller"]


@dataclass(frozen=True)
class CallerView:
    """The API's caller as the people use cases ask about it
    (:class:`geo.services.registers.PeopleViewer`); the rules stay in :mod:`api.auth`."""

    caller: Caller

    @property
    def unit_ids(self) -> frozenset[int]:
        return self.caller.unit_ids

    def sees_contacts(self) -> bool:
        return self.caller.sees_contacts_of([])

    def require_unit(self, chain_unit_ids: list[int]) -> None:
        require_unit(self.caller, chain_unit_ids, what="worker", what_zh="该人员")

    def require_unit_code(self, chain_unit_ids: list[int], code: str) -> None:
        require_unit_code(self.caller, chain_unit_ids, code)


class WorkerIn(BaseModel):
    name: PersonName
    role: Role = "worker"
    phone: WorkerPhone | None = None
    units: list[Code] = Field(default_factory=list, description="Unit codes served")
    actor: Actor
    reason: Reason | None = None


class WorkerUnitOut(BaseModel):
    code: str
    name: str
    level: str


class WorkerOut(BaseModel):
    worker_code: str
    name: str
    role: str
    phone: str | None = Field(description="Masked (138****5678) for anonymous callers")
    units: list[WorkerUnitOut]


def _worker_out(p: dict) -> WorkerOut:
    return WorkerOut(
        worker_code=p["worker_code"],
        name=p["name"],
        role=p["role"],
        phone=p["phone"],
        units=[WorkerUnitOut(**{k: u[k] for k in ("code", "name", "level")}) for u in p["units"]],
    )


@router.get("/workers", response_model=list[WorkerOut], dependencies=[READ])
def list_workers(
    state: State,
    caller: CallerDep,
    q: Annotated[str | None, Query(max_length=100, description="Part of name or code")] = None,
    unit: Annotated[str | None, Query(description="Serving this unit or one below it")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: PageOffset = 0,
) -> list[WorkerOut]:
    """Grid workers and leaders with the units they serve / 网格员查询."""
    people = uc.list_workers(
        state.engine, CallerView(caller), q=q, unit=unit, limit=limit, offset=offset
    )
    return [_worker_out(p) for p in people]


@router.get("/workers/{code}", response_model=WorkerOut, dependencies=[READ])
def get_worker(state: State, caller: CallerDep, code: str) -> WorkerOut:
    return _worker_out(uc.get_worker(state.engine, CallerView(caller), code))


@router.put("/workers/{code}", response_model=WorkerOut, dependencies=[EDIT])
def put_worker(
    state: State, caller: CallerDep, code: CodePath, body: Annotated[WorkerIn, Body()]
) -> WorkerOut:
    """Create or replace a person and the units they serve (assignments kept as history)."""
    person = uc.put_worker(
        state.engine,
        CallerView(caller),
        code,
        name=body.name,
        role=body.role,
        phone=body.phone,
        unit_codes=body.units,
        who=caller,
        actor=body.actor,
        reason=body.reason,
    )
    return _worker_out(person)


@router.delete("/workers/{code}", status_code=204, dependencies=[EDIT])
def delete_worker(
    state: State,
    caller: CallerDep,
    code: str,
    actor: Annotated[str, Query(min_length=1, max_length=200)],
    reason: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    uc.delete_worker(state.engine, code, who=caller, actor=actor, reason=reason)
    return Response(status_code=204)
