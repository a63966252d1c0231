"""Incident heat: counts per H3 cell, per-grid totals and rates, change vs the last window."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from geo.incidents import heat
from geo.incidents.categories import check_categories
from geo.store import heat as hstore

from api.auth import CallerDep, area_within_jurisdiction, require_scope
from api.deps import State

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])


class HeatWindow(BaseModel):
    from_: str = Field(alias="from", description="Start, included (ISO datetime)")
    to: str = Field(description="End, excluded (ISO datetime)")
    days: float


class HeatCell(BaseModel):
    cell: str = Field(description="H3 cell id (hex string)")
    count: int = Field(description="Incidents in the window")
    previous: int = Field(description="Incidents in the previous window of equal length")
    change: int
    change_pct: float | None = Field(description="Change in percent; null if previous is 0")
    rising: bool = Field(description="Gained ≥ 3 and at least doubled (a rising hotspot)")


class HeatGrid(BaseModel):
    unit_id: int
    code: str
    name: str
    community_code: str | None
    street_code: str | None
    count: int
    previous: int
    change: int
    households: int = Field(description="Households of the compounds in the grid")
    per_1000_households: float | None
    previous_per_1000_households: float | None


class HeatFilters(BaseModel):
    category: list[str]
    street: str | None
    community: str | None


class HeatAnswer(BaseModel):
    res: int
    window: HeatWindow
    previous_window: HeatWindow
    filters: HeatFilters
    total: int
    previous_total: int
    grids: list[HeatGrid]
    cells: list[HeatCell]


def _window_json(w: heat.Window) -> dict:
    return {"from": w.start.isoformat(), "to": w.end.isoformat(), "days": round(w.days, 6)}


@router.get(
    "/heat",
    dependencies=[require_scope("read")],
    summary="Incident heat per H3 cell / 事件热力",
    response_model=HeatAnswer,
    response_model_by_alias=True,
    responses={
        200: {
            "content": {
                "application/geo+json": {
                    "schema": {"description": "FeatureCollection of cell hexagons"}
                }
            }
        }
    },
)
def incident_heat(
    state: State,
    caller: CallerDep,
    res: Annotated[
        int | None, Query(ge=heat.MIN_RES, le=heat.MAX_RES, description="H3 resolution 7–12")
    ] = None,
    start: Annotated[
        str | None,
        Query(alias="from", description="Start: ISO date (Beijing day) or datetime, included"),
    ] = None,
    end: Annotated[
        str | None,
        Query(alias="to", description="End: ISO date (that day included) or datetime, excluded"),
    ] = None,
    days: Annotated[int, Query(ge=1, le=366, description="Window length without from/to")] = 30,
    category: Annotated[list[str] | None, Query(description="Category code (repeat)")] = None,
    street: Annotated[str | None, Query(description="Street code")] = None,
    community: Annotated[str | None, Query(description="Community code")] = None,
    format: Annotated[Literal["json", "geojson"], Query()] = "json",
):
    """Incidents reported in the window ``[from, to)`` per H3 cell (ids as hex strings),
    per grid with the rate per 1,000 households of the grid's compounds, and the change
    against the previous window of equal length (rising hotspots). Without ``to`` the
    window ends with the day of the newest incident. ``format=geojson`` answers a
    FeatureCollection of the cells' hexagons; the per-grid totals and windows ride along
    as foreign members."""
    res = res or state.settings.h3_heatmap_res
    categories = check_categories(category, state.case_rules.categories)
    with state.engine.connect() as conn:
        street, community = area_within_jurisdiction(caller, conn, street, community)
        f = hstore.heat_figures(
            conn,
            res=res,
            start=start,
            end=end,
            days=days,
            categories=categories,
            street=street,
            community=community,
        )
    window: heat.Window = f["window"]
    cells = f["cells"]
    body = {
        "res": res,
        "window": _window_json(window),
        "previous_window": _window_json(window.previous),
        "filters": {
            "category": categories,
            "street": street,
            "community": community,
        },
        "total": int(cells["count"].sum()),
        "previous_total": int(cells["previous"].sum()),
        "grids": heat.grid_records(f["grids"]),
    }
    if format == "geojson":
        doc = heat.cell_features(cells)
        return JSONResponse({**doc, **body}, media_type="application/geo+json")
    return {**body, "cells": heat.cell_records(cells)}
