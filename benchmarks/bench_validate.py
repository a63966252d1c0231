"""Time ``geo.topology.validate_units`` on the sample district and a 20,000-grid city.

Targets (issue): the 611-grid sample in < 1 s, a 20,000-grid city in < 30 s on 2 cores.
Prints the median of several runs, grids per second and the ratio median / target
(below 1 meets the target).

The synthetic city is built in EPSG:4547 metres: grid seeds on a jittered lattice
(so no cell is absurdly small), their Voronoi cells are the grids, and grids are
grouped into communities, communities into streets and streets into districts by
nearest seed. Each higher unit is the ``coverage_union`` of its grids, which keeps
every vertex, so the four levels tile exactly, as topologically edited data does.
Cells touching the diagram's frame are dropped, giving the city a ragged outline.
The *dirty* variant moves 1 % of the grids 3 m east, which sends the validator down
its slow paths (overlaps, gaps, slivers, grids outside their community) for those;
the *unsnapped* one moves every unit by its own centimetre, so no border shares a
vertex and every unit takes the slow paths.

Run: ``uv run python benchmarks/bench_validate.py [--runs 5] [--grids 20000]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from geo.topology import validate_units

from boundaries.sample import generate_sample_district

SAMPLE_TARGET_S = 1.0
CITY_TARGET_S = 30.0
CENTER_GK = (490_000.0, 3_906_000.0)  # about 113.89°E 35.28°N
GRID_SPACING_M = 320.0  # ~0.1 km² per grid, like the sample's new town
GRIDS_PER_COMMUNITY = 12
COMMUNITIES_PER_STREET = 10
STREETS_PER_DISTRICT = 12


def _nearest(points: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Index of the nearest seed for each point (all shapely Points)."""
    tree = shapely.STRtree(seeds)
    return tree.query_nearest(points, all_matches=False)[1]


