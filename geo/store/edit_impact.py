"""The data an impact preview needs, read near the touched grids only."""

from __future__ import annotations

from datetime import timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from geoalchemy2 import functions as gf
from sqlalchemy import Connection, func, select

from geo.hexgrid import cell_center, cell_to_str
from geo.store.models import (
    Compound,
    GridAssignment,
    GridWorker,
    Incident,
    PatrolVisit,
    SpecialGrid,
)
from geo.units import impact as pure


def _points(conn: Connection, table, columns: list, where, bbox) -> pd.DataFrame:
    pt = gf.ST_PointOnSurface(table.geom)
    env = func.ST_MakeEnvelope(*bbox, 4326)
    stmt = select(*columns, gf.ST_X(pt).label("x"), gf.ST_Y(pt).label("y")).where(
        table.geom.intersects(env), *where
    )
    return pd.DataFrame(
        conn.execute(stmt).mappings().all(), columns=[*(c.key for c in columns), "x", "y"]
    )


def _keyed(frame: gpd.GeoDataFrame, touched: set[str]):
    rows = frame[(frame["level"] == "grid") & frame["code"].isin(touched)]
    keys = [
        int(u) if u is not None and not pd.isna(u) else f"new:{c}"
        for u, c in zip(rows["unit_id"], rows["code"], strict=True)
    ]
    return keys, list(rows.geometry), dict(zip(keys, rows["code"], strict=True))


def impact_of(
    conn: Connection, live: gpd.GeoDataFrame, after: gpd.GeoDataFrame, touched: set[str]
) -> dict:
    """Compounds, households, special grids, workers, open incidents and patrol cells
    that change grid, and the before/after workload of every touched grid."""
    after_touched = touched | set(
        after.loc[after["unit_id"].isin(live.loc[live["code"].isin(touched), "unit_id"]), "code"]
    )
    b_keys, b_geoms, b_label = _keyed(live, touched)
    a_keys, a_geoms, a_label = _keyed(after, after_touched)
    label = {**b_label, **a_label}
    if not b_geoms and not a_geoms:
        return {"grids": {}}
    bbox = shapely.total_bounds(np.asarray(b_geoms + a_geoms, dtype=object)).tolist()
    now = conn.execute(select(func.now())).scalar_one()

    c = Compound
    compounds = _points(conn, c, [c.id, c.name, c.households, c.management_type], [], bbox)
    i = Incident
    incidents = _points(
        conn,
        i,
        [i.id, i.source, i.external_id, i.category, i.status, i.reported_at],
        [(i.status != "closed") | (i.reported_at >= now - timedelta(days=30))],
        bbox,
    )
    s = SpecialGrid
    special = _points(conn, s, [s.code, s.name, s.kind], [s.valid_to.is_(None)], bbox)
    unit_ids = [k for k in b_keys if isinstance(k, int)]
    cells = [
        r[0]
        for r in conn.execute(
            select(PatrolVisit.h3_cell).where(PatrolVisit.grid_unit_id.in_(unit_ids)).distinct()
        )
    ]
    centres = np.array([cell_center(cell) for cell in cells]).reshape(-1, 2)
    people = (
        conn.execute(
            select(
                GridAssignment.unit_id, GridAssignment.role, GridWorker.worker_code, GridWorker.name
            )
            .join(GridWorker, GridWorker.id == GridAssignment.worker_id)
            .where(GridAssignment.valid_to.is_(None), GridAssignment.unit_id.in_(unit_ids))
        )
        .mappings()
        .all()
    )

    def where(df_x, df_y, keys, geoms):
        return pure.locate(np.asarray(df_x), np.asarray(df_y), keys, geoms)

    cb, ca = (
        where(compounds.x, compounds.y, k, g) for k, g in ((b_keys, b_geoms), (a_keys, a_geoms))
    )
    ib, ia = (
        where(incidents.x, incidents.y, k, g) for k, g in ((b_keys, b_geoms), (a_keys, a_geoms))
    )
    sb, sa = (where(special.x, special.y, k, g) for k, g in ((b_keys, b_geoms), (a_keys, a_geoms)))
    hb, ha = (
        where(centres[:, 1], centres[:, 0], k, g) for k, g in ((b_keys, b_geoms), (a_keys, a_geoms))
    )
    recent = incidents["reported_at"] >= now - timedelta(days=30) if len(incidents) else []
    open_ = incidents["status"] != "closed" if len(incidents) else []
    compound_moves = pure.moves(compounds.drop(columns=["x", "y"]), cb, ca, label)
    open_incidents = incidents[open_] if len(incidents) else incidents
    open_moves = pure.moves(
        open_incidents.drop(columns=["x", "y", "reported_at"]),
        [k for k, o in zip(ib, open_, strict=True) if o],
        [k for k, o in zip(ia, open_, strict=True) if o],
        label,
    )
    cell_frame = pd.DataFrame({"h3_cell": [cell_to_str(c) for c in cells]})
    retired_units = set(b_keys) - set(a_keys)
    workers = [
        {**dict(p), "grid": b_label[p["unit_id"]], "grid_after": None}
        for p in people
        if p["unit_id"] in retired_units
    ]
    before_load = pure.workload(
        b_keys, b_label, compounds, cb, [k for k, r in zip(ib, recent, strict=True) if r]
    )
    after_load = pure.workload(
        a_keys, a_label, compounds, ca, [k for k, r in zip(ia, recent, strict=True) if r]
    )
    return {
        "compounds": compound_moves,
        "households": int(sum(int(m.get("households") or 0) for m in compound_moves)),
        "special_grids": pure.moves(special.drop(columns=["x", "y"]), sb, sa, label),
        "workers_losing_grid": workers,
        "workers": [{**dict(p), "grid": b_label[p["unit_id"]]} for p in people],
        "open_incidents": open_moves,
        "patrol_cells": pure.moves(cell_frame, hb, ha, label),
        "workload_before": before_load,
        "workload_after": after_load,
    }
