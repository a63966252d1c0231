"""Use case: a register exported in the ledger import layout (XLSX or CSV), with the
street, community and grid each row falls in now, so a file exported and imported
again changes nothing. The ``export_*`` steps run in a connection the caller holds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import shapely

from geo.crs import from_wgs84
from geo.lookup.geocode import mask_phone
from geo.registers import (
    compound_cells,
    export_headers,
    place_chains,
    worker_cells,
    write_table,
)
from geo.registers.compounds import GOVERNANCE_FIELDS
from geo.services.registers import PeopleViewer, people_scope, unit_ids_of
from geo.store import boundaries as bstore
from geo.store.db import Connection, Engine
from geo.store.registers import compounds, special_grids, units, workers

Table = tuple[list[str], list[list[Any]]]


@dataclass(frozen=True)
class LedgerFile:
    """An exported register: the file's bytes and how many rows it holds."""

    content: bytes
    rows: int


def export_ledger(
    engine: Engine,
    kind: str,
    fmt: str,
    *,
    unit: str | None = None,
    crs: str = "wgs84",
    viewer: PeopleViewer | None = None,
) -> LedgerFile:
    """A register (workers, special_grids, else compounds) as an XLSX or CSV file,
    only inside ``unit`` if given. People are held to the viewer's jurisdiction; the
    phones of people and of special-grid contacts are masked unless the viewer sees
    contacts, as the single-item reads mask them (``viewer`` None: an operator at the
    command line, with database access, who sees everything whole)."""
    with engine.connect() as conn:
        if kind == "workers":
            ids = people_scope(conn, viewer, unit)
            whole = viewer is None or viewer.sees_contacts()
            headers, rows = export_workers(conn, unit_ids=ids, mask=None if whole else mask_phone)
        elif kind == "special_grids":
            headers, rows = export_special_grids(
                conn, unit_ids=unit_ids_of(conn, unit), viewer=viewer
            )
        else:
            headers, rows = export_compounds(conn, unit_ids=unit_ids_of(conn, unit), crs=crs)
    return LedgerFile(write_table(headers, rows, fmt), len(rows))


def _chains(conn: Connection, points: list[shapely.Point]) -> list[dict[str, Any]]:
    """Per WGS-84 point: street/community/grid names and the grid code it falls in."""
    return place_chains(bstore.units_frame(conn, levels=("street", "community", "grid")), points)


def export_compounds(
    conn: Connection, *, unit_ids: list[int] | None = None, crs: str = "wgs84"
) -> Table:
    """Header and rows of the compounds register in the import layout.

    The point of each compound is GEOS's point on its surface (the compound itself
    for a point), in ``crs``; the grid columns say where that point falls now.
    ``unit_ids`` limits the export to compounds inside those live units.
    """
    rows = compounds.export_rows(conn, unit_ids)
    points = list(shapely.point_on_surface(shapely.from_wkb([bytes(r["wkb"]) for r in rows])))
    chains = _chains(conn, points)
    coords: tuple[Any, Any] = (
        from_wgs84([p.x for p in points], [p.y for p in points], crs) if points else ([], [])
    )
    xs, ys = coords
    out = []
    for r, chain, x, y in zip(rows, chains, xs, ys, strict=True):
        r.update(chain, lon=float(x), lat=float(y), crs=crs)
        r["governance"] = {f: r[f] for f in GOVERNANCE_FIELDS} if r["gov_id"] is not None else None
        out.append(compound_cells(r))
    return export_headers("compounds"), out


def export_workers(
    conn: Connection,
    *,
    unit_ids: list[int] | None = None,
    mask: Callable[[str | None], str | None] | None = None,
) -> Table:
    """Header and rows of the people register with their open assignments.

    ``mask`` (e.g. :func:`geo.lookup.geocode.mask_phone`) is applied to phone numbers.
    """
    people: dict[int, dict[str, Any]] = {}
    for wid, code, name, phone, role, uid, ucode, uname in workers.export_rows(conn):
        p = people.setdefault(
            wid,
            {
                "key": code,
                "name": name,
                "phone": mask(phone) if mask else phone,
                "role": role,
                "units": [],
                "unit_ids": set(),
            },
        )
        if ucode is not None:
            p["units"].append((ucode, uname))
            p["unit_ids"].add(uid)
    chosen = list(people.values())
    if unit_ids is not None:
        inside = units.units_within(conn, unit_ids)
        chosen = [p for p in chosen if p["unit_ids"] & inside]
    return export_headers("workers"), [worker_cells(p) for p in chosen]


def contacts_as_seen(frame: Any, viewer: PeopleViewer | None) -> Any:
    """Special grids (a frame with ``contact_phone``) as ``viewer`` may see them: the
    phones masked (138****5678) unless the viewer sees contacts — the rule of the
    single special-grid read. ``viewer`` None: an operator, phones whole."""
    if viewer is None or viewer.sees_contacts() or "contact_phone" not in frame:
        return frame
    masked = frame["contact_phone"].map(lambda p: mask_phone(p) if isinstance(p, str) else p)
    return frame.assign(contact_phone=masked)


def export_special_grids(
    conn: Connection,
    *,
    unit_ids: list[int] | None = None,
    viewer: PeopleViewer | None = None,
) -> Table:
    """Header and rows of the live special grids with the grid holding each one's
    point on surface; contact phones as ``viewer`` may see them."""
    frame = contacts_as_seen(special_grids.special_grids_frame(conn), viewer)
    points = list(shapely.point_on_surface(frame.geometry.to_numpy()))
    chains = _chains(conn, points)
    keep = None
    if unit_ids is not None:
        all_units = bstore.units_frame(conn)
        within = units.units_within(conn, unit_ids)
        inside = all_units[all_units["unit_id"].isin(within)].geometry.union_all()
        keep = [bool(inside.covers(p)) for p in points]
    rows = []
    for i, (r, chain) in enumerate(zip(frame.itertuples(), chains, strict=True)):
        if keep is not None and not keep[i]:
            continue
        rows.append(
            [
                r.code,
                r.name,
                r.kind,
                r.responsible_unit,
                r.contact_name,
                r.contact_phone,
                chain["grid"],
                chain["grid_code"],
            ]
        )
    return export_headers("special_grids"), rows