def _group_centers(points: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    """Mean point of each group."""
    counts = np.bincount(group, minlength=n)
    gx = np.bincount(group, shapely.get_x(points), minlength=n) / counts
    gy = np.bincount(group, shapely.get_y(points), minlength=n) / counts
    return shapely.points(gx, gy)


def _frame(level, codes, names, parents, geoms_m) -> gpd.GeoDataFrame:
    to_wgs = Transformer.from_crs(4547, 4326, always_xy=True)

    def xy(c: np.ndarray) -> np.ndarray:
        lon, lat = to_wgs.transform(c[:, 0], c[:, 1])
        return np.column_stack([lon, lat])

    multi = [g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in geoms_m]
    return gpd.GeoDataFrame(
        {"level": level, "code": codes, "name": names, "parent_code": parents},
        geometry=shapely.transform(np.array(multi, dtype=object), xy),
        crs=4326,
    )


def synthetic_city(n_grids: int = 20_000, seed: int = 7) -> gpd.GeoDataFrame:
    """A four-level city of about ``n_grids`` grids that tile exactly (EPSG:4326)."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_grids))) + 4  # +frame ring whose cells are dropped
    ix, iy = np.meshgrid(np.arange(side), np.arange(side))
    x = (ix.ravel() - side / 2) * GRID_SPACING_M + CENTER_GK[0]
    y = (iy.ravel() - side / 2) * GRID_SPACING_M + CENTER_GK[1]
    x += rng.uniform(-0.35, 0.35, x.size) * GRID_SPACING_M
    y += rng.uniform(-0.35, 0.35, y.size) * GRID_SPACING_M
    points = shapely.points(x, y)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(points), ordered=True))
    col, row = ix.ravel(), iy.ravel()
    inner = (col >= 2) & (col < side - 2) & (row >= 2) & (row < side - 2)
    grids, centers = cells[inner][:n_grids], points[inner][:n_grids]

    def group(members: np.ndarray, per: int) -> np.ndarray:
        k = max(1, round(len(members) / per))
        seeds = members[rng.choice(len(members), k, replace=False)]
        return _nearest(members, seeds)

    comm_of_grid = group(centers, GRIDS_PER_COMMUNITY)
    n_comm = comm_of_grid.max() + 1
    comm_center = _group_centers(centers, comm_of_grid, n_comm)
    street_of_comm = group(comm_center, COMMUNITIES_PER_STREET)
    n_street = street_of_comm.max() + 1
    street_center = _group_centers(comm_center, street_of_comm, n_street)
    district_of_street = group(street_center, STREETS_PER_DISTRICT)

    d_codes = [f"4107{d + 1:02d}" for d in range(district_of_street.max() + 1)]
    s_codes, s_count = [], Counter()
    for s in range(n_street):
        d = district_of_street[s]
        s_count[d] += 1
        s_codes.append(f"{d_codes[d]}{s_count[d]:03d}")
    c_codes, c_count = [], Counter()
    for c in range(n_comm):
        s = street_of_comm[c]
        c_count[s] += 1
        c_codes.append(f"{s_codes[s]}{c_count[s]:03d}")
    g_codes, g_count = [], Counter()
    for c in comm_of_grid.tolist():
        g_count[c] += 1
        g_codes.append(f"{c_codes[c]}{g_count[c]:03d}")

    street_of_grid = street_of_comm[comm_of_grid]
    district_of_grid = district_of_street[street_of_grid]
    frames = [
        _frame(
            "district",
            d_codes,
            [f"区{d}" for d in range(len(d_codes))],
            [None] * len(d_codes),
            [shapely.coverage_union_all(grids[district_of_grid == d]) for d in range(len(d_codes))],
        ),
        _frame(
            "street",
            s_codes,
            [f"街道{s}" for s in range(n_street)],
            [d_codes[d] for d in district_of_street],
            [shapely.coverage_union_all(grids[street_of_grid == s]) for s in range(n_street)],
        ),
        _frame(
            "community",
            c_codes,
            [f"社区{c}" for c in range(n_comm)],
            [s_codes[s] for s in street_of_comm],
            [shapely.coverage_union_all(grids[comm_of_grid == c]) for c in range(n_comm)],
        ),
        _frame(
            "grid",
            g_codes,
            [f"网格{i}" for i in range(len(grids))],
            [c_codes[c] for c in comm_of_grid],
            list(grids),
        ),
    ]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326)


def dirty(units: gpd.GeoDataFrame, share: float = 0.01, seed: int = 3) -> gpd.GeoDataFrame:
    """A copy with ``share`` of the grids moved 3 m east (about 3e-5 degrees)."""
    rng = np.random.default_rng(seed)
    out = units.copy()
    grid_rows = np.flatnonzero(out["level"].to_numpy() == "grid")
    moved = rng.choice(grid_rows, max(1, int(len(grid_rows) * share)), replace=False)
    geoms = out.geometry.to_numpy().copy()
    # 3.3e-5° of longitude is 3 m at 35°N.
    geoms[moved] = shapely.transform(geoms[moved], lambda c: c + np.array([3.3e-5, 0.0]))
    return out.set_geometry(list(geoms), crs=4326)


def unsnapped(units: gpd.GeoDataFrame, seed: int = 5) -> gpd.GeoDataFrame:
    """A copy with every unit moved by its own ~1 cm: no border shares a vertex.

    Data digitised layer by layer without snapping looks like this; it is the
    validator's slowest case (every unit takes the overlay paths) and yields a
    sliver warning for nearly every shared border.
    """
    rng = np.random.default_rng(seed)
    offsets = rng.normal(0.0, 1e-7, (len(units), 2))  # 1e-7° ≈ 1 cm
    geoms = [
        shapely.transform(g, lambda c, d=d: c + d)
        for g, d in zip(units.geometry.to_numpy(), offsets, strict=True)
    ]
    return units.set_geometry(geoms, crs=4326)


def _time(units, special, runs: int) -> tuple[float, list]:
    times, findings = [], []
    for _ in range(runs):
        start = time.perf_counter()
        findings = validate_units(units, special)
        times.append(time.perf_counter() - start)
    return statistics.median(times), findings


def _report(label: str, units, special, runs: int, target: float | None) -> dict:
    n_grids = int((units["level"] == "grid").sum())
    median, findings = _time(units, special, runs)
    kinds = Counter(f"{f.type}/{f.severity}" for f in findings)
    ratio = f"{median / target:.3f}" if target else "-"
    print(
        f"{label:<22} grids {n_grids:>6}  median {median:7.3f} s  "
        f"{n_grids / median:>9,.0f} grids/s  ratio to target {ratio}  "
        f"findings {dict(kinds) or 0}"
    )
    return {"label": label, "grids": n_grids, "median": median, "ratio": ratio, "kinds": kinds}


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print one line per case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--grids", type=int, default=20_000)
    args = parser.parse_args(argv)

    sample = generate_sample_district()
    units = gpd.GeoDataFrame(
        pd.concat([sample.district, sample.streets, sample.communities, sample.grids]),
        crs=4326,
    ).reset_index(drop=True)
    start = time.perf_counter()
    city = synthetic_city(args.grids)
    counts = city["level"].value_counts()
    print(
        f"built synthetic city in {time.perf_counter() - start:.1f} s: "
        + ", ".join(f"{counts[lv]:,} {lv}" for lv in ("district", "street", "community", "grid"))
    )
    _report("sample (611 grids)", units, sample.special_grids, args.runs, SAMPLE_TARGET_S)
    _report("city", city, None, max(3, args.runs // 2), CITY_TARGET_S)
    _report("city, 1% grids moved", dirty(city), None, max(3, args.runs // 2), CITY_TARGET_S)
    _report("city, nothing snapped", unsnapped(city), None, 3, CITY_TARGET_S)


if __name__ == "__main__":
    main()
