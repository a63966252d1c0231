"""Ledgers (台账): import an XLSX or CSV register (a dry run by default), export one in
the same layout, and place by hand the rows an import could not locate."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, File, Form, Query, Response, UploadFile
from pydantic import BaseModel, Field

from geo.errors import InvalidInput
from geo.registers import MIN_SCORE, parse_field_map
from geo.services import ledgers as uc

from api.auth import CallerDep, require_scope
from api.deps import State
from api.routers.compounds import CompoundOut, LocationIn, ManagementType, compound_out, wgs84
from api.routers.workers import CallerView
from api.schemas import CRSName, DbId
from api.validation import Actor, Encoding

router = APIRouter(prefix="/v1/registers", tags=["registers"])
EDIT, READ = require_scope("edit"), require_scope("read")
MAX_LEDGER_BYTES = 20 * 1024 * 1024
LedgerKind = Literal["compounds", "workers", "special_grids"]
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


class RowOut(BaseModel):
    row: int = Field(description="Spreadsheet row (1-based) or CSV line")
    status: Literal["ok", "located", "unlocatable", "duplicate", "fatal"]
    action: Literal["new", "changed", "unchanged"] | None
    key: str | None
    name: str | None
    reason: str | None
    reason_zh: str | None
    score: float | None
    matched: str | None


class ImportOut(BaseModel):
    kind: str
    committed: bool
    counts: dict[str, int]
    columns: dict[str, str] = Field(description="Field → the header it was read from")
    ignored: list[str] = Field(description="Headers not used")
    rows: list[RowOut]


class UnplacedOut(BaseModel):
    id: int
    source_key: str
    name: str
    address: str | None
    ledger: str | None
    reason: str


@router.post("/ledgers/import", response_model=ImportOut, dependencies=[EDIT])
def import_ledger(
    state: State,
    caller: CallerDep,
    file: Annotated[UploadFile, File(description="XLSX or CSV (UTF-8 or GBK) ledger")],
    kind: Annotated[LedgerKind, Form()] = "compounds",
    dry_run: Annotated[bool, Form(description="Only report; write nothing")] = True,
    crs: Annotated[CRSName | None, Form(description="CRS of rows without a 坐标系")] = None,
    management_type: Annotated[
        ManagementType | None, Form(description="For rows without 物业类型")
    ] = None,
    column_map: Annotated[
        str | None, Form(alias="map", description="field=header,… e.g. name=楼院")
    ] = None,
    encoding: Annotated[
        Encoding | None, Form(description="CSV encoding; detected if unset")
    ] = None,
    min_score: Annotated[float, Form(ge=0, le=100)] = MIN_SCORE,
    author: Annotated[Actor | None, Form()] = None,
) -> ImportOut:
    """Import a ledger / 台账导入. **Dry run by default**: the per-row report says what
    would be new, changed or unchanged; with `dry_run=false` it is written all or
    nothing (any fatal row: 422 with the report, nothing written). A sheet is read
    with bounded work (rows, columns, cells, merged ranges, unpacked size, time; see
    geo/registers/sheet.py): past a bound, a 422 naming it (`bound`, `limit`, `found`)."""
    data = file.file.read(MAX_LEDGER_BYTES + 1)
    if len(data) > MAX_LEDGER_BYTES:
        raise InvalidInput("ledger larger than 20 MiB", "台账文件超过 20 MiB")
    out = uc.import_ledger(
        state.engine,
        data,
        file.filename or "ledger",
        kind,
        commit=not dry_run,
        who=caller,
        actor=author,
        gazetteer=state.gazetteer,
        column_map=parse_field_map(column_map),
        encoding=encoding,
        crs=crs,
        management_type=management_type,
        min_score=min_score,
    )
    return ImportOut(
        kind=out.kind,
        committed=out.committed,
        counts=out.counts,
        columns=out.columns,
        ignored=out.ignored,
        rows=[RowOut(**r.as_dict()) for r in out.rows],
    )


@router.get(
    "/ledgers/export",
    response_class=Response,
    responses={200: {"content": {m: {} for m in MEDIA.values()}, "description": "The file"}},
    dependencies=[READ],
)
def export_ledger(
    state: State,
    caller: CallerDep,
    kind: LedgerKind = "compounds",
    format: Literal["xlsx", "csv"] = "xlsx",
    unit: Annotated[str | None, Query(description="Only inside this unit")] = None,
    crs: Annotated[CRSName, Query(description="CRS of the exported coordinates")] = "wgs84",
) -> Response:
    """Export a register in the import layout, with the grid each row falls in."""
    exported = uc.export_ledger(
        state.engine, kind, format, unit=unit, crs=crs, viewer=CallerView(caller)
    )
    name = f"{kind}.{format}"
    return Response(
        exported.content,
        media_type=MEDIA[format],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


@router.get("/ledgers/unplaced", response_model=list[UnplacedOut], dependencies=[READ])
def list_unplaced(state: State) -> list[UnplacedOut]:
    """Ledger rows that could not be located, waiting to be placed by hand."""
    return [UnplacedOut(**r) for r in uc.list_unplaced(state.engine)]


@router.post(
    "/ledgers/unplaced/{unplaced_id}/place",
    status_code=201,
    response_model=CompoundOut,
    dependencies=[EDIT],
)
def place_unplaced(
    state: State,
    caller: CallerDep,
    unplaced_id: DbId,
    location: Annotated[LocationIn, Body()],
    actor: Annotated[str, Query(min_length=1, max_length=200)],
) -> CompoundOut:
    """Place an unlocatable ledger row by hand: it becomes a compound."""
    lon, lat = wgs84(location)
    return compound_out(
        uc.place_unplaced(state.engine, unplaced_id, lon, lat, who=caller, actor=actor)
    )
