"""Response bodies (pydantic). Every coordinate states its CRS."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

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


class ReverseGeocodeResponse(BaseModel):
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
    border_rule: str = Field(
        default="a point on a shared border belongs to the grid with the smallest code"
    )


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    database: str
    postgis: str | None
    live_units: int
    grids_indexed: int
    boundary_version: str
