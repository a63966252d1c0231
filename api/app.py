"""The FastAPI application factory (run with ``uvicorn --factory api.app:create_app``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from geo.settings import Settings
from geo.store.db import make_engine

from api.errors import install_error_handlers
from api.limits import install_input_guard
from api.routers import (
    aliases,
    audit,
    boundary_sets,
    campaign,
    compounds,
    dashboard,
    geocode,
    geocode_batch,
    grids,
    health,
    heat,
    history,
    incidents,
    ledgers,
    ogc,
    ogc_write,
    open311,
    pages,
    patrol,
    special_grids,
    tiles,
    workers,
    workload,
)
from api.security import install_security
from api.sessions import install_sessions
from api.state import ApiState, settle_heap
from web_map.assets import STATIC_DIR, use_local_assets
from web_map.templating import use_template_folder

log = logging.getLogger(__name__)


async def _refresh_loop(state: ApiState, every_s: float) -> None:
    # Each worker process checks the live boundary version and rebuilds its own index.
    while True:
        await asyncio.sleep(every_s)
        try:
            if await asyncio.to_thread(state.refresh):
                settle_heap()
        except Exception:  # a DB hiccup must not kill the loop; the next round retries
            log.exception("boundary index refresh failed")


async def _purge_loop(state: ApiState, every_s: float) -> None:
    # Personal data: raw GPS tracks past their keeping time go without anyone asking.
    while True:
        await asyncio.sleep(every_s)
        try:
            deleted = await asyncio.to_thread(state.scheduled_purge)
            if deleted:
                log.info("scheduled purge deleted %d raw patrol tracks", deleted)
        except Exception:  # e.g. PostGIS down: try again next time
            log.exception("scheduled purge failed")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    use_local_assets("/static")
    use_template_folder(settings.template_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = make_engine(settings)
        state = ApiState(settings, engine)
        app.state.service = state
        try:
            await asyncio.to_thread(state.refresh)
        except Exception:  # start anyway; /healthz reports the database problem
            log.exception("could not build the boundary index at start-up")
        settle_heap()
        tasks = [asyncio.create_task(_refresh_loop(state, settings.refresh_seconds))]
        if settings.purge_interval_hours > 0:
            every = settings.purge_interval_hours * 3600
            tasks.append(asyncio.create_task(_purge_loop(state, every)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            engine.dispose()

    # FastAPI's native OpenTelemetry looks up the global providers on every request;
    # off unless the operator turns it on (GRIDMAP_OTEL=1 with an OTel SDK configured).
    otel = settings.otel
    app = FastAPI(
        telemetry={"tracing": otel, "metrics": otel, "logs": otel},
        title="网格地图服务 Grid map service",
        summary="Four-level grid map, geocoding, incidents and patrols for grid-based governance.",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_input_guard(app)  # inside the size limits: it reads bodies they bounded
    install_security(app, settings)
    install_sessions(app)  # /login, /logout; signed-out pages go to /login
    app.include_router(health.router)
    app.include_router(geocode.router)
    app.include_router(aliases.router)
    app.include_router(geocode_batch.router)
    app.include_router(boundary_sets.router)
    app.include_router(grids.router)
    app.include_router(history.router)
    app.include_router(audit.router)
    app.include_router(special_grids.router)
    app.include_router(heat.router)  # before incidents: /heat is not an {incident_id}
    app.include_router(incidents.router)
    app.include_router(open311.router)
    app.include_router(patrol.router)
    app.include_router(pages.router)
    app.include_router(dashboard.router)
    app.include_router(ogc.router)
    app.include_router(ogc_write.router)
    app.include_router(tiles.router)
    app.include_router(compounds.router)
    app.include_router(workers.router)
    app.include_router(ledgers.router)
    app.include_router(campaign.router)
    app.include_router(workload.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # The hottest endpoint first, as a plain route (see geocode.lean_routes).
    app.router.routes[:0] = geocode.lean_routes()
    return app
