"""Registers: compounds and grid workers (CRUD, search, ledger import/export), the
unowned-compound campaign and the workload per grid. Every change is audited."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, File, Form, Query, Response, UploadFile
from pydantic import BaseModel, Field

from geo.crs import from_wgs84, to_wgs84
from geo.errors import InvalidInput
from geo.lookup.geocode import mask_phone
from geo.registers import ledger as L
from geo.store import boundaries as bstore
from geo.store import campaign, registers
from geo.store import ledgers as lstore

from api.auth import CallerDep, require_scope, require_unit, require_unit_code
from api.deps import State
from api.schemas import Coordinate, CRSName, DbId, PageOffset

router = APIRouter(prefix="/v1/registers", tags=["registers"])
EDIT, READ = require_scope("edit"), require_scope("read")
MAX_LEDGER_BYTES = 20 * 1024 * 1024

ManagementType = Literal["property_company", "unit", "self_governed", "unowned"]
Role = Literal["worker", "leader", "volunteer", "patroller"]
Mode = Literal["professional", "community", "self_governed"]


# --- bodies ------------------------------------------------------------------------


class LocationIn(BaseModel):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: CRSName = Field(description="CRS of lon/lat")


class CompoundIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    households: int | None = Field(default=None, ge=0)
    buildings: int | None = Field(default=None, ge=0)
    year_built: int | None = Field(default=None, ge=1800, le=2100)
    management_type: ManagementType
    location: LocationIn
    key: str | None = Field(default=None, max_length=200, description="Stable key (编号)")
    actor: str = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=2000)


class CompoundPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    households: int | None = Field(default=None, ge=0)
    buildings: int | None = Field(default=None, ge=0)
    year_built: int | None = Field(default=None, ge=1800, le=2100)
    management_type: ManagementType | None = None
    location: LocationIn | None = None
    actor: str = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=2000)


class CompoundOut(BaseModel):
    id: int
    key: str
    name: str
    address: str | None
    households: int | None
    buildings: int | None
    year_built: int | None
    management_type: str
    governance_status: str | None
    location: Coordinate = Field(description="Point on the compound's surface")
    geometry_type: str
    located_by: str | None = Field(description="coordinates, address, manual or map")
    match_score: float | None = Field(description="Forward-geocoder score when located by address")
    matched: str | None
    grid_code: str | None
    grid_name: str | None


class WorkerIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Role = "worker"
    phone: str | None = Field(default=None, max_length=20)
    units: list[str] = Field(default_factory=list, description="Unit codes served")
    actor: str = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=2000)


class WorkerUnitOut(BaseModel):
    code: str
    name: str
    level: str


class WorkerOut(BaseModel):
    worker_code: str
    name: str
    role: str
    phone: str | None = Field(description="Masked (138****5678) for anonymous callers")
    units: list[WorkerUnitOut]


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


class WorkIn(BaseModel):
    work: str = Field(min_length=1, max_length=200)
    done_on: date | None = None


class GovernanceIn(BaseModel):
    issues: list[str] = Field(default_factory=list, description="无门禁, 无路灯, 路面破损 …")
    mode: Mode | None = None
    committee_formed: bool = False
    works: list[WorkIn] = Field(default_factory=list)
    struck_off_on: date | None = Field(default=None, description="销号 date")
    verified_by: str | None = Field(default=None, max_length=100)
    actor: str = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=2000)


class GovernanceOut(BaseModel):
    compound_id: int
    name: str
    stage: Literal["not_started", "in_progress", "struck_off"]
    issues: list[str]
    mode: str | None
    committee_formed: bool
    works: list[dict]
    struck_off_on: date | None
    verified_by: str | None


class ProgressOut(BaseModel):
    code: str
    name: str
    listed: int
    not_started: int
    in_progress: int
    struck_off: int


class WorkloadOut(BaseModel):
    code: str
    name: str
    households: int
    population: int | None
    compounds: int
    unowned: int
    special_grids: int
    incidents_per_month: float
    incidents_by_month: dict[str, int]


class WorkloadResponse(BaseModel):
    months: list[str]
    grids: list[WorkloadOut]


class UnplacedOut(BaseModel):
    id: int
    source_key: str
    name: str
    address: str | None
    ledger: str | None
    reason: str


# --- helpers -----------------------------------------------------------------------


def _wgs84(loc: LocationIn) -> tuple[float, float]:
    x, y = to_wgs84(loc.lon, loc.lat, loc.crs)
    return float(x), float(y)


def _unit_ids(conn, unit: str | None) -> list[int] | None:
    if not unit:
        return None
    return list(registers.unit_ids_for_codes(conn, [unit]).values())


def _people_scope(conn, caller, unit: str | None) -> list[int] | None:
    """Units whose people the caller may list: the request's unit, within the caller's
    jurisdiction (a supervisor of street A never lists street B's workers)."""
    asked = _unit_ids(conn, unit)
    if not caller.unit_ids:
        return asked
    if asked is None:
        return sorted(caller.unit_ids)
    require_unit_code(caller, bstore.chain_unit_ids(conn, unit), unit)
    return asked


def _require_worker_visible(conn, caller, person: dict) -> None:
    if not caller.unit_ids:
        return
    chains = [bstore.chain_unit_ids(conn, u["code"]) for u in person["units"]]
    require_unit(
        caller, [uid for chain in chains for uid in chain], what="worker", what_zh="该人员"
    )


def _compound_out(r: dict, crs: str = "wgs84") -> CompoundOut:
    x, y = (float(v) for v in from_wgs84(r["lon"], r["lat"], crs))
    return CompoundOut(
        key=r["source_key"],
        location=Coordinate(lon=x, lat=y, crs=crs),
        **{k: r[k] for k in CompoundOut.model_fields if k not in ("key", "location")},
    )


def _worker_out(p: dict, unmasked: bool) -> WorkerOut:
    return WorkerOut(
        worker_code=p["worker_code"],
        name=p["name"],
        role=p["role"],
        phone=p["phone"] if unmasked else mask_phone(p["phone"]),
        units=[WorkerUnitOut(**{k: u[k] for k in ("code", "name", "level")}) for u in p["units"]],
    )


def _unmasked(caller) -> bool:
    return caller.sees_contacts_of([])


def parse_field_map(text: str | None) -> dict[str, str] | None:
    """``name=楼院名称,households=户数`` → {field: header}."""
    if not text:
        return None
    out = {}
    for part in text.replace("，", ",").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise InvalidInput(
                f"map entry {part!r} is not field=header", f"列映射 {part!r} 应为 字段=表头"
            )
        f, header = (x.strip() for x in part.split("=", 1))
        out[f] = header
    return out


def run_import(state, data: bytes, filename: str, kind: str, *, commit: bool, **opts):
    """Parse and import one ledger in one transaction (shared with the CLI)."""
    try:
        table = L.read_table(
            data,
            filename,
            kind,
            column_map=opts.get("column_map"),
            encoding=opts.get("encoding"),
        )
    except L.RowError as exc:
        raise InvalidInput(str(exc), exc.message_zh) from None
    with state.engine.begin() as conn:
        if kind == "compounds":
            gz = state.gazetteer
            return lstore.import_compounds(
                conn,
                table,
                search=(lambda q: gz.search(q, 5)) if gz is not None else None,
                actor=opts["actor"],
                ledger_name=filename,
                commit=commit,
                default_crs=opts.get("crs"),
                default_management=opts.get("management_type"),
                min_score=opts.get("min_score", L.MIN_SCORE),
            )
        if kind == "special_grids":
            return lstore.import_special_grids(
                conn, table, actor=opts["actor"], ledger_name=filename, commit=commit
            )
        return lstore.import_workers(
            conn, table, actor=opts["actor"], ledger_name=filename, commit=commit
        )


# --- compounds ---------------------------------------------------------------------


@router.get("/compounds", response_model=list[CompoundOut], dependencies=[READ])
def list_compounds(
    state: State,
    q: Annotated[str | None, Query(max_length=100, description="Part of name or address")] = None,
    unit: Annotated[str | None, Query(description="Only inside this unit (any level)")] = None,
    management_type: ManagementType | None = None,
    crs: CRSName = "wgs84",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: PageOffset = 0,
) -> list[CompoundOut]:
    """Search and filter the compounds register / 小区（楼院）台账查询."""
    with state.engine.connect() as conn:
        rows = registers.list_compounds(
            conn,
            q=q,
            unit_ids=_unit_ids(conn, unit),
            management_type=management_type,
            limit=limit,
            offset=offset,
        )
    return [_compound_out(r, crs) for r in rows]


@router.get("/compounds/{compound_id}", response_model=CompoundOut, dependencies=[READ])
def get_compound(state: State, compound_id: DbId, crs: CRSName = "wgs84") -> CompoundOut:
    with state.engine.connect() as conn:
        return _compound_out(registers.get_compound(conn, compound_id), crs)


@router.post("/compounds", status_code=201, response_model=CompoundOut, dependencies=[EDIT])
def create_compound(state: State, body: Annotated[CompoundIn, Body()]) -> CompoundOut:
    """Add a compound placed by hand; its grid follows from the location."""
    lon, lat = _wgs84(body.location)
    fields = body.model_dump(include=set(registers.COMPOUND_FIELDS))
    with state.engine.begin() as conn:
        cid = registers.create_compound(conn, fields, lon, lat, actor=body.actor, key=body.key)
        return _compound_out(registers.get_compound(conn, cid))


@router.patch("/compounds/{compound_id}", response_model=CompoundOut, dependencies=[EDIT])
def update_compound(
    state: State, compound_id: DbId, body: Annotated[CompoundPatch, Body()]
) -> CompoundOut:
    """Change fields or move the compound (the grid is recomputed)."""
    changes = body.model_dump(include=set(registers.COMPOUND_FIELDS), exclude_unset=True)
    if changes.get("name") is None:
        changes.pop("name", None)
    if changes.get("management_type") is None:
        changes.pop("management_type", None)
    lon = lat = None
    if body.location is not None:
        lon, lat = _wgs84(body.location)
    if not changes and lon is None:
        raise InvalidInput("nothing to change", "没有需要修改的内容")
    with state.engine.begin() as conn:
        registers.update_compound(
            conn, compound_id, changes, actor=body.actor, lon=lon, lat=lat, reason=body.reason
        )
        return _compound_out(registers.get_compound(conn, compound_id))


@router.delete("/compounds/{compound_id}", status_code=204, dependencies=[EDIT])
def delete_compound(
    state: State,
    compound_id: DbId,
    actor: Annotated[str, Query(min_length=1, max_length=200)],
    reason: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    with state.engine.begin() as conn:
        registers.delete_compound(conn, compound_id, actor=actor, reason=reason)
    return Response(status_code=204)


@router.post("/compounds/recompute-grids", dependencies=[EDIT])
def recompute_grids(state: State) -> dict:
    """Recompute every compound's grid from its location (after boundaries changed)."""
    with state.engine.begin() as conn:
        return {"updated": registers.set_compound_grids(conn, None)}


# --- workers -----------------------------------------------------------------------


@router.get("/workers", response_model=list[WorkerOut], dependencies=[READ])
def list_workers(
    state: State,
    caller: CallerDep,
    q: Annotated[str | None, Query(max_length=100, description="Part of name or code")] = None,
    unit: Annotated[str | None, Query(description="Serving this unit or one below it")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: PageOffset = 0,
) -> list[WorkerOut]:
    """Grid workers and leaders with the units they serve / 网格员查询."""
    with state.engine.connect() as conn:
        people = registers.list_workers(
            conn, q=q, unit_ids=_people_scope(conn, caller, unit), limit=limit, offset=offset
        )
    return [_worker_out(p, _unmasked(caller)) for p in people]


@router.get("/workers/{code}", response_model=WorkerOut, dependencies=[READ])
def get_worker(state: State, caller: CallerDep, code: str) -> WorkerOut:
    with state.engine.connect() as conn:
        person = registers.get_worker(conn, code)
        _require_worker_visible(conn, caller, person)
        return _worker_out(person, _unmasked(caller))


@router.put("/workers/{code}", response_model=WorkerOut, dependencies=[EDIT])
def put_worker(
    state: State, caller: CallerDep, code: str, body: Annotated[WorkerIn, Body()]
) -> WorkerOut:
    """Create or replace a person and the units they serve (assignments kept as history)."""
    phone = L.clean_text(body.phone).replace(" ", "") or None
    with state.engine.begin() as conn:
        registers.put_worker(
            conn,
            code,
            name=body.name,
            role=body.role,
            phone=phone,
            unit_codes=body.units,
            actor=body.actor,
            reason=body.reason,
        )
        return _worker_out(registers.get_worker(conn, code), _unmasked(caller))


@router.delete("/workers/{code}", status_code=204, dependencies=[EDIT])
def delete_worker(
    state: State,
    code: str,
    actor: Annotated[str, Query(min_length=1, max_length=200)],
    reason: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    with state.engine.begin() as conn:
        registers.delete_worker(conn, code, actor=actor, reason=reason)
    return Response(status_code=204)


# --- ledgers -----------------------------------------------------------------------


@router.post("/ledgers/import", response_model=ImportOut, dependencies=[EDIT])
def import_ledger(
    state: State,
    caller: CallerDep,
    file: Annotated[UploadFile, File(description="XLSX or CSV (UTF-8 or GBK) ledger")],
    kind: Annotated[Literal["compounds", "workers", "special_grids"], Form()] = "compounds",
    dry_run: Annotated[bool, Form(description="Only report; write nothing")] = True,
    crs: Annotated[CRSName | None, Form(description="CRS of rows without a 坐标系")] = None,
    management_type: Annotated[
        ManagementType | None, Form(description="For rows without 物业类型")
    ] = None,
    column_map: Annotated[
        str | None, Form(alias="map", description="field=header,… e.g. name=楼院")
    ] = None,
    encoding: Annotated[str | None, Form(description="CSV encoding; detected if unset")] = None,
    min_score: Annotated[float, Form(ge=0, le=100)] = L.MIN_SCORE,
    author: Annotated[str | None, Form(max_length=200)] = None,
) -> ImportOut:
    """Import a ledger / 台账导入. **Dry run by default**: the per-row report says what
    would be new, changed or unchanged; with `dry_run=false` it is written all or
    nothing (any fatal row: 422 with the report, nothing written)."""
    data = file.file.read(MAX_LEDGER_BYTES + 1)
    if len(data) > MAX_LEDGER_BYTES:
        raise InvalidInput("ledger larger than 20 MiB", "台账文件超过 20 MiB")
    out = run_import(
        state,
        data,
        file.filename or "ledger",
        kind,
        commit=not dry_run,
        column_map=parse_field_map(column_map),
        crs=crs,
        management_type=management_type,
        encoding=encoding,
        min_score=min_score,
        actor=author or caller.name,
    )
    return ImportOut(
        kind=out.kind,
        committed=out.committed,
        counts=out.counts,
        columns=out.columns,
        ignored=out.ignored,
        rows=[RowOut(**r.as_dict()) for r in out.rows],
    )


@router.get("/ledgers/export", dependencies=[READ])
def export_ledger(
    state: State,
    caller: CallerDep,
    kind: Literal["compounds", "workers", "special_grids"] = "compounds",
    format: Literal["xlsx", "csv"] = "xlsx",
    unit: Annotated[str | None, Query(description="Only inside this unit")] = None,
    crs: Annotated[CRSName, Query(description="CRS of the exported coordinates")] = "wgs84",
) -> Response:
    """Export a register in the import layout, with the grid each row falls in."""
    with state.engine.connect() as conn:
        ids = _unit_ids(conn, unit)
        if kind == "compounds":
            headers, rows = lstore.export_compounds(conn, unit_ids=ids, crs=crs)
        elif kind == "special_grids":
            headers, rows = lstore.export_special_grids(conn, unit_ids=ids)
        else:
            mask = None if _unmasked(caller) else mask_phone
            ids = _people_scope(conn, caller, unit)
            headers, rows = lstore.export_workers(conn, unit_ids=ids, mask=mask)
    media = {
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "csv": "text/csv; charset=utf-8",
    }[format]
    name = f"{kind}.{format}"
    return Response(
        L.write_table(headers, rows, format),
        media_type=media,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


@router.get("/ledgers/unplaced", response_model=list[UnplacedOut], dependencies=[READ])
def list_unplaced(state: State) -> list[UnplacedOut]:
    """Ledger rows that could not be located, waiting to be placed by hand."""
    with state.engine.connect() as conn:
        return [UnplacedOut(**r) for r in lstore.unplaced(conn)]


@router.post(
    "/ledgers/unplaced/{unplaced_id}/place",
    status_code=201,
    response_model=CompoundOut,
    dependencies=[EDIT],
)
def place_unplaced(
    state: State,
    unplaced_id: DbId,
    location: Annotated[LocationIn, Body()],
    actor: Annotated[str, Query(min_length=1, max_length=200)],
) -> CompoundOut:
    """Place an unlocatable ledger row by hand: it becomes a compound."""
    lon, lat = _wgs84(location)
    with state.engine.begin() as conn:
        registers.check_inside(conn, lon, lat)
        cid = lstore.place_unplaced(conn, unplaced_id, lon, lat, actor)
        return _compound_out(registers.get_compound(conn, cid))


# --- campaign and workload ---------------------------------------------------------


@router.get("/campaign", response_model=list[GovernanceOut], dependencies=[READ])
def campaign_list(
    state: State,
    unit: Annotated[str | None, Query(description="Only inside this unit")] = None,
    stage: Literal["not_started", "in_progress", "struck_off"] | None = None,
) -> list[GovernanceOut]:
    """The unowned compounds with their campaign stage / 无主管楼院整治台账."""
    with state.engine.connect() as conn:
        rows = campaign.campaign_list(conn, unit_ids=_unit_ids(conn, unit), stage=stage)
    return [GovernanceOut(compound_id=r.pop("id"), **r) for r in rows]


@router.get("/campaign/progress", response_model=list[ProgressOut], dependencies=[READ])
def campaign_progress(
    state: State, level: Literal["street", "community", "grid"] = "community"
) -> list[ProgressOut]:
    """Per street, community or grid: how many listed, in progress, struck off (销号)."""
    with state.engine.connect() as conn:
        return [ProgressOut(**r) for r in campaign.progress(conn, level)]


@router.get(
    "/compounds/{compound_id}/governance", response_model=GovernanceOut, dependencies=[READ]
)
def get_governance(state: State, compound_id: DbId) -> GovernanceOut:
    with state.engine.connect() as conn:
        return GovernanceOut(**campaign.get_governance(conn, compound_id))


@router.put(
    "/compounds/{compound_id}/governance", response_model=GovernanceOut, dependencies=[EDIT]
)
def put_governance(
    state: State, compound_id: DbId, body: Annotated[GovernanceIn, Body()]
) -> GovernanceOut:
    """Record issues, the management mode, the owners' committee, works and 销号."""
    record = body.model_dump(exclude={"actor", "reason"}, mode="json")
    with state.engine.begin() as conn:
        out = campaign.put_governance(
            conn, compound_id, record, actor=body.actor, reason=body.reason
        )
    return GovernanceOut(**out)


@router.get("/workload", response_model=WorkloadResponse, dependencies=[READ])
def workload(state: State, months: Annotated[int, Query(ge=1, le=36)] = 6) -> WorkloadResponse:
    """Per grid: households, population, compounds, unowned compounds, special grids,
    incidents per month: to spot grids that are too big or too small."""
    with state.engine.connect() as conn:
        return WorkloadResponse(**campaign.workload(conn, months))
