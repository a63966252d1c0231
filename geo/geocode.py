"""Reverse geocoding: a WGS-84 point → its four-level chain, people and H3 cells.

Pure: built from a ``GridLocator`` and a table of people; the API converts the
caller's CRS before and shapes the answer after.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from geo import h3cells
from geo.locator import GridLocator, UnitRef


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
    chain: dict[str, UnitRef | None]
    workers: list[Person]
    leaders: list[Person]
    h3: dict[int, int]
    border_distance_m: float
    neighbour: UnitRef | None  # the grid across the nearest border, when within tolerance


class ReverseGeocoder:
    """Answers point lookups from memory; immutable once built."""

    def __init__(self, locator: GridLocator, people: pd.DataFrame, h3_res: tuple[int, ...]):
        self.locator = locator
        self.h3_res = h3_res
        self._people: dict[int, list[Person]] = {}
        for r in people.itertuples():
            self._people.setdefault(int(r.unit_id), []).append(
                Person(r.worker_code, r.name, r.role, r.phone)
            )

    @property
    def version(self) -> str:
        return self.locator.version

    def reverse(
        self, lon: float, lat: float, border_tolerance_m: float = 10.0
    ) -> ReverseResult | None:
        """The answer for one WGS-84 point, or None when it lies in no grid."""
        row = self.locator.locate(lon, lat)
        if row < 0:
            return None
        chain = self.locator.chain(row)
        grid, community = chain["grid"], chain["community"]
        workers = [p for p in self._people.get(grid.unit_id, []) if p.role == "worker"]
        leaders = (
            [p for p in self._people.get(community.unit_id, []) if p.role == "leader"]
            if community
            else []
        )
        cells = {res: h3cells.cell_of(lon, lat, res) for res in self.h3_res}
        distance, other = self.locator.border_info(row, lon, lat, tolerance_m=border_tolerance_m)
        neighbour = self.locator.chain(other)["grid"] if other >= 0 else None
        return ReverseResult(chain, workers, leaders, cells, distance, neighbour)
