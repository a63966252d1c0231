"""In-memory point → grid locator over the live four-level map, exact and fast.

Built once from a units frame (all levels) and read-only afterwards, so many
requests can share it and a rebuilt one can be swapped in atomically.

Border rule: a point on a border shared by several grids (or on a vertex) is covered
by each of them; the answer is the grid with the smallest code, every time. Answers
equal PostGIS ``ST_Covers`` + ``min(code)`` on every point, borders and vertices
included: most points are answered from a precomputed lattice without any geometry
test, the rest (points in lattice cells a border passes through) by an exact
point-in-polygon test (see :mod:`geo.lookup.raster`). "Exact" means GEOS's robust
predicates, the same as shapely ``covers``; PostGIS's own point-in-polygon shortcut
for ``ST_Covers`` does its side test in plain doubles, so the two could only differ
for a point off an edge by less than about 1e-19° (far below the spacing of doubles
here, so only at rare special positions). The tests hold 100,000 points, vertices and
edge midpoints included, against both.

Cost on the 611-grid sample district (2-core machine, 15 m cells): built in about
0.3–0.5 s; the lattice holds about 1.0 M cells in about 6.7 MB (an int32 cell table,
the candidate lists of about 48,000 border cells, and the dividing line of the 95 % of
them that a single border edge cuts in two), beside the grid geometries themselves
(prepared once), an STRtree and a table of every ring edge (32 bytes an edge, 0.2 MB
on the sample) for :meth:`GridLocator.border_info`; the build peaks
at a few tens of MB of temporaries. Memory grows with the extent's area over the cell
area; ``max_cells`` caps it by coarsening the cells, which costs speed, never
exactness. Measurements: ``benchmarks/results_reverse.md``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.lookup.border import BorderEdges, border_info
from geo.lookup.raster import RasterIndex
from geo.vocab import LEVELS

DEFAULT_CELL_M = 15.0  # measured best on the sample: 10–20 m are within noise, 25 m slower
DEFAULT_MAX_CELLS = 1 << 23  # 8.4 M cells, 32 MB of table
# The tie rule above, as the reverse answer states it.
BORDER_RULE = "a point on a shared border belongs to the grid with the smallest code"


@dataclass(frozen=True)
class UnitRef:
    unit_id: int
    level: str
    code: str
    name: str


class GridLocator:
    """Finds the grid covering a point and the community, street and district above it.

    Parameters
    ----------
    units
        All four levels: unit_id, level, code, name, parent_unit_id, geometry (lon/lat).
    version
        The boundary version the units come from, kept for whoever swaps locators.
    cell_m, max_cells
        Lattice cell size in metres and the cap on the number of cells (tuning only).
    """

    def __init__(
        self,
        units: gpd.GeoDataFrame,
        version: str = "",
        *,
        cell_m: float = DEFAULT_CELL_M,
        max_cells: int = DEFAULT_MAX_CELLS,
    ):
        started = time.perf_counter()
        self.version = version
        grids = units[units["level"] == "grid"].sort_values("code").reset_index(drop=True)
        self.grids = grids
        self._geoms = np.asarray(grids.geometry.values, dtype=object)
        shapely.prepare(self._geoms)
        self._warm_up()
        self._tree = shapely.STRtree(self._geoms)
        self._edges = BorderEdges(self._geoms)
        self._index = RasterIndex(self._geoms, cell_m=cell_m, max_cells=max_cells)
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
        # Filled as rows are asked for.
        self._chain_dicts: dict[int, MappingProxyType[str, UnitRef | None]] = {}
        self.build_seconds = time.perf_counter() - started

    def _warm_up(self) -> None:
        # GEOS builds a prepared polygon's point locator lazily, and that first use is
        # not thread-safe (libgeos/geos#825, georust/geos#95): do it now, in one
        # thread, so concurrent requests only ever read it.
        ok = ~(shapely.is_missing(self._geoms) | shapely.is_empty(self._geoms))
        if ok.any():
            p = shapely.get_coordinates(shapely.point_on_surface(self._geoms[ok]))
            shapely.intersects_xy(self._geoms[ok], p[:, 0], p[:, 1])

    def __len__(self) -> int:
        return len(self.grids)

    def locate_many(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Row index into ``self.grids`` for each point; -1 where no grid covers it."""
        x = np.atleast_1d(np.asarray(lon, dtype=np.float64)).ravel()
        y = np.atleast_1d(np.asarray(lat, dtype=np.float64)).ravel()
        if x.shape != y.shape:
            raise ValueError(f"lon and lat differ in length: {len(x)} != {len(y)}")
        return self._index.lookup(x, y)

    def locate(self, lon: float, lat: float) -> int:
        """Row index of the grid covering one point, -1 if none."""
        return self._index.lookup_one(float(lon), float(lat))

    def chain(self, row: int) -> Mapping[str, UnitRef | None]:
        """The grid at ``row`` and its ancestors, keyed by level (read-only, cached: the
        single-point lookup asks for it on every request)."""
        found = self._chain_dicts.get(row)
        if found is None:
            ids = self._chains[row].tolist()
            found = MappingProxyType(
                {
                    lvl: (self.units.get(ids[i]) if ids[i] >= 0 else None)
                    for i, lvl in enumerate(LEVELS)
                }
            )
            self._chain_dicts[row] = found
        return found

    def chain_ids(self, rows: np.ndarray) -> np.ndarray:
        """Unit ids, n × 4 in the order grid, community, street, district; -1 if none."""
        rows = np.asarray(rows)
        out = np.full((len(rows), len(LEVELS)), -1, dtype=np.int64)
        hit = rows >= 0
        out[hit] = self._chains[rows[hit]][:, ::-1]  # stored in LEVELS order (district first)
        return out

    def border_info(
        self, row: int, lon: float, lat: float, tolerance_m: float = 10.0
    ) -> tuple[float, int]:
        """Distance in metres from a point to the border of grid ``row``, and the neighbour.

        Returns ``(distance_m, neighbour_row)``: the neighbour is the grid across the
        nearest border, reported only when ``distance_m <= tolerance_m`` (the answer
        is then ambiguous within that tolerance); -1 otherwise or on the map's outer
        edge. Measured in a local transverse Mercator (metres), see
        :mod:`geo.lookup.border`: about 10 µs for a point beyond the tolerance (only
        the border pieces near the point are projected), a few hundred µs within it
        (the whole border and the neighbours' are projected to find who is across).
        """
        if not 0 <= row < len(self.grids):
            raise IndexError(f"no grid row {row}")
        return border_info(
            self._geoms,
            self._tree,
            row,
            float(lon),
            float(lat),
            tolerance_m,
            edges=self._edges.of(row),
        )

    def stats(self) -> dict[str, float]:
        """Build time and size of the lookup structure (cells, border cells, bytes)."""
        return {"grids": len(self.grids), "build_s": self.build_seconds, **self._index.stats()}
