"""Patrol tracks in (GPX, GeoJSON, CSV pings) and coverage out (shares, gaps, stale grids)."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import JSONResponse

from geo.errors import InvalidInput, NotFound
from geo.patrol import coverage, trackfiles
from geo.store import activity, registers
from geo.store import boundaries as bstore
from geo.store.patrol_ingest import ingest_pings

from api.auth import CallerDep, require_own_worker, require_scope, require_unit_code
from api.deps import Geocoder, State

router = APIRouter(prefix="/v1", tags=["patrol"])
MAX_TRACK_BYTES = 100 * 1024 * 1024


def ingest_file(
    state, locator, data: bytes, filename: str, worker_id, crs, mode, caller=None
) -> dict:
    pings = trackfiles.read_track_file(data, filename, worker_id=worker_id, crs=crs)
    if caller is not None:
        for code in sorted(set(pings["worker_id"].astype(str))):
            require_own_worker(caller, code)
    with state.engine.begin() as conn:
        workers = registers.worker_ids(conn)
        unknown = sorted(set(pings["worker_id"].astype(str)) - set(workers))
        if unknown:
            raise InvalidInput(
                f"unknown worker id(s) {unknown[:10]}; register them first",
                f"未登记的人员编号 {unknown[:10]}；请先登记",
                unknown_workers=unknown[:100],
            )
        district = bstore.units_frame(conn, levels=("district",)).geometry.union_all()
        result = ingest_pings(
            conn,
            pings,
            workers,
            locator,
            res=state.settings.h3_patrol_res,
            mode=mode,
            district=district,
        )
    return {
        "fixes_received": len(pings),
        "fixes_kept": result.fixes_kept,
        "dropped": result.dropped,
        "tracks": result.tracks,
        "new_tracks": result.new_tracks,
    }


@router.post(
    "/patrol/tracks",
    dependencies=[require_scope("intake")],
    summary="Upload patrol tracks / 上传巡查轨迹",
)
async def upload_tracks(
    state: State,
    geocoder: Geocoder,
    caller: CallerDep,
    file: Annotated[UploadFile, File(description=".gpx, .geojson or .csv pings")],
    worker_id: Annotated[str | None, Form(description="For GPX/GeoJSON without worker ids")] = None,
    crs: Annotated[str | None, Form(description="wgs84|gcj02|bd09|cgcs2000 if not per row")] = None,
    mode: Annotated[Literal["foot", "bicycle", "vehicle"], Form()] = "foot",
) -> dict:
    """Cleaned (what was dropped and why is reported), cut at long silences, and turned
    into per-cell visits; uploading the same fixes again stores nothing new."""
    data = await file.read(MAX_TRACK_BYTES + 1)
    if len(data) > MAX_TRACK_BYTES:
        raise InvalidInput(
            "track file larger than 100 MiB; split it", "轨迹文件超过 100 MiB，请拆分"
        )
    return await asyncio.to_thread(
        ingest_file,
        state,
        geocoder.locator,
        data,
        file.filename or "upload",
        worker_id,
        crs,
        mode,
        caller,
    )


def _window(start: date | None, end: date | None, days: int) -> tuple[date, date]:
    end = end or date.today()
    start = start or end - timedelta(days=days - 1)
    if start > end:
        raise InvalidInput("start is after end", "开始日期晚于结束日期")
    return start, end


def _jsonable(frame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", date_format="iso", force_ascii=False))


@router.get(
    "/coverage/{code}",
    dependencies=[require_scope("read")],
    summary="Patrol coverage of a unit / 巡查覆盖率",
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
):
    """Share of the unit's res-10 cells visited in the window, per grid below it, the
    unvisited cells as hexagons (``format=geojson``), and grids not patrolled lately."""
    start, end = _window(start, end, days)
    with state.engine.connect() as conn:
        chain = bstore.chain_unit_ids(conn, code)
        if not chain:
            raise NotFound(f"no live unit has code {code}", f"没有编码为 {code} 的现行单元")
        require_unit_code(caller, chain, code)
        units = bstore.units_frame(conn)
        visits = activity.visits_frame(conn, end=end)
    cov = coverage.coverage(units, visits, start, end, stale_after_days=stale_days)
    tree = _descendant_codes(units, code)
    gaps = cov.gaps[cov.gaps["grid_code"].isin(tree)]
    if format == "geojson":
        return JSONResponse(
            json.loads(gaps.to_json(drop_id=True)), media_type="application/geo+json"
        )
    rows = cov.units[cov.units["code"].isin(tree)]
    stale = cov.stale[cov.stale["code"].isin(tree)]
    return {
        "code": code,
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "unit": _jsonable(rows[rows["code"] == code])[0],
        "grids": _jsonable(rows[rows["level"] == "grid"]),
        "unvisited_cells": len(gaps),
        "stale_grids": _jsonable(stale[stale["level"] == "grid"]),
    }


def _descendant_codes(units, code: str) -> set[str]:
    children: dict[str, list[str]] = {}
    for c, p in zip(units["code"], units["parent_code"], strict=True):
        children.setdefault(p, []).append(c)
    out, todo = {code}, [code]
    while todo:
        for c in children.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out
