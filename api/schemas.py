"""Response bodies (pydantic). Every coordinate states its CRS."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from geo.lookup.locator import BORDER_RULE
from geo.vocab import LEVELS

CRSName = Literal["wgs84", "gcj02", "bd09", "cgcs2000"]


class Coordinate(BaseModel):
    lon: float
    lat: float
    crs: CRSName


class Unit(BaseModel):
    id: int = Field(description="Stable unit id (kept across boundary versions)")
    code: str
    name: str


class PersonOut(BaseModel):
    worker_code: str
    name: str
    role: str
    phone: str | None = Field(description="Masked (138****5678) for callers without a scope")


class SpecialGridOut(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    responsible_unit: str


class BorderOut(BaseModel):
    distance_m: float = Field(description="Distance from the point to its grid's border")
    tolerance_m: float
    neighbour: Unit | None = Field(
        description="The grid across the nearest border, when closer than the tolerance "
        "(the answer may then be ambiguous: check the CRS and the GPS accuracy)"
    )


# Top-level members of the reverse answer that `fields=` can pick, and shorthands.
REVERSE_FIELDS = (
    "query",
    "location",
    "district",
    "street",
    "community",
    "grid",
    "special_grids",
    "grid_workers",
    "grid_leaders",
    "responsible",
    "border",
    "h3",
    "boundary_version",
    "at",
    "border_rule",
)
REVERSE_FIELD_GROUPS = {
    "chain": LEVELS,
    "people": ("grid_workers", "grid_leaders"),
}
# Always in the answer, whatever `fields` says.
REVERSE_ALWAYS = ("grid", "boundary_version")


class ReverseQuery(BaseModel):
    """The query parameters of ``GET /v1/geocode/reverse`` (documented from this model)."""

    lon: float = Field(ge=-180, le=180, description="Longitude in `crs`")
    lat: float = Field(ge=-90, le=90, description="Latitude in `crs`")
    crs: CRSName = Field("wgs84", description="CRS of lon/lat")
    at: datetime | None = Field(
        None, description="Answer from the boundaries in force at this time (with a time zone)"
    )
    out_crs: CRSName = Field("wgs84", description="CRS of the returned location")
    category: str | None = Field(
        None, description="Incident category: also say who is responsible (`responsible`)"
    )
    tolerance_m: float = Field(
        10.0, ge=0, le=1000, description="Report the neighbour grid within this distance"
    )
    fields: str | None = Field(
        None,
        description="Comma-separated members to return, for a smaller and faster answer: "
        + ", ".join(REVERSE_FIELDS)
        + "; `chain` stands for district, street, community, grid and `people` for "
        "grid_workers, grid_leaders. `grid` and `boundary_version` always come back, "
        "`responsible` and `at` whenever `category` / `at` are given. Unknown names: 422. "
        "Default: everything.",
        examples=["grid,community,people,h3"],
    )


def _only_grid_required(schema: dict[str, Any]) -> None:
    # `fields=` may leave any other member out; when it is absent all are present.
    schema["required"] = list(REVERSE_ALWAYS)


class ReverseGeocodeResponse(BaseModel):
    """Every member is present unless `fields` left it out."""

    model_config = ConfigDict(json_schema_extra=_only_grid_required)

    query: Coordinate
    location: Coordinate = Field(description="The point as looked up, in `out_crs`")
    district: Unit | None
    street: Unit | None
    community: Unit | None
    grid: Unit
    special_grids: list[SpecialGridOut] = Field(
        description="Special grids (schools, hospitals …) containing the point"
    )
    grid_workers: list[PersonOut]
    grid_leaders: list[PersonOut]
    responsible: dict | None = Field(
        default=None,
        description="Who must act for an incident of `category` here: a special grid's "
        "unit by the precedence rules, else the grid (属地兜底); only when asked",
    )
    border: BorderOut
    h3: dict[str, str] = Field(description="H3 cell (hex) by resolution, e.g. {'9': '89…'}")
    boundary_version: str
    at: str | None = Field(default=None, description="The date asked for (history), if any")
    border_rule: str = Field(default=BORDER_RULE)


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    database: str
    postgis: str | None
    live_units: int
    grids_indexed: int
    boundary_version: str


# A database id in a path: positive and within BIGINT, so a huge number is a 422 and
# never reaches PostgreSQL as an out-of-range value (a 500).
DbId = Annotated[int, Path(ge=1, le=2**63 - 1)]
# Rows to skip when paging a list: bounded like DbId (a huge offset is a 422, not a
# PostgreSQL "bigint out of range").
PageOffset = Annotated[int, Query(ge=0, le=2**53, description="Rows to skip (paging)")]
