"""Load the generated sample district through the normal import path.

Files first (the generator writes GeoPackage/GeoJSON/CSV like a bureau would send),
then: boundaries → draft set → activate; workers, special grids, compounds;
incidents with their cell and responsibility chain; patrol pings → tracks and visits.
One transaction: the sample lands whole or not at all, and loading it again adds
nothing (every step is keyed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Engine, update

from geo.errors import InvalidInput
from geo.incidents.placement import SpecialIndex, place_incidents
from geo.incidents.records import parse_incident
from geo.lookup.locator import GridLocator
from geo.services.boundaries import import_units
from geo.services.patrol import ingest_pings
from geo.settings import STORAGE_SRID, Settings
from geo.store import boundaries as bstore
from geo.store import incidents as incident_store
from geo.store import registers
from geo.store.models import LEVELS, Incident

from boundaries.importer import normalise_units, read_boundary_file
from boundaries.sample import generate_sample_district, write_sample

Step = Callable[[str], None]


@dataclass
class LoadSummary:
    boundary_set_id: int = 0
    boundaries_reused: bool = False
    units: int = 0
    workers: int = 0
    special_grids_new: int = 0
    compounds: int = 0
    incidents_new: int = 0
    tracks_new: int = 0
    dropped_fixes: dict[str, int] = field(default_factory=dict)


def generate_files(settings: Settings) -> dict[str, Path]:
    sample = generate_sample_district(settings.sample_seed)
    return write_sample(sample, Path(settings.data_dir))


def load_sample(engine: Engine, settings: Settings, step: Step = print) -> LoadSummary:
    """Generate the sample files and load them in one transaction."""
    step("generating the sample district files")
    files = generate_files(settings)
    out = LoadSummary()
    with engine.begin() as conn:
        step("importing boundaries as a draft set")
        units = pd.concat(
            [
                normalise_units(read_boundary_file(files["boundaries.gpkg"], layer=lvl), level=lvl)
                for lvl in LEVELS
            ],
            ignore_index=True,
        )
        units = gpd.GeoDataFrame(units, geometry="geometry", crs=STORAGE_SRID)
        result = import_units(
            conn,
            units,
            name="样例区 sample district",
            author="gridmap sample load",
            source=str(files["boundaries.gpkg"]),
        )
        out.boundary_set_id, out.units = result.boundary_set_id, result.units
        if bstore.set_status(conn, result.boundary_set_id) == "draft":
            step("activating the boundary set")
            bstore.publish_set(
                conn,
                result.boundary_set_id,
                author="gridmap sample load",
                reason="sample district",
            )
        else:
            out.boundaries_reused = True

        live = bstore.units_frame(conn)
        unit_id = dict(zip(live["code"], live["unit_id"].astype(int), strict=True))
        locator = GridLocator(live)

        step("loading grid workers and leaders")
        workers = pd.read_csv(files["workers.csv"], dtype=str)
        workers = workers.rename(columns={"worker_id": "worker_code"})
        ids = registers.upsert_workers(conn, workers)
        assignments = []
        for r in workers.itertuples():
            code = r.grid_code if r.role == "worker" else r.community_code
            if isinstance(code, str) and code in unit_id:
                assignments.append(
                    {"worker_id": ids[r.worker_code], "unit_id": unit_id[code], "role": r.role}
                )
        registers.assign_workers(conn, assignments)
        out.workers = len(workers)

        step("loading special grids and compounds")
        special = read_boundary_file(files["boundaries.gpkg"], layer="special_grid")
        special["geometry"] = [
            g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g])
            for g in special.geometry
        ]
        out.special_grids_new = registers.upsert_special_grids(conn, special, "gridmap sample load")
        compounds = read_boundary_file(files["compounds.geojson"])
        compounds["source_key"] = [f"sample:{i:05d}" for i in range(len(compounds))]
        out.compounds = registers.upsert_compounds(conn, compounds)

        step("loading incidents")
        out.incidents_new = _load_incidents(conn, files["incidents.geojson"], locator, settings)

        step("loading patrol tracks")
        pings = pd.read_csv(files["patrol_pings.csv"], dtype={"worker_id": str})
        out.tracks_new, out.dropped_fixes = _load_patrols(conn, pings, ids, locator, settings)
    return out


def _load_incidents(conn, path: Path, locator: GridLocator, settings: Settings) -> int:
    """Through the intake path: validate, place (with precedence rules), store."""
    inc = gpd.read_file(path, engine="pyogrio")
    records = [
        parse_incident(
            {
                "source": r.source,
                "external_id": r.external_id,
                "reported_at": r.reported_at,
                "category": r.category,
                "lon": r.geometry.x,
                "lat": r.geometry.y,
                "crs": "wgs84",
            }
        )
        for r in inc.itertuples()
    ]
    special = SpecialIndex(registers.special_grids_frame(conn))
    rows, _, unplaced = place_incidents(records, locator, special, point_res=settings.h3_point_res)
    if unplaced:
        raise InvalidInput(f"{len(unplaced)} sample incidents fall outside the district")
    new = incident_store.store_incidents(conn, rows)
    # Keep the sample's own statuses (open/closed) rather than intake's "open".
    closed = [
        rec.external_id
        for rec, st in zip(records, inc["status"], strict=True)
        if st == "closed" and (rec.source, rec.external_id) in new
    ]
    if closed:
        conn.execute(
            update(Incident).where(Incident.external_id.in_(closed)).values(status="closed")
        )
    return len(new)


def _load_patrols(conn, pings, worker_ids, locator, settings):
    pings = pings.assign(time=pd.to_datetime(pings["time"], utc=True))
    district = bstore.units_frame(conn, levels=("district",)).geometry.union_all()
    result = ingest_pings(
        conn, pings, worker_ids, locator, res=settings.h3_patrol_res, district=district
    )
    return result.new_tracks, result.dropped
