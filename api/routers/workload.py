"""The workload per grid (网格工作量): households, population, compounds, unowned
compounds, special grids and incidents per month, to spot grids too big or too small."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from geo.services import registers as uc

from api.auth import require_scope
from api.deps import State

router = APIRouter(prefix="/v1/registers", tags=["registers"])
READ = require_scope("read")


class WorkloadOut(BaseModel):
    code: str
    name: str
    households: int
    population: int | None
    compounds: int
    unowned: int
    special_grids: int
    incidents_per_month: float
    incidents_by_month: dict[str, int]


class WorkloadResponse(BaseModel):
    months: list[str]
    grids: list[WorkloadOut]


@router.get("/workload", response_model=WorkloadResponse, dependencies=[READ])
def workload(state: State, months: Annotated[int, Query(ge=1, le=36)] = 6) -> WorkloadResponse:
    """Per grid: households, population, compounds, unowned compounds, special grids,
    incidents per month: to spot grids that are too big or too small."""
    return WorkloadResponse(**uc.workload(state.engine, months))
