"""The in-memory locator on a small hand-made hierarchy (no database)."""

import geopandas as gpd
import numpy as np
from shapely.geometry import MultiPolygon, box

from geo.locator import GridLocator


def _units():
    # District 0..2 x 0..1; one street, one community, two grids split at x = 1.
    rows = [
        (1, "district", "410799", "样例区", None, box(0, 0, 2, 1)),
        (2, "street", "410799001", "街道", 1, box(0, 0, 2, 1)),
        (3, "community", "410799001001", "社区", 2, box(0, 0, 2, 1)),
        (5, "grid", "410799001001002", "第二网格", 3, box(1, 0, 2, 1)),
        (4, "grid", "410799001001001", "第一网格", 3, box(0, 0, 1, 1)),
    ]
    return gpd.GeoDataFrame(
        [
            {"unit_id": u, "level": lv, "code": c, "name": n, "parent_unit_id": p}
            for u, lv, c, n, p, _ in rows
        ],
        geometry=[MultiPolygon([g]) for *_, g in rows],
        crs=4326,
    )


def test_points_inside_outside_and_on_the_shared_border():
    loc = GridLocator(_units())
    rows = loc.locate_many(np.array([0.5, 1.5, 1.0, 1.0, 3.0]), np.array([0.5, 0.5, 0.5, 1.0, 0.5]))
    codes = [loc.grids.iloc[r]["code"] if r >= 0 else None for r in rows]
    assert codes[0].endswith("001") and codes[1].endswith("002")
    # On the shared border and on a shared vertex: the smallest code, always.
    assert codes[2] == codes[3] == "410799001001001"
    assert codes[4] is None


def test_chain_reaches_the_district():
    loc = GridLocator(_units())
    chain = loc.chain(loc.locate(1.5, 0.5))
    assert [chain[lv].code for lv in ("grid", "community", "street", "district")] == [
        "410799001001002",
        "410799001001",
        "410799001",
        "410799",
    ]
    ids = loc.chain_ids(np.array([loc.locate(0.2, 0.2), -1]))
    assert ids[0].tolist() == [4, 3, 2, 1]
    assert ids[1].tolist() == [-1, -1, -1, -1]


def test_empty_locator_finds_nothing():
    loc = GridLocator(_units().iloc[:0])
    assert len(loc) == 0
    assert loc.locate(0.5, 0.5) == -1
