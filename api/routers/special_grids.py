"""Special grids (schools, hospitals, parks …): read one, draw a new one, change or close
it — with If-Match, a dry run, history and audit like the comprehensive grids
(:mod:`geo.services.special_edits`) — and import a file of them (dry run by default;
the file is read by :mod:`boundaries.special_import`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from geo.errors import InvalidInput
from geo.lookup.geocode import mask_phone
from geo.services import special_edits

from api.auth import CallerDep, require_scope
from api.deps import State
from api.edit_input import DryRun, EditIn, IfMatch, etags, geometry_in
from api.features import FeatureOut, geometry_out
from api.schemas import CRSName
from api.uploads import save_upload, unpack_if_zip
from api.validation import Actor, Code, Encoding, Name, PersonName, Phone, Reason
from boundaries import special_import

router = APIRouter(prefix="/v1", tags=["grid edits"])
EDIT, READ = require_scope("edit"), require_scope("read")


class SpecialIn(EditIn):
    name: Name | None = None
    kind: str | None = Field(default=None, description="school, hospital, industrial_park …")
    responsible_unit: Name | None = None
    contact_name: PersonName | None = None
    contact_phone: Phone | None = None
    geometry: dict[str, Any] | None = Field(default=None, description="GeoJSON (Multi)Polygon")
    crs: CRSName = "wgs84"


class SpecialCreateIn(SpecialIn):
    code: Code


class SpecialEditOut(BaseModel):
    action: str = Field(description="special_grid.create, .update or .delete")
    code: str
    dry_run: bool
    etag: str | None = Field(description="The new version's ETag (null on a dry run)")


def _fields(body: SpecialIn) -> dict[str, Any]:
    return {f: getattr(body, f) for f in special_edits.FIELDS}


def _answer(out: special_edits.SpecialOutcome, status: int = 200) -> JSONResponse:
    headers = {"ETag": f'"{out.version}"'} if out.version else {}
    return JSONResponse(
        {
            "action": out.action,
            "code": out.code,
            "dry_run": out.dry_run,
            "etag": headers.get("ETag"),
        },
        status_code=status,
        headers=headers,
    )


class SpecialImportOut(BaseModel):
    source: str
    dry_run: bool = Field(description="True: nothing was written")
    counts: dict[str, int] = Field(description="new, changed, unchanged, retired, kept")
    special_grids: list[dict] = Field(description="Per code: status and changed fields")
    unmapped_kinds: dict[str, str] = Field(description="Kind values that became 'other'")
    repaired: list[str] = Field(description="Codes whose geometry make_valid repaired")
    versions: dict[str, int] = Field(description="New version per written code")


@router.post("/special-grids/import", response_model=SpecialImportOut, dependencies=[EDIT])
def import_special_grids(
    state: State,
    caller: CallerDep,
    file: Annotated[UploadFile, File(description="GeoJSON, GeoPackage, or a zipped Shapefile")],
    layer: Annotated[str | None, Form()] = None,
    crs: Annotated[str | None, Form(description="wgs84, gcj02, bd09, cgcs2000 or EPSG:n")] = None,
    encoding: Annotated[Encoding | None, Form(description="e.g. GBK for old Shapefiles")] = None,
    column_map: Annotated[
        str | None, Form(alias="map", description="code=编码,kind=类别,responsible_unit=…")
    ] = None,
    make_valid: Annotated[bool, Form(description="Repair invalid geometry (reported)")] = False,
    retire_missing: Annotated[
        bool, Form(description="Close live special grids absent from the file")
    ] = False,
    dry_run: Annotated[bool, Form(description="Only report (default); false writes")] = True,
    author: Annotated[Actor, Form()] = "api",
    reason: Annotated[Reason | None, Form()] = None,
) -> SpecialImportOut:
    """Import special grids (schools, hospitals …): the whole file is checked first and
    refused on any error; the report says new / changed / unchanged per code."""
    columns = special_import.parse_special_column_map(column_map)
    with tempfile.TemporaryDirectory(prefix="gridmap-upload-") as tmp:
        path = unpack_if_zip(save_upload(file, Path(tmp)))
        incoming = special_import.read_special_file(
            path, layer=layer, crs=crs, encoding=encoding, column_map=columns, make_valid=make_valid
        )
        report = special_edits.import_special_grids(
            state.engine,
            incoming,
            who=caller,
            source=Path(file.filename or path.name).name,
            retire_missing=retire_missing,
            apply=not dry_run,
            author=author,
            reason=reason,
        )
    if not dry_run:
        state.refresh()  # this worker at once; others on their next version check
    return SpecialImportOut(**report.to_json())


@router.get("/special-grids/{code}", dependencies=[READ], response_model=FeatureOut)
def get_special_grid(
    state: State,
    caller: CallerDep,
    code: str,
    response: Response,
    crs: Annotated[CRSName, Query(description="CRS of the returned geometry")] = "wgs84",
) -> dict[str, Any]:
    """One live special grid as a GeoJSON Feature; the ETag is its version."""
    row = special_edits.special_grid(state.engine, code)
    response.headers["ETag"] = f'"{row["id"]}"'
    props = {k: v for k, v in row.items() if k not in ("geometry", "id")}
    if not caller.sees_contacts_of([]):
        props["contact_phone"] = mask_phone(props.get("contact_phone"))
    props.update(version=row["id"], crs=crs)
    return {
        "type": "Feature",
        "id": code,
        "properties": props,
        "geometry": geometry_out(row["geometry"], crs),
    }


@router.post("/special-grids", dependencies=[EDIT], status_code=201, response_model=SpecialEditOut)
def create_special_grid(
    state: State, caller: CallerDep, body: SpecialCreateIn, dry_run: DryRun = False
) -> JSONResponse:
    """Draw a new special grid (must lie inside the district)."""
    if body.geometry is None:
        raise InvalidInput("geometry is required", "必须提供几何 geometry", field="geometry")
    geom = geometry_in(body.geometry, body.crs, "geometry")
    out = special_edits.create(
        state.engine,
        body.code,
        _fields(body),
        geom,
        who=caller,
        author=body.author,
        reason=body.reason,
        dry_run=dry_run,
    )
    if not dry_run:
        state.refresh()
    return _answer(out, 200 if dry_run else 201)


@router.put("/special-grids/{code}", dependencies=[EDIT], response_model=SpecialEditOut)
def replace_special_grid(
    state: State,
    caller: CallerDep,
    code: str,
    body: SpecialIn,
    if_match: IfMatch = None,
    dry_run: DryRun = False,
) -> JSONResponse:
    """Change a special grid's shape and/or attributes (fields left out stay)."""
    tags = etags(if_match)
    geom = geometry_in(body.geometry, body.crs, "geometry") if body.geometry else None
    out = special_edits.change(
        state.engine,
        code,
        _fields(body),
        geom,
        who=caller,
        if_match=tags,
        author=body.author,
        reason=body.reason,
        dry_run=dry_run,
    )
    if not dry_run:
        state.refresh()
    return _answer(out)


@router.delete("/special-grids/{code}", dependencies=[EDIT], response_model=SpecialEditOut)
def delete_special_grid(
    state: State,
    caller: CallerDep,
    code: str,
    reason: Annotated[str, Query(min_length=1, max_length=2000, description="Why")],
    if_match: IfMatch = None,
    dry_run: DryRun = False,
) -> JSONResponse:
    """Close a special grid; it stays in the history."""
    tags = etags(if_match)
    out = special_edits.close(
        state.engine, code, who=caller, if_match=tags, author=None, reason=reason, dry_run=dry_run
    )
    if not dry_run:
        state.refresh()
    return _answer(out)
