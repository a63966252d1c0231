"""Coverage of hand-made grids from hand-made visits, against counts made here.

Cell membership is recomputed independently: candidate cells around the grids, kept
where shapely says the cell centre (h3.cell_to_latlng) lies inside the grid.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.errors import InvalidInput
from geo.patrol import coverage

G1 = shapely.box(113.900, 35.300, 113.906, 35.306)
G2 = shapely.box(113.906, 35.300, 113.912, 35.306)
TINY = shapely.box(113.95, 35.30, 113.9501, 35.3001)  # ~9 m: no cell centre inside
BLOCK = shapely.box(113.900, 35.300, 113.912, 35.306)


def _units(parent_codes: bool = True) -> gpd.GeoDataFrame:
    rows = [
        ("410799", "district", None, BLOCK),
        ("410799001", "street", "410799", BLOCK),
        ("410799001001", "community", "410799001", BLOCK),
        ("410799001001001", "grid", "410799001001", G1),
        ("410799001001002", "grid", "410799001001", G2),
        ("410799001001003", "grid", "410799001001", TINY),
    ]
    gdf = gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "level": [r[1] for r in rows],
            "parent_code": pd.Series([r[2] for r in rows], dtype=object),
            "name": [f"unit {r[0]}" for r in rows],
        },
        geometry=[r[3] for r in rows],
        crs="EPSG:4326",
    )
    return gdf if parent_codes else gdf.drop(columns="parent_code")


def _cells_with_centre_in(poly) -> list[int]:
    c = poly.centroid
    cand = h3.grid_disk(h3.latlng_to_cell(c.y, c.x, 10), 12)
    ll = np.array([h3.cell_to_latlng(x) for x in cand])
    inside = shapely.contains_xy(poly, ll[:, 1], ll[:, 0])
    return sorted(h3.str_to_int(x) for x, ok in zip(cand, inside, strict=True) if ok)


@pytest.fixture(scope="module")
def expected():
    g1, g2 = _cells_with_centre_in(G1), _cells_with_centre_in(G2)
    pt = TINY.representative_point()
    return {"g1": g1, "g2": g2, "tiny": h3.str_to_int(h3.latlng_to_cell(pt.y, pt.x, 10))}


@pytest.fixture(scope="module")
def visits(expected):
    g1, g2 = expected["g1"], expected["g2"]
    far = h3.str_to_int(h3.latlng_to_cell(36.0, 114.5, 10))  # in no grid
    rows = [(c, "2026-10-05", "W1", 2) for c in g1[:5]]
    rows += [(c, "2026-10-07", "W2", 1) for c in g1[:2]]
    rows += [(g2[0], "2026-09-20", "W1", 3)]  # before the window
    rows += [(g2[1], "2026-10-11", "W2", 1)]  # after it: ignored entirely
    rows += [(far, "2026-10-06", "W3", 4)]
    v = pd.DataFrame(rows, columns=["cell", "day", "worker_code", "pass_count"])
    day = pd.to_datetime(v["day"]).dt.tz_localize("Asia/Shanghai")
    return v.assign(
        day=[dt.date.fromisoformat(d) for d in v["day"]],
        first_seen=day + pd.Timedelta(hours=9),
        last_seen=day + pd.Timedelta(hours=10),
    )


def test_cells_are_those_whose_centre_is_inside(expected):
    cells = coverage.unit_cells(_units())
    by_grid = cells.groupby("grid_code")["cell"].apply(sorted).to_dict()
    assert by_grid["410799001001001"] == expected["g1"]
    assert by_grid["410799001001002"] == expected["g2"]
    assert by_grid["410799001001003"] == [expected["tiny"]]
    assert cells.loc[cells["grid_code"] == "410799001001003", "fallback"].all()
    assert not cells.loc[cells["grid_code"] != "410799001001003", "fallback"].any()


def test_shares_passes_workers_and_days_since(expected, visits):
    cov = coverage.coverage(_units(), visits, "2026-10-01", "2026-10-10", stale_after_days=7)
    u = cov.units.set_index("code")
    n1, n2 = len(expected["g1"]), len(expected["g2"])
    g1 = u.loc["410799001001001"]
    assert (g1["cell_count"], g1["visited_cells"]) == (n1, 5)
    assert g1["share_visited"] == pytest.approx(5 / n1)
    assert g1["pass_count"] == 5 * 2 + 2 * 1 and g1["worker_count"] == 2
    assert g1["days_since_last_visit"] == 3  # last visit 10-07, window ends 10-10
    g2 = u.loc["410799001001002"]
    assert (g2["visited_cells"], g2["pass_count"], g2["worker_count"]) == (0, 0, 0)
    assert g2["days_since_last_visit"] == 20  # 09-20, before the window
    tiny = u.loc["410799001001003"]
    assert tiny["cell_count"] == 1 and pd.isna(tiny["days_since_last_visit"])
    for parent in ("410799001001", "410799001", "410799"):
        p = u.loc[parent]
        assert p["cell_count"] == n1 + n2 + 1
        assert p["visited_cells"] == 5 and p["pass_count"] == 12 and p["worker_count"] == 2
        assert p["share_visited"] == pytest.approx(5 / (n1 + n2 + 1))
        assert p["days_since_last_visit"] == 3
    assert sorted(cov.stale["code"]) == ["410799001001002", "410799001001003"]
    stale3 = coverage.stale_grids(cov.units, 3)
    assert len(stale3) == 3


def test_per_cell_and_per_worker(expected, visits):
    cov = coverage.coverage(_units(), visits, "2026-10-01", "2026-10-10")
    cells = cov.cells.set_index("cell")
    first = expected["g1"][0]
    assert cells.loc[first, "pass_count"] == 3 and cells.loc[first, "worker_count"] == 2
    assert cells.loc[expected["g1"][4], "days_since_last_visit"] == 5
    assert pd.isna(cells.loc[expected["g1"][-1], "days_since_last_visit"])
    w = cov.workers.set_index(["grid_code", "worker_code"])
    assert w.loc[("410799001001001", "W1"), "pass_count"] == 10
    assert w.loc[("410799001001001", "W1"), "cells_visited"] == 5
    assert w.loc[("410799001001001", "W2"), "cells_visited"] == 2
    assert w.loc[("410799001001001", "W2"), "days_active"] == 1
    assert len(w) == 2  # W1's visit to grid 2 is before the window, W3's in no grid


def test_gaps_are_the_unvisited_hexagons(expected, visits):
    cov = coverage.coverage(_units(), visits, "2026-10-01", "2026-10-10")
    all_cells = set(expected["g1"]) | set(expected["g2"]) | {expected["tiny"]}
    assert set(cov.gaps["cell"]) == all_cells - set(expected["g1"][:5])
    assert cov.gaps.crs.to_epsg() == 4326
    for cell, geom in zip(cov.gaps["cell"], cov.gaps.geometry, strict=True):
        ring = [(lon, lat) for lat, lon in h3.cell_to_boundary(h3.int_to_str(int(cell)))]
        assert geom.equals(shapely.Polygon(ring))
    merged = coverage.dissolve_gaps(cov.gaps).set_index("grid_code")
    assert merged.loc["410799001001002", "cells"] == len(expected["g2"])
    assert merged.loc["410799001001002"].geometry.area == pytest.approx(
        sum(g.area for g in cov.gaps.geometry[cov.gaps["grid_code"] == "410799001001002"])
    )


def test_parents_from_code_prefixes_match_parent_codes(visits):
    a = coverage.coverage(_units(True), visits, "2026-10-01", "2026-10-10").units
    b = coverage.coverage(_units(False), visits, "2026-10-01", "2026-10-10").units
    pd.testing.assert_frame_equal(a, b)


def test_window_must_be_ordered(visits):
    with pytest.raises(InvalidInput) as e:
        coverage.coverage(_units(), visits, "2026-10-10", "2026-10-01")
    assert "before" in e.value.message and "早于" in e.value.message_zh


def test_sample_grids_share_out_the_cells(sample):
    units = gpd.GeoDataFrame(
        pd.concat([sample.communities, sample.grids], ignore_index=True), crs="EPSG:4326"
    )
    cells = coverage.unit_cells(units)
    assert not cells["cell"].duplicated().any()  # no cell counted in two grids
    pick = cells[~cells["fallback"]].sample(500, random_state=2)
    geoms = sample.grids.set_index("code").geometry
    for code, cell in zip(pick["grid_code"], pick["cell"], strict=True):
        lat, lon = h3.cell_to_latlng(h3.int_to_str(int(cell)))
        assert geoms[code].contains(shapely.Point(lon, lat))


@pytest.mark.parametrize("when", ["none at all", "all after the window"])
def test_a_window_without_visits_is_zero_coverage(expected, visits, when):
    # Was a TypeError in cell_coverage (pandas cannot map an empty datetime Series).
    v = visits.iloc[0:0] if when == "none at all" else visits
    start, end = (
        ("2026-10-01", "2026-10-10") if when == "none at all" else ("2026-01-01", "2026-01-10")
    )
    cov = coverage.coverage(_units(), v, start, end)
    n_cells = len(expected["g1"]) + len(expected["g2"]) + 1
    assert len(cov.cells) == n_cells
    assert not cov.cells["visited"].any() and (cov.cells["pass_count"] == 0).all()
    assert cov.cells["last_visit_day"].isna().all()
    assert cov.cells["days_since_last_visit"].isna().all()
    u = cov.units.set_index("code")
    assert (u["visited_cells"] == 0).all() and (u["pass_count"] == 0).all()
    assert (u["worker_count"] == 0).all() and (u["share_visited"] == 0).all()
    assert u.loc["410799", "cell_count"] == n_cells
    assert len(cov.gaps) == n_cells  # every cell is a gap
    assert sorted(cov.stale["code"]) == [
        "410799001001001",
        "410799001001002",
        "410799001001003",
    ]
    assert cov.workers.empty
