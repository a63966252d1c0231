"""Registers in PostGIS: grid workers and their assignments, compounds, special grids.

Loads are upserts keyed on the register's own identifier, so loading the same ledger
twice changes nothing. Functions run in the caller's transaction.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely
from geoalchemy2 import functions as gf
from sqlalchemy import Connection, or_, select, text
from sqlalchemy.dialects.postgresql import insert

from geo.settings import STORAGE_SRID
from geo.store.db import ewkt
from geo.store.models import Compound, GridAssignment, GridWorker, SpecialGrid


def _none(v):
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else v


def upsert_workers(conn: Connection, workers: pd.DataFrame) -> dict[str, int]:
    """Insert/update workers (worker_code, name, role, phone); returns code → id."""
    rows = [
        {"worker_code": r.worker_code, "name": r.name, "role": r.role, "phone": _none(r.phone)}
        for r in workers.itertuples()
    ]
    if rows:
        stmt = insert(GridWorker)
        stmt = stmt.on_conflict_do_update(
            index_elements=[GridWorker.worker_code],
            set_={
                "name": stmt.excluded.name,
                "role": stmt.excluded.role,
                "phone": stmt.excluded.phone,
            },
        )
        conn.execute(stmt, rows)
    return dict(conn.execute(select(GridWorker.worker_code, GridWorker.id)).all())


def assign_workers(conn: Connection, assignments: list[dict]) -> int:
    """Open assignments (worker_id, unit_id, role) that are not open yet."""
    if not assignments:
        return 0
    stmt = (
        insert(GridAssignment)
        .on_conflict_do_nothing(
            index_elements=["worker_id", "unit_id", "role"], index_where=text("valid_to IS NULL")
        )
        .returning(GridAssignment.id)  # rowcount is not reliable for batched inserts
    )
    return len(conn.execute(stmt, assignments).all())


def upsert_compounds(conn: Connection, compounds: gpd.GeoDataFrame) -> int:
    """Insert/update compounds keyed on ``source_key``."""
    cols = [
        "name",
        "address",
        "households",
        "buildings",
        "year_built",
        "management_type",
        "governance_status",
    ]
    rows = []
    for r in compounds.itertuples():
        row = {c: _none(getattr(r, c, None)) for c in cols}
        for c in ("households", "buildings", "year_built"):
            row[c] = None if row[c] is None else int(row[c])
        row["source_key"] = r.source_key
        row["geom"] = ewkt(r.geometry)
        rows.append(row)
    if not rows:
        return 0
    stmt = insert(Compound)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Compound.source_key],
        set_={c: getattr(stmt.excluded, c) for c in [*cols, "geom"]},
    ).returning(Compound.id)
    return len(conn.execute(stmt, rows).all())


def upsert_special_grids(conn: Connection, grids: gpd.GeoDataFrame, author: str) -> int:
    """Insert special grids whose code is not live yet; live ones are left as they are."""
    rows = [
        {
            "code": r.code,
            "name": r.name,
            "kind": r.kind,
            "responsible_unit": r.responsible_unit,
            "contact_name": _none(getattr(r, "contact_name", None)),
            "contact_phone": _none(getattr(r, "contact_phone", None)),
            "geom": ewkt(r.geometry),
            "author": author,
        }
        for r in grids.itertuples()
    ]
    if not rows:
        return 0
    stmt = (
        insert(SpecialGrid)
        .on_conflict_do_nothing(index_elements=["code"], index_where=text("valid_to IS NULL"))
        .returning(SpecialGrid.id)
    )
    return len(conn.execute(stmt, rows).all())


def live_people(conn: Connection) -> pd.DataFrame:
    """Open assignments with the person: unit_id, role, worker_code, name, phone."""
    rows = conn.execute(
        select(
            GridAssignment.unit_id,
            GridAssignment.role,
            GridWorker.worker_code,
            GridWorker.name,
            GridWorker.phone,
        )
        .join(GridWorker, GridWorker.id == GridAssignment.worker_id)
        .where(GridAssignment.valid_to.is_(None))
        .order_by(GridAssignment.unit_id, GridWorker.worker_code)
    ).all()
    return pd.DataFrame(rows, columns=["unit_id", "role", "worker_code", "name", "phone"])


def special_grids_frame(conn: Connection, at=None) -> gpd.GeoDataFrame:
    """Special grids in force now (or at ``at``) as a GeoDataFrame in EPSG:4326."""
    sg = SpecialGrid
    cond = (
        sg.valid_to.is_(None)
        if at is None
        else (sg.valid_from <= at) & or_(sg.valid_to.is_(None), sg.valid_to > at)
    )
    rows = (
        conn.execute(
            select(
                sg.id,
                sg.code,
                sg.name,
                sg.kind,
                sg.responsible_unit,
                sg.contact_name,
                sg.contact_phone,
                gf.ST_AsBinary(sg.geom).label("wkb"),
            )
            .where(cond)
            .order_by(sg.code)
        )
        .mappings()
        .all()
    )
    cols = ["id", "code", "name", "kind", "responsible_unit", "contact_name", "contact_phone"]
    return gpd.GeoDataFrame(
        [{c: r[c] for c in cols} for r in rows] or None,
        columns=cols,
        geometry=list(shapely.from_wkb([bytes(r["wkb"]) for r in rows])) if rows else [],
        crs=f"EPSG:{STORAGE_SRID}",
    )


def compounds_frame(conn: Connection) -> gpd.GeoDataFrame:
    """All compounds as a GeoDataFrame in EPSG:4326 (polygons or points)."""
    c = Compound
    rows = (
        conn.execute(
            select(
                c.id,
                c.source_key,
                c.name,
                c.address,
                c.households,
                c.buildings,
                c.year_built,
                c.management_type,
                c.governance_status,
                gf.ST_AsBinary(c.geom).label("wkb"),
            ).order_by(c.id)
        )
        .mappings()
        .all()
    )
    cols = [
        "id",
        "source_key",
        "name",
        "address",
        "households",
        "buildings",
        "year_built",
        "management_type",
        "governance_status",
    ]
    return gpd.GeoDataFrame(
        [{k: r[k] for k in cols} for r in rows] or None,
        columns=cols,
        geometry=list(shapely.from_wkb([bytes(r["wkb"]) for r in rows])) if rows else [],
        crs=f"EPSG:{STORAGE_SRID}",
    )


def worker_ids(conn: Connection) -> dict[str, int]:
    """Worker code → id for everyone in the register."""
    return dict(conn.execute(select(GridWorker.worker_code, GridWorker.id)).all())
