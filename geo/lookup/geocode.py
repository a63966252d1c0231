"""Reverse geocoding: a WGS-84 point → its four-level chain, people and H3 cells.

Pure: built from a ``GridLocator`` and a table of people; the API converts the
caller's CRS before and shapes the answer after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from geo import hexgrid
from geo.lookup.locator import GridLocator, UnitRef


@dataclass(frozen=True)
class Person:
    worker_code: str
    name: str
    role: str
    phone: str | None


def mask_phone(phone: str | None) -> str | None:
    """138****5678: personal numbers are not given out whole to anonymous callers."""
    if not phone:
        return phone
    digits = str(phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


@dataclass(frozen=True)
class ReverseResult:
    chain: Mapping[str, UnitRef | None]
    workers: list[Person]
    leaders: list[Person]
    h3: dict[int, int]  # empty when not asked for
    border_distance_m: float | None  # None when not asked for
    neighbour: UnitRef | None  # the grid across the nearest border, when within tolerance
    row: int = -1  # the grid's row in the locator (a key for per-grid caches)


class ReverseGeocoder:
    """Answers point lookups from memory; immutable once built."""

    def __init__(self, locator: GridLocator, people: pd.DataFrame, h3_res: tuple[int, ...]):
        self.locator = locator
        self.h3_res = h3_res
        by_unit: dict[int, list[Person]] = {}
        for r in people.itertuples():
            by_unit.setdefault(int(r.unit_id), []).append(
                Person(r.worker_code, r.name, r.role, r.phone)
            )
        # Split by role once: a grid's workers, a community's leaders.
        self._workers = {u: [p for p in ps if p.role == "worker"] for u, ps in by_unit.items()}
        self._leaders = {u: [p for p in ps if p.role == "leader"] for u, ps in by_unit.items()}

    @property
    def version(self) -> str:
        return self.locator.version

    def reverse(
        self,
        lon: float,
        lat: float,
        border_tolerance_m: float = 10.0,
        *,
        border: bool = True,
        h3: bool = True,
    ) -> ReverseResult | None:
        """The answer for one WGS-84 point, or None when it lies in no grid.

        ``border=False`` / ``h3=False`` leave out the border distance (and neighbour)
        and the H3 cells, for callers that do not want them (the costliest parts).
        """
        row = self.locator.locate(lon, lat)
        if row < 0:
            return None
        chain = self.locator.chain(row)
        grid, community = chain["grid"], chain["community"]
        assert grid is not None  # a located row is a grid
        workers = self._workers.get(grid.unit_id, [])
        leaders = self._leaders.get(community.unit_id, []) if community else []
        cells = {res: hexgrid.cell_of(lon, lat, res) for res in self.h3_res} if h3 else {}
        distance, neighbour = None, None
        if border:
            distance, other = self.locator.border_info(
                row, lon, lat, tolerance_m=border_tolerance_m
            )
            neighbour = self.locator.chain(other)["grid"] if other >= 0 else None
        return ReverseResult(chain, list(workers), list(leaders), cells, distance, neighbour, row)
