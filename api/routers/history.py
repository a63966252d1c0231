"""A unit's history: every version (also under earlier codes), one version as a Feature,
and what changed between two versions (area gained and lost, attributes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from geo.services import history as hist

from api.auth import require_scope
from api.deps import State
from api.features import FeatureOut, geometry_out, jsonable, unit_feature
from api.schemas import CRSName, DbId
from api.validation import BIGINT_MAX

router = APIRouter(prefix="/v1", tags=["grid edits"])
READ = require_scope("read")


class VersionRow(BaseModel):
    version_id: int
    unit_id: int
    level: str
    code: str
    name: str
    parent_code: str | None
    valid_from: str | None = Field(description="ISO date-time")
    valid_to: str | None = Field(description="ISO date-time; null while live")
    author: str
    reason: str | None
    attrs: dict[str, Any] | None
    boundary_set_id: int
    area_m2: float


class VersionsOut(BaseModel):
    code: str
    versions: list[VersionRow]


class VersionDiffOut(BaseModel):
    code: str
    from_: dict[str, Any] = Field(alias="from", description="The earlier version's row")
    to: dict[str, Any] = Field(description="The later version's row")
    attributes: dict[str, dict[str, Any]] = Field(description='field → {"from", "to"}')
    area_from_m2: float
    area_to_m2: float
    gained_m2: float
    lost_m2: float
    gained: dict[str, Any] = Field(description="GeoJSON geometry of the area gained")
    lost: dict[str, Any] = Field(description="GeoJSON geometry of the area lost")
    crs: CRSName


@router.get("/units/{code}/versions", dependencies=[READ], response_model=VersionsOut)
def unit_versions(state: State, code: str) -> dict[str, Any]:
    """Every version of the unit (also under its earlier codes), oldest first."""
    rows = hist.unit_versions(state.engine, code)
    return jsonable({"code": code, "versions": rows})


@router.get("/units/{code}/versions/{version_id}", dependencies=[READ], response_model=FeatureOut)
def unit_version(
    state: State,
    code: str,
    version_id: DbId,
    crs: Annotated[CRSName, Query(description="CRS of the returned geometry")] = "wgs84",
) -> dict[str, Any]:
    data, geom = hist.unit_version(state.engine, code, version_id)
    return unit_feature(data, geom, crs)


@router.get(
    "/units/{code}/diff",
    dependencies=[READ],
    response_model=VersionDiffOut,
    response_model_by_alias=True,
)
def unit_diff(
    state: State,
    code: str,
    from_version: Annotated[int, Query(alias="from", ge=1, le=BIGINT_MAX)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=BIGINT_MAX)],
    crs: Annotated[CRSName, Query(description="CRS of the returned geometries")] = "wgs84",
) -> dict[str, Any]:
    """What changed between two versions: area gained and lost, attributes."""
    d = hist.compare_versions(state.engine, code, from_version, to_version)
    return jsonable(
        {
            "code": code,
            "from": d.before,
            "to": d.after,
            "attributes": d.attributes,
            "area_from_m2": d.area_from_m2,
            "area_to_m2": d.area_to_m2,
            "gained_m2": d.gained_m2,
            "lost_m2": d.lost_m2,
            "gained": geometry_out(d.gained, crs),
            "lost": geometry_out(d.lost, crs),
            "crs": crs,
        }
    )
