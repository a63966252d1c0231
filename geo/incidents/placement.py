"""Incident intake (pure): locate validated records and decide who is responsible.

Takes parsed ``IncidentIn`` records, the grid locator and the special-grid index, and
returns the rows to store plus the records that cannot be placed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from geo import hexgrid
from geo.crs import to_wgs84
from geo.incidents.records import (
    DEFAULT_RULES,
    IncidentIn,
    PrecedenceRule,
    SpecialRef,
    responsible_special,
)
from geo.lookup.locator import GridLocator
from geo.settings import STORAGE_SRID


class SpecialIndex:
    """Which special grids contain a point (they may overlap each other and grids)."""

    # Bucket side (degrees, about 500 m) of the one-point lookup's hash.
    BUCKET_DEG = 0.005
    # Bigger buckets when the special grids would fill more entries than this.
    MAX_BUCKET_ENTRIES = 200_000

    def __init__(self, special: gpd.GeoDataFrame):
        self.refs = [
            SpecialRef(int(r.id), r.code, r.name, r.kind, r.responsible_unit)
            for r in special.itertuples()
        ]
        self._geoms = np.asarray(special.geometry.values, dtype=object)
        self._tree = shapely.STRtree(self._geoms)
        shapely.prepare(self._geoms)
        self._bounds = shapely.bounds(self._geoms).reshape(-1, 4)
        self._size, self._buckets = self._hash(self._bounds)

    def _hash(self, bounds: np.ndarray) -> tuple[float, dict[tuple[int, int], tuple]]:
        """Every special grid listed under each bucket its bounding box touches: a point
        needs only its own bucket (floor is monotonic, so a point inside a box falls in
        one of the box's buckets), checked with exact covers."""
        size = self.BUCKET_DEG
        ok = np.isfinite(bounds).all(axis=1)
        while True:
            lo = np.floor(bounds[ok, :2] / size).astype(np.int64)
            hi = np.floor(bounds[ok, 2:] / size).astype(np.int64)
            if ((hi - lo + 1).prod(axis=1).sum()) <= self.MAX_BUCKET_ENTRIES:
                break
            size *= 2.0
        buckets: dict[tuple[int, int], list[int]] = {}
        for i, (x0, y0), (x1, y1) in zip(
            np.flatnonzero(ok).tolist(), lo.tolist(), hi.tolist(), strict=True
        ):
            for bx in range(x0, x1 + 1):
                for by in range(y0, y1 + 1):
                    buckets.setdefault((bx, by), []).append(i)
        boxes = bounds.tolist()
        return size, {k: tuple((i, *boxes[i]) for i in v) for k, v in buckets.items()}

    def __len__(self) -> int:
        return len(self.refs)

    def containing(self, lon: float, lat: float) -> list[SpecialRef]:
        """One point's special grids: its hash bucket's few candidates, then exact covers
        (a few µs; a tree query for one point costs several times more)."""
        size = self._size
        near = self._buckets.get((math.floor(lon / size), math.floor(lat / size)))
        if not near:
            return []
        # Bounding boxes first, in plain floats: most points lie in no candidate's box,
        # and then no shapely point is made at all.
        boxed = [i for i, x0, y0, x1, y1 in near if x0 <= lon <= x1 and y0 <= lat <= y1]
        if not boxed:
            return []
        pt = shapely.Point(lon, lat)
        geoms, refs = self._geoms, self.refs
        return sorted((refs[i] for i in boxed if geoms[i].covers(pt)), key=lambda r: r.code)

    def containing_many(self, lon: np.ndarray, lat: np.ndarray) -> list[list[SpecialRef]]:
        out: list[list[SpecialRef]] = [[] for _ in range(len(lon))]
        if not self.refs or not len(lon):
            return out
        pi, si = self._tree.query(shapely.points(lon, lat), predicate="covered_by")
        for p, s in zip(pi.tolist(), si.tolist(), strict=True):
            out[p].append(self.refs[s])
        for lst in out:
            lst.sort(key=lambda r: r.code)
        return out


@dataclass(frozen=True)
class Unplaced:
    index: int  # position in the input list
    message: str
    message_zh: str


def place_incidents(
    records: list[IncidentIn],
    locator: GridLocator,
    special: SpecialIndex | None,
    *,
    point_res: int,
    rules: tuple[PrecedenceRule, ...] = DEFAULT_RULES,
) -> tuple[list[dict], list[int], list[Unplaced]]:
    """Rows for the incident table, their input positions, and records outside the district."""
    if not records:
        return [], [], []
    lon = np.empty(len(records))
    lat = np.empty(len(records))
    by_crs: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_crs.setdefault(r.crs, []).append(i)
    for crs, idx in by_crs.items():
        x, y = to_wgs84([records[i].lon for i in idx], [records[i].lat for i in idx], crs)
        lon[idx], lat[idx] = x, y
    rows_idx = locator.locate_many(lon, lat)
    cells = hexgrid.cells_of(lon, lat, point_res)  # one array call, not one per row
    chains = locator.chain_ids(rows_idx)
    containing = special.containing_many(lon, lat) if special is not None else [[] for _ in records]
    rows, positions, unplaced = [], [], []
    for i, rec in enumerate(records):
        if rows_idx[i] < 0:
            unplaced.append(
                Unplaced(
                    i,
                    f"({rec.lon}, {rec.lat}) {rec.crs} lies outside every grid of the district; "
                    "check the order (lon first, then lat) and that crs names the system the "
                    "point came from",
                    f"坐标 ({rec.lon}, {rec.lat})（{rec.crs}）不在本区任何网格内；"
                    "请检查经纬度顺序（先经度后纬度）及 crs 是否正确",
                )
            )
            continue
        resp = responsible_special(rec.category, containing[i], rules)
        ids = [int(x) for x in chains[i]]
        rows.append(
            {
                "source": rec.source,
                "external_id": rec.external_id,
                "reported_at": rec.reported_at,
                "category": rec.category,
                "description": rec.description,
                "status": "open",
                "level": "grid",
                "geom": f"SRID={STORAGE_SRID};POINT({float(lon[i])!r} {float(lat[i])!r})",
                "h3_cell": int(cells[i]),
                "grid_unit_id": ids[0],
                "community_unit_id": ids[1] if ids[1] >= 0 else None,
                "street_unit_id": ids[2] if ids[2] >= 0 else None,
                "district_unit_id": ids[3] if ids[3] >= 0 else None,
                "responsible_kind": "special_grid" if resp else "grid",
                "responsible_special_grid_id": resp.special_id if resp else None,
                "special_grid_ids": [s.special_id for s in containing[i]],
                "crs_in": rec.crs,
                "level_since": rec.reported_at,
            }
        )
        positions.append(i)
    return rows, positions, unplaced
