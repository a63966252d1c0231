"""In-memory point → grid locator over the live four-level map.

Built once from a units frame (all levels) and read-only afterwards, so many
requests can share it and a rebuilt one can be swapped in atomically.

Border rule: a point on a border shared by several grids (or on a vertex) is covered
by each of them; the answer is the grid with the smallest code, every time.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.store.models import LEVELS


@dataclass(frozen=True)
class UnitRef:
    unit_id: int
    level: str
    code: str
    name: str


class GridLocator:
    """Finds the grid covering a point and the community, street and district above it."""

    def __init__(self, units: gpd.GeoDataFrame, version: str = ""):
        self.version = version
        grids = units[units["level"] == "grid"].sort_values("code").reset_index(drop=True)
        self.grids = grids
        self._geoms = np.asarray(grids.geometry.values, dtype=object)
        shapely.prepare(self._geoms)
        self._tree = shapely.STRtree(self._geoms)
        self.units = {
            int(r.unit_id): UnitRef(int(r.unit_id), r.level, r.code, r.name)
            for r in units.itertuples()
        }
        parent_of = {
            int(r.unit_id): None if pd.isna(r.parent_unit_id) else int(r.parent_unit_id)
            for r in units.itertuples()
        }
        # Per grid row: unit ids of its grid, community, street and district.
        chains = np.full((len(grids), len(LEVELS)), -1, dtype=np.int64)
        rank = {lvl: i for i, lvl in enumerate(LEVELS)}
        for i, uid in enumerate(grids["unit_id"].astype(int)):
            cur: int | None = uid
            while cur is not None and cur in self.units:
                chains[i, rank[self.units[cur].level]] = cur
                cur = parent_of.get(cur)
        self._chains = chains

    def __len__(self) -> int:
        return len(self.grids)

    def locate_many(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Row index into ``self.grids`` for each point; -1 where no grid covers it."""
        points = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        out = np.full(len(points), -1, dtype=np.int64)
        if len(self._geoms) == 0 or len(points) == 0:
            return out
        pt_idx, grid_idx = self._tree.query(points, predicate="covered_by")
        # Rows are sorted by code, so the smallest grid index per point is the
        # smallest code: iterate in reverse so the smallest is written last.
        order = np.lexsort((-grid_idx, pt_idx))
        out[pt_idx[order]] = grid_idx[order]
        return out

    def locate(self, lon: float, lat: float) -> int:
        return int(self.locate_many(np.array([lon]), np.array([lat]))[0])

    def chain(self, row: int) -> dict[str, UnitRef | None]:
        """The grid at ``row`` and its ancestors, keyed by level."""
        ids = self._chains[row]
        return {
            lvl: (self.units.get(int(ids[i])) if ids[i] >= 0 else None)
            for i, lvl in enumerate(LEVELS)
        }

    def chain_ids(self, rows: np.ndarray) -> np.ndarray:
        """Unit ids, n × 4 in the order grid, community, street, district; -1 if none."""
        rows = np.asarray(rows)
        out = np.full((len(rows), len(LEVELS)), -1, dtype=np.int64)
        hit = rows >= 0
        out[hit] = self._chains[rows[hit]][:, ::-1]  # stored in LEVELS order (district first)
        return out
