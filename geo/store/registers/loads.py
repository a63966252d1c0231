"""Bulk loads of the registers from map data and the sample: upserts keyed on each
register's own identifier, so loading the same data twice changes nothing."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, select, text
from sqlalchemy.dialects.postgresql import insert

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
    upsert = stmt.on_conflict_do_update(
        index_elements=[Compound.source_key],
        set_={c: getattr(stmt.excluded, c) for c in [*cols, "geom"]},
    ).returning(Compound.id)
    return len(conn.execute(upsert, rows).all())


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
