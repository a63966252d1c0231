"""Special grids (专属网格) as the registers read them: the live ones as a frame (or
those in force at a moment), and their responsible units and contacts, which a
ledger may change. Shapes are edited elsewhere (:mod:`geo.store.special_edits`).
Functions run in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import geopandas as gpd
import shapely
from geoalchemy2 import functions as gf
from sqlalchemy import Connection, or_, select, update

from geo.settings import STORAGE_SRID
from geo.store.models import SpecialGrid

#: What a ledger may change on a live special grid.
CONTACT_FIELDS = ("responsible_unit", "contact_name", "contact_phone")


def special_grids_frame(conn: Connection, at: datetime | None = None) -> gpd.GeoDataFrame:
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


def live_contacts(conn: Connection) -> dict[str, dict[str, Any]]:
    """Code → id, code, name and the contact fields of every live special grid."""
    sg = SpecialGrid
    return {
        r["code"]: dict(r)
        for r in conn.execute(
            select(sg.id, sg.code, sg.name, *(getattr(sg, f) for f in CONTACT_FIELDS)).where(
                sg.valid_to.is_(None)
            )
        ).mappings()
    }


def set_contacts(conn: Connection, special_grid_id: int, values: dict[str, Any]) -> None:
    """Write the contact fields of one special grid version (no audit: the caller's)."""
    sg = SpecialGrid
    conn.execute(update(sg).where(sg.id == special_grid_id).values(**values))
