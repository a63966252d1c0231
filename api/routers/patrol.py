"""Patrol tracks in (GPX, GeoJSON, CSV pings) and coverage out (shares, gaps, stale grids).

The use cases are :mod:`geo.services.patrol`'s (shared with ``gridmap ingest tracks``
and ``gridmap coverage``); this router parses the request, checks the caller and
shapes the answer.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from geo.errors import InvalidInput
from geo.patrol.coverage import descendant_codes
from geo.services import patrol as service
from geo.services import policy

from api.auth import CallerDep, require_scope, require_unit_code
from api.deps import Geocoder, State
from api.validation import Label

router = APIRouter(prefix="/v1", tags=["patrol"])
MAX_TRACK_BYTES = 100 * 1024 * 1024


class TrackUploadReport(BaseModel):
    fixes_received: int
    fixes_kept: int
    dropped: dict[str, int]
    tracks: int
    new_tracks: int


class CoverageWindow(BaseModel):
    start: str
    end: str


class UnitCoverageResponse(BaseModel):
    """Rows as the coverage tables have them (``format=geojson``: the unvisited cells)."""

    code: str
    window: CoverageWindow
    unit: dict[str, Any]
    grids: list[dict[str, Any]]
    unvisited_cells: int
    stale_grids: list[dict[str, Any]]


def _check_uploader(engine, caller, worker_code: str) -> None:
    """The policy: a grid worker uploads their own tracks, others their units' workers."""
    with engine.connect() as conn:
        policy.require_uploader_of(conn, caller, worker_code)


@router.post(
    "/patrol/tracks",
    response_model=TrackUploadReport,
    dependencies=[require_scope("intake")],
    summary="Upload patrol tracks / 上传巡查轨迹",
)
async def upload_tracks(
    state: State,
    geocoder: Geocoder,
    caller: CallerDep,
    file: Annotated[UploadFile, File(description=".gpx, .geojson or .csv pings")],
    worker_id: Annotated[
        Label | None, Form(description="For GPX/GeoJSON without worker ids")
    ] = None,
    crs: Annotated[str | None, Form(description="wgs84|gcj02|bd09|cgcs2000 if not per row")] = None,
    mode: Annotated[Literal["foot", "bicycle", "vehicle"], Form()] = "foot",
) -> TrackUploadReport:
    """Cleaned (what was dropped and why is reported), cut at long silences, and turned
    into per-cell visits; uploading the same fixes again stores nothing new."""
    data = await file.read(MAX_TRACK_BYTES + 1)
    if len(data) > MAX_TRACK_BYTES:
        raise InvalidInput(
            "track file larger than 100 MiB; split it", "轨迹文件超过 100 MiB，请拆分"
        )
    report = await asyncio.to_thread(
        service.ingest_track_file,
        state.engine,
        geocoder.locator,
        data,
        file.filename or "upload",
        worker_id=worker_id,
        crs=crs,
        mode=mode,
        res=state.settings.h3_patrol_res,
        check_worker=lambda code: _check_uploader(state.engine, caller, code),
    )
    return TrackUploadReport(
        fixes_received=report.fixes_received,
        fixes_kept=report.fixes_kept,
        dropped=report.dropped,
        tracks=report.tracks,
        new_tracks=report.new_tracks,
    )


def _window(start: date | None, end: date | None, days: int) -> tuple[date, date]:
    end = end or date.today()
    start = start or end - timedelta(days=days - 1)
    if start > end:
        raise InvalidInput("start is after end", "开始日期晚于结束日期")
    return start, end


def _jsonable(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(
        frame.to_json(orient="records", date_format="iso", force_ascii=False)
    )
    return rows


@router.get(
    "/coverage/{code}",
    response_model=UnitCoverageResponse,
    dependencies=[require_scope("read")],
    summary="Patrol coverage of a unit / 巡查覆盖率",
    responses={200: {"content": {"application/geo+json": {}}}},
)
def unit_coverage(
    state: State,
    caller: CallerDep,
    code: str,
    start: Annotated[date | None, Query(description="First day (local)")] = None,
    end: Annotated[date | None, Query(description="Last day (local), default today")] = None,
    days: Annotated[int, Query(ge=1, le=366)] = 7,
    stale_days: Annotated[int, Query(ge=1, le=366)] = 7,
    format: Annotated[Literal["json", "geojson"], Query()] = "json",
) -> UnitCoverageResponse | JSONResponse:
    """Share of the unit's res-10 cells visited in the window, per grid below it, the
    unvisited cells as hexagons (``format=geojson``), and grids not patrolled lately."""
    start, end = _window(start, end, days)
    found = service.coverage_of(
        state.engine,
        code,
        start,
        end,
        stale_after_days=stale_days,
        check_unit=lambda chain: require_unit_code(caller, chain, code),
    )
    cov = found.coverage
    tree = descendant_codes(found.units, code)
    gaps = cov.gaps[cov.gaps["grid_code"].isin(tree)]
    if format == "geojson":
        return JSONResponse(
            json.loads(gaps.to_json(drop_id=True)), media_type="application/geo+json"
        )
    rows = cov.units[cov.units["code"].isin(tree)]
    stale = cov.stale[cov.stale["code"].isin(tree)]
    return UnitCoverageResponse(
        code=code,
        window=CoverageWindow(start=start.isoformat(), end=end.isoformat()),
        unit=_jsonable(rows[rows["code"] == code])[0],
        grids=_jsonable(rows[rows["level"] == "grid"]),
        unvisited_cells=len(gaps),
        stale_grids=_jsonable(stale[stale["level"] == "grid"]),
    )
