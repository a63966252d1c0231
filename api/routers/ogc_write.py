"""OGC API – Features Part 4 writes on ``grids`` and ``special-grids`` (QGIS editing).

Every write goes through the same use cases as the edit API (:mod:`geo.services.edits`,
:mod:`geo.services.special_edits`): one lock, the
partition invariant (a refusal is 422 with the findings as GeoJSON), new versions, the
audit log. ``If-Match`` (the item's ETag) is required for PUT, PATCH and DELETE unless
``GRIDMAP_OGC_UNCONDITIONAL_WRITES`` is on — QGIS does not send it. The body is a GeoJSON
Feature in CRS84 unless ``Content-Crs`` names EPSG:4326 or EPSG:4490 (latitude first).
Other collections stay read-only (405).
"""

from __future__ import annotations

from typing import Annotated, Any

import shapely
from fastapi import APIRouter, Body, Header, Request, Response
from pydantic import BaseModel, Field

from geo import ogc
from geo.errors import InvalidInput, NotFound, VersionRequired
from geo.services import edits, special_edits

from api.auth import CallerDep, require_scope
from api.deps import State
from api.edit_input import etags, geometry_in
from api.validation import check_labels

router = APIRouter(prefix="/ogc", tags=["OGC API – Features"], dependencies=[require_scope("edit")])
DEFAULT_REASON = "edited through OGC API – Features"
Feature = Annotated[dict[str, Any], Body(description="A GeoJSON Feature")]
ContentCrs = Annotated[str | None, Header(alias="Content-Crs")]
IfMatch = Annotated[str | None, Header(alias="If-Match")]


class CreatedOut(BaseModel):
    id: str = Field(description="The new feature's code")
    version: int | None = Field(description="Its version id (the ETag)")


def _writable(collection_id: str) -> str:
    if collection_id not in ("grids", "special-grids"):
        try:
            ogc.collection_by_id(collection_id)
        except ogc.InvalidCollection as exc:
            raise NotFound(exc.message, exc.message_zh) from None
        raise InvalidInput(
            f"collection {collection_id} is read-only; only grids and special-grids are edited",
            f"要素集 {collection_id} 只读；只能编辑 grids 和 special-grids",
        )
    return collection_id


def _feature(body: dict, content_crs: str | None) -> tuple[dict, Any]:
    if not isinstance(body, dict) or body.get("type") != "Feature":
        raise InvalidInput(
            "send one GeoJSON Feature ({'type': 'Feature', 'geometry': …, 'properties': …})",
            "请发送一个 GeoJSON Feature",
            field="body",
        )
    props = body.get("properties") or {}
    if not isinstance(props, dict):
        raise InvalidInput(
            "properties must be an object", "properties 必须是对象", field="properties"
        )
    check_labels(props, ("name", "responsible_unit", "contact_name", "author"), "properties")
    geom = None
    if body.get("geometry") is not None:
        geom = geometry_in(body["geometry"], "wgs84", "geometry")  # axes fixed below
        crs = ogc.parse_crs(content_crs.strip("<>") if content_crs else None, param="Content-Crs")
        if crs.lat_first:  # EPSG:4326 / 4490 as their definitions say: latitude first
            geom = shapely.transform(geom, lambda xy: xy[:, ::-1])
    return props, geom


def _conditions(state, if_match: str | None) -> set[int] | None:
    if if_match:
        return etags(if_match)
    if state.settings.ogc_unconditional_writes:
        return None
    raise VersionRequired(
        "send If-Match with the feature's ETag (GET …/items/{code}); or ask the "
        "administrator to set GRIDMAP_OGC_UNCONDITIONAL_WRITES for clients such as QGIS",
        "请在 If-Match 中提供要素的 ETag；QGIS 等客户端需管理员开启 "
        "GRIDMAP_OGC_UNCONDITIONAL_WRITES",
    )


def _author(props: dict) -> str | None:
    """The name the client gives: only an "on behalf of" note (the actor is the caller)."""
    return str(props["author"]) if props.get("author") else None


