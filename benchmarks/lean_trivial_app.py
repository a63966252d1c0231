"""The service plus one benchmark-only route, for a like-for-like baseline.

The single-point reverse is served by a plain Starlette route put ahead of FastAPI's
routes (api/routers/geocode.lean_routes), while ``/livez`` is an ordinary FastAPI
route. ``/livez-lean`` answers what ``/livez`` answers, routed the way the reverse
is, so ``bench_http_reverse --lean-trivial`` can also report the ratio with the
routing cost equal on both sides. Not part of the service.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.app import create_app as _service_app


async def _livez_lean(request: Request) -> JSONResponse:
    return JSONResponse({"status": "alive"})


def create_app():
    app = _service_app()
    # Right after the lean reverse route: each of the two passes one route it is not.
    app.router.routes.insert(1, Route("/livez-lean", _livez_lean, methods=["GET"]))
    return app
