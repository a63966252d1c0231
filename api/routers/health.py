"""Liveness and readiness: is the database reachable, is the grid index loaded."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import func, select, text

from geo.store import boundaries as bstore

from api.deps import State
from api.schemas import HealthResponse

router = APIRouter(tags=["health"])


class Alive(BaseModel):
    status: Literal["alive"]


@router.get("/livez", summary="Liveness / 存活检查", response_model=Alive)
async def livez() -> dict[str, str]:
    """The process answers; no database call (for orchestrators' liveness probes)."""
    return {"status": "alive"}


@router.get("/healthz", response_model=HealthResponse, summary="Health / 健康检查")
def healthz(state: State):
    try:
        with state.engine.connect() as conn:
            postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar()
            live = conn.execute(
                select(func.count()).select_from(bstore.live_units_subquery())
            ).scalar_one()
            version = bstore.live_boundary_version(conn)
        database = "ok"
    except Exception as exc:  # any DB failure makes us unhealthy, reported not raised
        body = HealthResponse(
            status="degraded",
            database=f"error: {type(exc).__name__}",
            postgis=None,
            live_units=0,
            grids_indexed=0,
            boundary_version="",
        )
        return JSONResponse(body.model_dump(), status_code=503)
    geocoder = state.geocoder
    return HealthResponse(
        status="ok",
        database=database,
        postgis=postgis,
        live_units=live,
        grids_indexed=len(geocoder.locator) if geocoder else 0,
        boundary_version=version,
    )