def _item_url(request: Request, collection_id: str, code: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/ogc/collections/{collection_id}/items/{code}"


def _grid_write(state, caller, code, props, geom, tags, dry_run=False):
    out = edits.apply_edit(
        state.engine,
        edits.replace_grid,
        code,
        geom,
        props.get("name"),
        who=caller,
        if_match={code: tags} if tags is not None else {},
        author=_author(props),
        reason=str(props.get("reason") or DEFAULT_REASON),
        dry_run=dry_run,
    )
    state.refresh()
    return out


@router.post("/collections/{collection_id}/items", status_code=201, response_model=CreatedOut)
def create_item(
    request: Request,
    response: Response,
    state: State,
    caller: CallerDep,
    collection_id: str,
    body: Feature,
    content_crs: ContentCrs = None,
):
    """Create a grid (its code is allocated; its area comes from the grids it overlaps)
    or a special grid (properties code, name, kind, responsible_unit)."""
    _writable(collection_id)
    props, geom = _feature(body, content_crs)
    if geom is None:
        raise InvalidInput("a new feature needs a geometry", "新要素必须有几何", field="geometry")
    author, reason = _author(props), str(props.get("reason") or DEFAULT_REASON)
    version: int | None
    if collection_id == "grids":
        out = edits.create_grid_at(
            state.engine,
            props.get("parent_code") or None,
            geom,
            who=caller,
            name=props.get("name"),
            author=author,
            reason=reason,
        )
        (code,) = out.created
        version = out.versions[code]
    else:
        code = str(props.get("code") or "")
        if not code:
            raise InvalidInput(
                "a special grid needs properties.code", "专属网格须有 code", field="code"
            )
        fields = {f: props.get(f) for f in special_edits.FIELDS}
        version = special_edits.create(
            state.engine, code, fields, geom, who=caller, author=author, reason=reason
        ).version
    state.refresh()
    response.headers["Location"] = _item_url(request, collection_id, code)
    response.headers["ETag"] = f'"{version}"'
    return {"id": code, "version": version}


def _update(state, caller, collection_id, code, body, content_crs, if_match, partial):
    _writable(collection_id)
    props, geom = _feature(body, content_crs) if not partial else _patch_body(body, content_crs)
    tags = _conditions(state, if_match)
    if collection_id == "grids":
        out = _grid_write(state, caller, code, props, geom, tags)
        version = out.versions.get(code)
    else:
        fields = {f: props.get(f) for f in special_edits.FIELDS}
        version = special_edits.change(
            state.engine,
            code,
            fields,
            geom,
            who=caller,
            if_match=tags,  # None: whatever version is live (unconditional writes)
            author=_author(props),
            reason=str(props.get("reason") or DEFAULT_REASON),
        ).version
        state.refresh()
    headers = {"ETag": f'"{version}"'} if version else {}
    return Response(status_code=204, headers=headers)


def _patch_body(body: dict, content_crs: str | None) -> tuple[dict, Any]:
    if isinstance(body, dict) and body.get("type") != "Feature":
        body = {
            "type": "Feature",
            "properties": body.get("properties", body),
            "geometry": body.get("geometry"),
        }
    return _feature(body, content_crs)


@router.put("/collections/{collection_id}/items/{code}", status_code=204)
def replace_item(
    state: State,
    caller: CallerDep,
    collection_id: str,
    code: str,
    body: Feature,
    content_crs: ContentCrs = None,
    if_match: IfMatch = None,
):
    """Replace a feature's geometry and attributes (neighbouring grids follow)."""
    return _update(state, caller, collection_id, code, body, content_crs, if_match, False)


@router.patch("/collections/{collection_id}/items/{code}", status_code=204)
def update_item(
    state: State,
    caller: CallerDep,
    collection_id: str,
    code: str,
    body: Feature,
    content_crs: ContentCrs = None,
    if_match: IfMatch = None,
):
    """Change part of a feature: only the properties (and geometry) sent."""
    return _update(state, caller, collection_id, code, body, content_crs, if_match, True)


@router.delete("/collections/{collection_id}/items/{code}", status_code=204)
def delete_item(
    state: State, caller: CallerDep, collection_id: str, code: str, if_match: IfMatch = None
):
    """Retire a grid (its area goes to its neighbours) or close a special grid."""
    _writable(collection_id)
    tags = _conditions(state, if_match)
    if collection_id == "grids":
        edits.apply_edit(
            state.engine,
            edits.delete_grid,
            code,
            who=caller,
            if_match={code: tags} if tags is not None else {},
            author=None,
            reason=DEFAULT_REASON,
            dry_run=False,
        )
    else:
        special_edits.close(
            state.engine, code, who=caller, if_match=tags, author=None, reason=DEFAULT_REASON
        )
    state.refresh()
    return Response(status_code=204)
