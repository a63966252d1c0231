"""OGC API – Features at ``/ogc`` (Part 1 core, GeoJSON, Part 2 CRS) for GIS clients.

Read side: landing page, conformance, collections (districts, streets, communities,
grids, special-grids: the live map) and their items with bbox, paging and ``crs``.
A single feature carries ``ETag: "<version id>"``, which the edit API takes as
``If-Match``.

``OPTIONS`` on ``/collections/{id}/items`` and ``/items/{featureId}`` answers the
methods in ``Allow``: QGIS offers editing only when it sees write methods there
(qgis/QGIS #52504, #65120). For grids and special-grids the write methods (POST on
items; PUT, PATCH, DELETE on an item — OGC API – Features Part 4) are announced here
and handled in ``api/routers/ogc_write.py`` through the edit API's store functions
(same validation, concurrency and audit as every other edit).

Invalid query parameters get 400 (as Part 1 requires), as problem+json in English and
Chinese; a limit above 10,000 is lowered to 10,000, not refused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from geo import ogc
from geo.errors import InvalidInput, NotFound
from geo.store import ogc as ostore
from geo.store.ogc import read_snapshot

from api.auth import require_scope
from api.deps import State
from api.errors import problem
from api.ogc_models import CollectionDoc, Collections, Conformance, LandingPage

router = APIRouter(prefix="/ogc", tags=["OGC API – Features"], dependencies=[require_scope("read")])


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + router.prefix


def _collection(collection_id: str) -> ogc.Collection:
    try:
        return ogc.collection_by_id(collection_id)
    except ogc.InvalidCollection as exc:
        raise NotFound(exc.message, exc.message_zh) from None


def _bad_request(request: Request, exc: InvalidInput) -> JSONResponse:
    return problem(400, exc.slug, exc.message, exc.message_zh, request.url.path, **exc.extra)


@router.get("", summary="Landing page", response_model=LandingPage)
async def landing(request: Request) -> JSONResponse:
    root = str(request.base_url).rstrip("/")
    body = ogc.landing_document(
        _base(request),
        openapi_url=f"{root}{request.app.openapi_url}",
        docs_url=f"{root}/docs",
    )
    return JSONResponse(body)


@router.get("/conformance", summary="Conformance classes", response_model=Conformance)
async def conformance() -> JSONResponse:
    return JSONResponse({"conformsTo": ogc.CONFORMANCE})


@router.get(
    "/api",
    summary="The API definition (redirects to the OpenAPI document)",
    response_class=RedirectResponse,
    status_code=303,
)
async def api_definition(request: Request) -> RedirectResponse:
    return RedirectResponse(request.app.openapi_url, status_code=303)


@router.get(
    "/collections", summary="Feature collections of the live map", response_model=Collections
)
def collections(request: Request, state: State) -> JSONResponse:
    base = _base(request)
    with read_snapshot(state.engine) as conn:
        docs = [_collection_doc(conn, c, base) for c in ogc.COLLECTIONS.values()]
    return JSONResponse(
        {
            "links": [
                {
                    "href": f"{base}/collections",
                    "rel": "self",
                    "type": ogc.JSON,
                    "title": "collections",
                }
            ],
            "collections": docs,
            "crs": list(ogc.SUPPORTED_CRS),
        }
    )


def _collection_doc(conn, collection: ogc.Collection, base: str) -> dict:
    extent, first = ostore.collection_extent(conn, collection)
    return ogc.collection_document(
        collection, base, extent=extent, first_valid_from=_iso(first) if first else None
    )


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


@router.get(
    "/collections/{collection_id}", summary="One feature collection", response_model=CollectionDoc
)
def collection(request: Request, state: State, collection_id: str) -> JSONResponse:
    c = _collection(collection_id)
    with read_snapshot(state.engine) as conn:
        return JSONResponse(_collection_doc(conn, c, _base(request)))


@router.head("/collections/{collection_id}/items", include_in_schema=False, response_class=Response)
@router.get(
    "/collections/{collection_id}/items",
    summary="Features of a collection (GeoJSON)",
    response_class=Response,
    responses={200: {"content": {ogc.GEOJSON: {}}}},
)
def items(
    request: Request,
    state: State,
    collection_id: str,
    limit: Annotated[
        int | None,
        Query(
            description="Page size, 1–10,000 (default 100; larger values are lowered)",
            json_schema_extra={"minimum": 1, "maximum": ogc.MAX_LIMIT, "default": 100},
        ),
    ] = None,
    offset: Annotated[int | None, Query(description="Features to skip (paging)")] = None,
    bbox: Annotated[
        str | None,
        Query(description="minx,miny,maxx,maxy in the axis order of bbox-crs (default CRS84)"),
    ] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description="CRS of bbox")] = None,
    crs: Annotated[
        str | None,
        Query(description="Output CRS: CRS84 (default, lon/lat), EPSG:4326 or 4490 (lat/lon)"),
    ] = None,
) -> Response:
    c = _collection(collection_id)
    try:
        out_crs = ogc.parse_crs(crs)
        box_crs = ogc.parse_crs(bbox_crs, param="bbox-crs")
        box = ogc.parse_bbox(bbox, box_crs)
        page_limit, page_offset = ogc.parse_paging(limit, offset)
    except InvalidInput as exc:
        return _bad_request(request, exc)
    with read_snapshot(state.engine) as conn:
        matched = ostore.count_features(conn, c, bbox=box, bbox_srid=box_crs.srid)
        features = ostore.feature_page(
            conn,
            c,
            out_crs,
            limit=page_limit,
            offset=page_offset,
            bbox=box,
            bbox_srid=box_crs.srid,
        )
    items_url = f"{_base(request)}/collections/{c.id}/items"
    kept: dict[str, str | int | None] = {"bbox": bbox, "bbox-crs": bbox_crs, "crs": crs}
    links = ogc.items_links(
        items_url,
        kept,
        limit=page_limit,
        offset=page_offset,
        returned=len(features),
        matched=matched,
    )
    links.append(
        {
            "href": f"{_base(request)}/collections/{c.id}",
            "rel": "collection",
            "type": ogc.JSON,
            "title": "the collection",
        }
    )
    head = json.dumps(
        {
            "type": "FeatureCollection",
            "numberMatched": matched,
            "numberReturned": len(features),
            "timeStamp": _iso(datetime.now(UTC)),
            "links": links,
        },
        ensure_ascii=False,
    )
    # The features are GeoJSON text from PostGIS; splice them in rather than re-encode.
    body = f'{head[:-1]}, "features": [{",".join(features)}]}}'
    return Response(
        body,
        media_type=ogc.GEOJSON,
        headers={"Content-Crs": f"<{out_crs.uri}>"},
    )


@router.head(
    "/collections/{collection_id}/items/{feature_id}",
    include_in_schema=False,
    response_class=Response,
)
@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    summary="One feature by code; ETag = its live version id",
    response_class=Response,
    responses={200: {"content": {ogc.GEOJSON: {}}}, 304: {"description": "ETag matches"}},
)
def item(
    request: Request,
    state: State,
    collection_id: str,
    feature_id: str,
    crs: Annotated[
        str | None,
        Query(description="Output CRS: CRS84 (default, lon/lat), EPSG:4326 or 4490 (lat/lon)"),
    ] = None,
) -> Response:
    c = _collection(collection_id)
    try:
        out_crs = ogc.parse_crs(crs)
    except InvalidInput as exc:
        return _bad_request(request, exc)
    found = None
    if "\x00" not in feature_id:  # PostgreSQL text cannot hold NUL: no such code
        with read_snapshot(state.engine) as conn:
            found = ostore.feature_by_code(conn, c, feature_id, out_crs)
    if found is None:
        raise NotFound(
            f"no live feature {feature_id!r} in {c.id}",
            f"{c.title_zh}中没有编码为 {feature_id!r} 的现行要素",
        )
    feature, version = found
    etag = f'"{version}"'
    headers = {"ETag": etag, "Content-Crs": f"<{out_crs.uri}>"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    base = f"{_base(request)}/collections/{c.id}"
    links = json.dumps(
        [
            {
                "href": f"{base}/items/{quote(feature_id, safe='')}",
                "rel": "self",
                "type": ogc.GEOJSON,
            },
            {"href": base, "rel": "collection", "type": ogc.JSON},
        ],
        ensure_ascii=False,
    )
    body = f'{feature[:-1]}, "links": {links}}}'
    return Response(body, media_type=ogc.GEOJSON, headers=headers)


@router.options(
    "/collections/{collection_id}/items",
    summary="Methods allowed on items",
    response_class=Response,
    status_code=204,
)
async def items_options(collection_id: str) -> Response:
    c = _collection(collection_id)
    return Response(
        status_code=204, headers={"Allow": ", ".join(ogc.allowed_methods(c, item=False))}
    )


@router.options(
    "/collections/{collection_id}/items/{feature_id}",
    summary="Methods allowed on a feature",
    response_class=Response,
    status_code=204,
)
async def item_options(collection_id: str, feature_id: str) -> Response:
    c = _collection(collection_id)
    return Response(
        status_code=204, headers={"Allow": ", ".join(ogc.allowed_methods(c, item=True))}
    )
