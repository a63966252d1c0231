"""Deterministic sample district 样例区 (code 410799) for tests, demos and benchmarks.

A fictional district of about 140 km² around 113.9°E 35.3°N with the counts of a real
one: 6 streets/towns, 55 communities/villages, 611 comprehensive grids that tile
their parents exactly, 230 special grids, 1,500 compounds (278 unowned, clustered in
the old town), grid workers and leaders, 30 days of incidents and patrol GPS pings.
Everything follows from ``seed``; the same seed gives the same data on any machine
with the same library versions.

Geometry is built in EPSG:4547 (CGCS2000 Gauss-Krüger, CM 114°E, metres) and
converted vertex by vertex to WGS-84 at the end, so borders shared between
neighbours stay bit-identical. Streets 001 and 002 are the old town; 003 and 004 the
new town; 101 and 102 the rural towns. The layout is described in
:mod:`boundaries.sample_hierarchy`, the other layers in :mod:`boundaries.sample_features`,
:mod:`boundaries.sample_compounds`, :mod:`boundaries.sample_activity` and
:mod:`boundaries.sample_patrol`.

Run ``python -m boundaries.sample OUT_DIR [--seed N]`` to write the files.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from boundaries.sample_activity import (
    INCIDENT_CATEGORIES,
    INCIDENT_SOURCES,
    build_incidents,
    build_workers,
)
from boundaries.sample_compounds import MANAGEMENT_TYPES, build_compounds
from boundaries.sample_features import SPECIAL_KINDS, build_special_grids
from boundaries.sample_geometry import to_wgs84
from boundaries.sample_hierarchy import Hierarchy, Unit, build_hierarchy
from boundaries.sample_patrol import build_patrol_pings

__all__ = [
    "INCIDENT_CATEGORIES",
    "INCIDENT_SOURCES",
    "MANAGEMENT_TYPES",
    "SPECIAL_KINDS",
    "SampleDistrict",
    "generate_sample_district",
    "write_sample",
]

DEFAULT_SEED = 410799


@dataclass(frozen=True)
class SampleDistrict:
    """All layers of one generated district; geometries in EPSG:4326."""

    district: gpd.GeoDataFrame  # 1 row
    streets: gpd.GeoDataFrame  # 6 rows
    communities: gpd.GeoDataFrame  # 55 rows
    grids: gpd.GeoDataFrame  # 611 rows
    special_grids: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame
    workers: pd.DataFrame
    incidents: gpd.GeoDataFrame
    patrol_pings: pd.DataFrame


def _boundary_frame(units: list[Unit]) -> gpd.GeoDataFrame:
    """code/name/level/parent_code + MultiPolygon (CCW exteriors) in WGS-84."""
    multi = np.array([shapely.MultiPolygon([u.geometry]) for u in units], dtype=object)
    # Orient in metres, before conversion: reversing a ring keeps its vertices.
    geoms = to_wgs84(shapely.orient_polygons(multi))
    return gpd.GeoDataFrame(
        {
            "code": [u.code for u in units],
            "name": [u.name for u in units],
            "level": [u.level for u in units],
            "parent_code": pd.Series([u.parent_code for u in units], dtype=object),
        },
        geometry=geoms,
        crs="EPSG:4326",
    )


def generate_sample_district(seed: int = DEFAULT_SEED) -> SampleDistrict:
    """Generate the sample district 样例区 from ``seed``.

    Parameters
    ----------
    seed
        Seed of the numpy Generator every random draw comes from.

    Returns
    -------
    SampleDistrict
        Boundary layers (``code, name, level, parent_code, geometry``), special grids,
        compounds, workers, incidents and patrol pings; all coordinates WGS-84.
    """
    rng = np.random.default_rng(seed)
    h: Hierarchy = build_hierarchy(rng)
    grids = _boundary_frame(h.grids)
    # Independent streams per layer: changing how one layer draws does not reshuffle
    # the others.
    feature_rng, compound_rng, worker_rng, incident_rng, patrol_rng = (
        np.random.default_rng(s)
        for s in cast(np.random.SeedSequence, rng.bit_generator.seed_seq).spawn(5)
    )
    workers = build_workers(h, worker_rng)
    return SampleDistrict(
        district=_boundary_frame([h.district]),
        streets=_boundary_frame(h.streets),
        communities=_boundary_frame(h.communities),
        grids=grids,
        special_grids=build_special_grids(h, feature_rng),
        compounds=build_compounds(h, grids, compound_rng),
        workers=workers,
        incidents=build_incidents(h, incident_rng),
        patrol_pings=build_patrol_pings(h, workers, patrol_rng),
    )


def _iso(times: pd.Series) -> pd.Series:
    """ISO 8601 to the second with a ``+08:00`` style offset, vectorised.

    ``Series.dt.strftime`` formats element by element (seconds for the pings);
    numpy formats the local wall time, and the offset comes from local − UTC.
    """
    local = times.dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    utc = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    minutes = (local - utc).astype(np.int64) // 60
    offsets = {
        m: f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"
        for m in np.unique(minutes).tolist()
    }
    text = np.char.add(np.datetime_as_string(local, unit="s"), np.vectorize(offsets.get)(minutes))
    return pd.Series(text, index=times.index)


def write_sample(sample: SampleDistrict, out_dir: Path) -> dict[str, Path]:
    """Write the sample as GeoPackage, GeoJSON and CSV files (UTF-8) into ``out_dir``.

    Returns
    -------
    dict
        File name → path: ``boundaries.gpkg`` (layers district, street, community,
        grid, special_grid), one ``<layer>.geojson`` per layer plus
        ``compounds.geojson`` and ``incidents.geojson``, ``workers.csv`` and
        ``patrol_pings.csv`` (with a ``crs`` column saying ``wgs84``).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    layers = {
        "district": sample.district,
        "street": sample.streets,
        "community": sample.communities,
        "grid": sample.grids,
        "special_grid": sample.special_grids,
    }
    gpkg = out_dir / "boundaries.gpkg"
    gpkg.unlink(missing_ok=True)  # no stale layers from an earlier run
    for layer, gdf in layers.items():
        gdf.to_file(gpkg, layer=layer, driver="GPKG", engine="pyogrio")
    written[gpkg.name] = gpkg

    incidents = sample.incidents.copy()
    incidents["reported_at"] = _iso(incidents["reported_at"])
    geojson = {**layers, "compounds": sample.compounds, "incidents": incidents}
    for name, gdf in geojson.items():
        path = out_dir / f"{name}.geojson"
        path.unlink(missing_ok=True)  # the GeoJSON driver refuses to overwrite
        gdf.to_file(path, driver="GeoJSON", engine="pyogrio")
        written[path.name] = path

    workers = out_dir / "workers.csv"
    sample.workers.to_csv(workers, index=False, encoding="utf-8")
    written[workers.name] = workers
    pings = sample.patrol_pings.copy()
    pings["time"] = _iso(pings["time"])
    pings["crs"] = "wgs84"
    path = out_dir / "patrol_pings.csv"
    pings[["worker_id", "time", "lon", "lat", "accuracy", "crs"]].to_csv(
        path, index=False, encoding="utf-8"
    )
    written[path.name] = path
    return written


def main(argv: list[str] | None = None) -> None:
    """``python -m boundaries.sample OUT_DIR [--seed N]``."""
    parser = argparse.ArgumentParser(
        prog="python -m boundaries.sample", description="Write the sample district 样例区."
    )
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    sample = generate_sample_district(args.seed)
    generated = time.perf_counter() - start
    written = write_sample(sample, args.out_dir)
    print(f"generated 样例区 (seed {args.seed}) in {generated:.1f} s")
    for name, path in written.items():
        print(f"  {name:<22} {path.stat().st_size / 1024:>9.0f} KiB  {path}")


if __name__ == "__main__":
    main()
