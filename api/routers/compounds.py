"""Compounds (小区、楼院) register: search, read, create, update, delete, and the grid of
every compound recomputed after boundaries changed. Every change is audited."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, Field

from geo.crs import from_wgs84, to_wgs84
from geo.services import registers as uc
from geo.store.registers import COMPOUND_FIELDS

from api.auth import CallerDep, require_scope
from api.deps import State
from api.schemas import Coordinate, CRSName, DbId, PageOffset
from api.validation import Actor, Address, Count, Label, Name, Reason

router = APIRouter(prefix="/v1/registers", tags=["registers"])
EDIT, READ = require_scope("edit"), require_scope("read")

ManagementType = Literal["property_company", "unit", "self_governed", "unowned"]


class LocationIn(BaseModel):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: CRSName = Field(description="CRS of lon/lat")


class CompoundIn(BaseModel):
    name: Name
    address: Address | None = None
    households: Count | None = None
    buildings: Count | None = None
    year_built: int | None = Field(default=None, ge=1800, le=2100)
    management_type: ManagementType
    location: LocationIn
    key: Label | None = Field(default=None, description="Stable key (编号)")
    actor: Actor
    reason: Reason | None = None


class CompoundPatch(BaseModel):
    name: Name | None = None
    address: Address | None = None
    households: Count | None = None
    buildings: Count | None = None
    year_built: int | None = Field(default=None, ge=1800, le=2100)
    management_type: ManagementType | None = None
    location: LocationIn | None = None
    actor: Actor
    reason: Reason | None = None


class CompoundOut(BaseModel):
    id: int
    key: str
    name: str
    address: str | None
    households: int | None
    buildings: int | None
    year_built: int | None
    management_type: str
    governance_status: str | None
    location: Coordinate = Field(description="Point on the compound's surface")
    geometry_type: str
    located_by: str | None = Field(description="coordinates, address, manual or map")
    match_score: float | None = Field(description="Forward-geocoder score when located by address")
    matched: str | None
    grid_code: str | None
    grid_name: str | None


class RecomputeOut(BaseModel):
    updated: int = Field(description="Compounds whose grid changed")


def wgs84(loc: LocationIn) -> tuple[float, float]:
    """A location in the body as WGS-84 lon, lat."""
    x, y = to_wgs84(loc.lon, loc.lat, loc.crs)
    return float(x), float(y)


def compound_out(r: dict, crs: CRSName = "wgs84") -> CompoundOut:
    """A compound as the register reads it, its point in ``crs``."""
    x, y = (float(v) for v in from_wgs84(r["lon"], r["lat"], crs))
    return CompoundOut(
        key=r["source_key"],
        location=Coordinate(lon=x, lat=y, crs=crs),
        **{k: r[k] for k in CompoundOut.model_fields if k not in ("key", "location")},
    )


@router.get("/compounds", response_model=list[CompoundOut], dependencies=[READ])
def list_compounds(
    state: State,
    q: Annotated[str | None, Query(max_length=100, description="Part of name or address")] = None,
    unit: Annotated[str | None, Query(description="Only inside this unit (any level)")] = None,
    management_type: ManagementType | None = None,
    crs: CRSName = "wgs84",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: PageOffset = 0,
) -> list[CompoundOut]:
    """Search and filter the compounds register / 小区（楼院）台账查询."""
    rows = uc.list_compounds(
        state.engine,
        q=q,
        unit=unit,
        management_type=management_type,
        limit=limit,
        offset=offset,
    )
    return [compound_out(r, crs) for r in rows]


@router.get("/compounds/{compound_id}", response_model=CompoundOut, dependencies=[READ])
def get_compound(state: State, compound_id: DbId, crs: CRSName = "wgs84") -> CompoundOut:
    return compound_out(uc.get_compound(state.engine, compound_id), crs)


@router.post("/compounds", status_code=201, response_model=CompoundOut, dependencies=[EDIT])
def create_compound(
    state: State, caller: CallerDep, body: Annotated[CompoundIn, Body()]
) -> CompoundOut:
    """Add a compound placed by hand; its grid follows from the location."""
    lon, lat = wgs84(body.location)
    fields = body.model_dump(include=set(COMPOUND_FIELDS))
    created = uc.create_compound(
        state.engine, fields, lon, lat, who=caller, actor=body.actor, key=body.key
    )
    return compound_out(created)


@router.patch("/compounds/{compound_id}", response_model=CompoundOut, dependencies=[EDIT])
def update_compound(
    state: State, caller: CallerDep, compound_id: DbId, body: Annotated[CompoundPatch, Body()]
) -> CompoundOut:
    """Change fields or move the compound (the grid is recomputed)."""
    changes = body.model_dump(include=set(COMPOUND_FIELDS), exclude_unset=True)
    if changes.get("name") is None:
        changes.pop("name", None)
    if changes.get("management_type") is None:
        changes.pop("management_type", None)
    lon = lat = None
    if body.location is not None:
        lon, lat = wgs84(body.location)
    updated = uc.update_compound(
        state.engine,
        compound_id,
        changes,
        who=caller,
        actor=body.actor,
        lon=lon,
        lat=lat,
        reason=body.reason,
    )
    return compound_out(updated)


@router.delete("/compounds/{compound_id}", status_code=204, dependencies=[EDIT])
def delete_compound(
    state: State,
    caller: CallerDep,
    compound_id: DbId,
    actor: Annotated[str, Query(min_length=1, max_length=200)],
    reason: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    uc.delete_compound(state.engine, compound_id, who=caller, actor=actor, reason=reason)
    return Response(status_code=204)


@router.post("/compounds/recompute-grids", response_model=RecomputeOut, dependencies=[EDIT])
def recompute_grids(state: State, caller: CallerDep) -> RecomputeOut:
    """Recompute every compound's grid from its location (after boundaries changed)."""
    return RecomputeOut(updated=uc.recompute_compound_grids(state.engine, who=caller))
