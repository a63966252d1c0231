"""Boundary sets: upload as draft, findings, fixes on a draft, publish; exports of the live
map. Files are read by :mod:`boundaries`; the work is the use cases of
:mod:`geo.services.boundaries`, :mod:`~geo.services.fixes` and :mod:`~geo.services.publish`."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, File, Form, Query, UploadFile
from fastapi import Path as FastAPIPath
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from geo import topology
from geo.errors import InvalidInput
from geo.io.fieldmap import parse_boundary_map
from geo.services import boundaries as uc
from geo.services import fixes, publish

from api.auth import CallerDep, require_scope
from api.deps import State
from api.routers.workers import CallerView
from api.uploads import save_upload, unpack_if_zip
from api.validation import Actor, Code, Encoding, Name, Reason, check_unit_names
from boundaries import sets
from boundaries.export import FORMATS, export_boundaries

router = APIRouter(prefix="/v1", tags=["boundaries"])
EDIT, READ = require_scope("edit"), require_scope("read")

Level = Literal[
    "district", "street", "community", "grid"
]  # geo.vocab.LEVELS (a Literal needs the words)
# boundary_set.id is an INTEGER column: a larger path value is a 422, not a 500.
SetId = Annotated[int, FastAPIPath(ge=1, le=2**31 - 1)]
MEDIA = {
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8",
    "shp": "application/zip",
}


class BoundarySetOut(BaseModel):
    id: int
    name: str
    status: str
    source: str | None
    checksum: str | None
    author: str
    note: str | None
    created_at: datetime
    activated_at: datetime | None
    units: int


class ImportOut(BaseModel):
    boundary_set: BoundarySetOut
    reused: bool = Field(description="The same content was already imported; no new set")
    findings: dict[str, int] = Field(description="Number of findings by severity")
    repaired: list[str] = Field(
        default_factory=list, description="Codes whose geometry make_valid repaired"
    )


class PublishIn(BaseModel):
    author: Actor | None = Field(
        default=None,
        description="On behalf of whom (a note in the audit; the actor is the caller)",
    )
    reason: Reason | None = None
    override_reason: Reason | None = Field(
        default=None, description="Publish despite error findings (recorded)"
    )


class PublishOut(BaseModel):
    boundary_set: BoundarySetOut
    counts: dict[str, int]
    findings: dict[str, int]


def _severity_counts(findings) -> dict[str, int]:
    out = {"error": 0, "warning": 0}
    for f in findings:
        out[f.severity] = out.get(f.severity, 0) + 1
    return out


@router.post("/boundary-sets", status_code=201, response_model=ImportOut, dependencies=[EDIT])
def upload_boundary_set(
    state: State,
    caller: CallerDep,
    file: Annotated[UploadFile, File(description="GeoJSON, GeoPackage, or a zipped Shapefile")],
    level: Annotated[Level | None, Form()] = None,
    layer: Annotated[str | None, Form()] = None,
    crs: Annotated[str | None, Form(description="wgs84, gcj02, bd09, cgcs2000 or EPSG:n")] = None,
    encoding: Annotated[Encoding | None, Form(description="e.g. GBK for old Shapefiles")] = None,
    column_map: Annotated[
        str | None, Form(alias="map", description="code=编码,name=名称,parent=上级编码")
    ] = None,
    name: Annotated[Name | None, Form()] = None,
    author: Annotated[Actor, Form()] = "api",
    make_valid: Annotated[
        bool, Form(description="Repair invalid geometry (reported) instead of refusing")
    ] = False,
) -> ImportOut:
    """Import a boundary file as a **draft** set (nothing live changes)."""
    columns = parse_boundary_map(column_map)
    with tempfile.TemporaryDirectory(prefix="gridmap-upload-") as tmp:
        path = unpack_if_zip(save_upload(file, Path(tmp)))
        units, repaired = sets.read_units(
            path,
            level=level,
            layer=layer,
            crs=crs,
            encoding=encoding,
            column_map=columns,
            make_valid=make_valid,
        )
        check_unit_names(units["code"], units["name"])
        done = uc.import_boundary_set(
            state.engine,
            units,
            who=caller,
            name=name or file.filename or path.name,
            author=author,
            source=path.name,
            repaired=repaired,
        )
    return ImportOut(
        boundary_set=BoundarySetOut(**done.boundary_set),
        reused=done.result.reused,
        findings=_severity_counts(done.findings),
        repaired=done.repaired,
    )


@router.get("/boundary-sets", response_model=list[BoundarySetOut], dependencies=[READ])
def list_boundary_sets(state: State) -> list[BoundarySetOut]:
    return [BoundarySetOut(**s) for s in uc.list_sets(state.engine)]


@router.get("/boundary-sets/{set_id}", response_model=BoundarySetOut, dependencies=[READ])
def get_boundary_set(state: State, set_id: SetId) -> BoundarySetOut:
    return BoundarySetOut(**uc.get_set(state.engine, set_id))


class FindingsOut(BaseModel):
    boundary_set_id: int
    counts: dict[str, int] = Field(description="Number of findings by severity")
    findings: list[dict[str, Any]] = Field(description="Each finding (format=geojson: features)")


@router.get(
    "/boundary-sets/{set_id}/findings",
    dependencies=[READ],
    response_model=FindingsOut,
    responses={200: {"content": {"application/geo+json": {}}}},
)
def boundary_set_findings(
    state: State, set_id: SetId, format: Annotated[Literal["json", "geojson"], Query()] = "json"
) -> Any:
    """Topology and code findings of the map this set would produce if published."""
    findings = uc.set_findings(state.engine, set_id)
    if format == "geojson":
        return JSONResponse(
            topology.findings_to_geojson(findings), media_type="application/geo+json"
        )
    return {
        "boundary_set_id": set_id,
        "counts": _severity_counts(findings),
        "findings": topology.findings_to_json(findings),
    }


@router.post("/boundary-sets/{set_id}/publish", response_model=PublishOut, dependencies=[EDIT])
def publish_boundary_set(
    state: State, caller: CallerDep, set_id: SetId, body: Annotated[PublishIn, Body()]
) -> PublishOut:
    """Make a draft live, only if it has no error finding (or with a recorded override)."""
    done = publish.publish_set(
        state.engine,
        set_id,
        who=caller,
        author=body.author,
        reason=body.reason,
        override_reason=body.override_reason,
    )
    state.refresh()  # this worker at once; others on their next version check
    return PublishOut(
        boundary_set=BoundarySetOut(**done.boundary_set),
        counts=done.result.counts,
        findings=_severity_counts(done.findings),
    )


class FixIn(BaseModel):
    fix: Literal["snap_to_parent", "assign_gap", "split_overlap"]
    codes: list[Code] = Field(
        min_length=1,
        max_length=500,
        description="snap_to_parent: units; assign_gap: parents; split_overlap: the two owners",
    )
    tolerance_m: float = Field(default=1.0, gt=0, le=50, description="snap_to_parent only")
    author: Actor = "api"


class FixOut(BaseModel):
    boundary_set_id: int
    fix: str
    changed: list[str] = Field(description="Codes whose geometry the fix changed")
    before: dict = Field(description="Finding counts before: error, warning, by_type")
    after: dict = Field(description="Finding counts after")
    unassigned_m2: float = Field(description="Gap area no child borders (assign_gap)")
    findings: list[dict] = Field(description="The findings after the fix")


@router.post("/boundary-sets/{set_id}/fixes", response_model=FixOut, dependencies=[EDIT])
def fix_boundary_set(
    state: State, caller: CallerDep, set_id: SetId, body: Annotated[FixIn, Body()]
) -> FixOut:
    """Apply one fix helper to units of a **draft** set (409 for an active or retired
    set): geometry only, one transaction; returns the findings afterwards."""
    result = fixes.fix_draft(
        state.engine,
        set_id,
        body.fix,
        body.codes,
        who=caller,
        tolerance_m=body.tolerance_m,
        author=body.author,
    )
    return FixOut(**result.to_json())


@router.get(
    "/boundaries/export",
    dependencies=[READ],
    response_class=FileResponse,
    responses={200: {"content": {media: {} for media in MEDIA.values()}}},
)
def export_live_boundaries(
    state: State,
    caller: CallerDep,
    format: Annotated[Literal["gpkg", "geojson", "shp", "csv"], Query()] = "gpkg",
    crs: Annotated[
        str | None, Query(description="wgs84 (default), gcj02, bd09, cgcs2000, EPSG:n")
    ] = None,
    as_of: Annotated[datetime | None, Query(description="The map as it was at this time")] = None,
):
    """Download the live (or dated) boundaries with the special grids; their contact
    phones masked as the single special-grid read masks them."""
    if format not in FORMATS:
        raise InvalidInput(f"unknown format {format}")
    units, special = uc.map_at(state.engine, as_of, viewer=CallerView(caller))
    if units.empty:
        raise InvalidInput(
            "no boundaries in force at that time", "该时间点没有生效的边界", as_of=str(as_of)
        )
    tmp = Path(tempfile.mkdtemp(prefix="gridmap-export-"))
    stem = f"gridmap-boundaries-{(as_of or datetime.now()).strftime('%Y%m%d')}"
    out = tmp / (f"{stem}.{format}" if format != "shp" else stem)
    export_boundaries(units, out, format, special=special, crs=crs)
    if format == "shp":
        out = Path(shutil.make_archive(str(out), "zip", root_dir=out))
    cleanup = BackgroundTask(shutil.rmtree, tmp, ignore_errors=True)
    return FileResponse(out, media_type=MEDIA[format], filename=out.name, background=cleanup)
