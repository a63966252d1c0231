"""Vector tiles (MVT) of the four levels and the special grids, versioned in the URL.

``/tiles/{layer}.json`` (TileJSON 3.0) names the current URL template
``/tiles/v/{version}/{layer}/{z}/{x}/{y}.mvt``. Tiles under a version never change, so
they are served ``immutable``; a publish or an edit moves the version, and clients
that re-read the TileJSON ask for new URLs (tile caches go stale otherwise:
maplibre/martin #288, #1578). A tile asked for under an old version is redirected to
the current one, uncached. ``/tiles/{layer}/{z}/{x}/{y}.mvt`` serves the live map
without a version, for clients that cannot read TileJSON, and must be revalidated.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from geo.errors import NotFound
from geo.store import tiles as tstore
from geo.store.ogc import read_snapshot

from api.auth import require_scope
from api.deps import State
from api.ogc_models import TileJSON

router = APIRouter(prefix="/tiles", tags=["vector tiles"], dependencies=[require_scope("read")])

MVT = "application/vnd.mapbox-vector-tile"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_FIELDS = {
    "code": "String: unit code",
    "name": "String: name",
    "level": "String: district, street, community, grid or special_grid",
    "version": "Number: live version id",
}


def _layer(name: str) -> tstore.Layer:
    layer = tstore.LAYERS.get(name)
    if layer is None:
        raise NotFound(
            f"no tile layer {name!r}; the layers are: {', '.join(tstore.LAYERS)}",
            f"没有名为 {name!r} 的瓦片图层；可用图层：{'、'.join(tstore.LAYERS)}",
        )
    return layer


def _tile_coords(z: str, x: str, y: str) -> tuple[int, int, int]:
    try:
        zi, xi, yi = int(z), int(x), int(y)
    except ValueError:
        zi = xi = yi = -1
    if not (0 <= zi <= tstore.MAX_ZOOM and 0 <= xi < 2**zi and 0 <= yi < 2**zi):
        raise NotFound(
            f"no tile {z}/{x}/{y}: z must be 0–{tstore.MAX_ZOOM} and x, y within 0…2^z−1",
            f"瓦片 {z}/{x}/{y} 不存在：z 应为 0–{tstore.MAX_ZOOM}，x、y 应在 0…2^z−1 之内",
        )
    return zi, xi, yi


def _tile_url(request: Request, version: str, layer: str) -> str:
    root = str(request.base_url).rstrip("/")
    return f"{root}{router.prefix}/v/{version}/{layer}/{{z}}/{{x}}/{{y}}.mvt"


@router.get(
    "/{layer}.json",
    summary="TileJSON of a layer, naming the current versioned URL",
    response_model=TileJSON,
)
def tilejson(request: Request, state: State, layer: str) -> JSONResponse:
    lyr = _layer(layer)
    with read_snapshot(state.engine) as conn:
        version = tstore.tiles_version(conn)
        bounds = tstore.layer_bounds(conn, lyr)
    fields = dict(_FIELDS)
    if lyr.level == "special_grid":
        fields.update(kind="String: school, hospital, …", responsible_unit="String")
    else:
        fields["parent_code"] = "String: code of the unit above"
    body = {
        "tilejson": "3.0.0",
        "name": f"{lyr.title_zh} {lyr.name}",
        "description": "Live boundaries of the grid map; the URL changes with each edit.",
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [_tile_url(request, version, lyr.name)],
        "minzoom": 0,
        "maxzoom": tstore.MAX_ZOOM,
        "vector_layers": [
            {"id": lyr.name, "fields": fields, "minzoom": 0, "maxzoom": tstore.MAX_ZOOM}
        ],
        "gridmap_version": version,
    }
    if bounds is not None:
        body["bounds"] = list(bounds)
        body["center"] = [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, 12]
    return JSONResponse(
        body, headers={"Cache-Control": REVALIDATE, "ETag": f'"{version}-{lyr.name}"'}
    )


@router.get(
    "/v/{version}/{layer}/{z}/{x}/{y}.mvt",
    summary="One vector tile of the map version named in the URL (immutable)",
    response_class=Response,
    responses={200: {"content": {MVT: {}}}, 307: {"description": "old version: current URL"}},
)
def versioned_tile(
    request: Request, state: State, version: str, layer: str, z: str, x: str, y: str
) -> Response:
    lyr = _layer(layer)
    zi, xi, yi = _tile_coords(z, x, y)
    with read_snapshot(state.engine) as conn:
        current = tstore.tiles_version(conn)
        if version != current:
            url = _tile_url(request, current, lyr.name).format(z=zi, x=xi, y=yi)
            return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
        data = tstore.tile(conn, lyr, zi, xi, yi)
    return Response(
        data, media_type=MVT, headers={"Cache-Control": IMMUTABLE, "ETag": f'"{current}"'}
    )


@router.get(
    "/{layer}/{z}/{x}/{y}.mvt",
    summary="One vector tile of the live map (revalidate; prefer the versioned URL)",
    response_class=Response,
    responses={200: {"content": {MVT: {}}}},
)
def live_tile(request: Request, state: State, layer: str, z: str, x: str, y: str) -> Response:
    lyr = _layer(layer)
    zi, xi, yi = _tile_coords(z, x, y)
    with read_snapshot(state.engine) as conn:
        current = tstore.tiles_version(conn)
        etag = f'"{current}"'
        headers = {"Cache-Control": REVALIDATE, "ETag": etag}
        if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers=headers)
        data = tstore.tile(conn, lyr, zi, xi, yi)
    return Response(data, media_type=MVT, headers=headers)
