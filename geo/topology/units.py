"""The table the topology checks share: one row per unit, geometry in metres.

Built once per validation so every check uses the same repaired, reprojected
geometry, areas and parent lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from geo.topology.geometry import label
from geo.units.codes import PARENT_LEVEL


@dataclass
class UnitTable:
    """Units as parallel arrays; ``metric`` holds repaired MultiPolygons in ``epsg``."""

    code: np.ndarray
    name: np.ndarray
    level: np.ndarray
    parent: np.ndarray
    metric: np.ndarray
    epsg: int
    area: np.ndarray = field(init=False)
    usable: np.ndarray = field(init=False)
    _by_level_code: dict[tuple[str, str], int] = field(init=False, repr=False)
    _level_of_code: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.usable = ~shapely.is_empty(self.metric)
        self.area = np.where(self.usable, shapely.area(self.metric), 0.0)
        self._by_level_code = {}
        self._level_of_code = {}
        for i, (c, lvl) in enumerate(zip(self.code.tolist(), self.level.tolist(), strict=True)):
            # With a duplicated code the first row stands for it (duplicate_code says so).
            self._by_level_code.setdefault((lvl, c), i)
            self._level_of_code.setdefault(c, lvl)

    def __len__(self) -> int:
        return len(self.code)

    def rows(self, level: str, *, usable_only: bool = True) -> np.ndarray:
        """Row numbers of the units at ``level``."""
        mask = self.level == level
        if usable_only:
            mask &= self.usable
        return np.flatnonzero(mask)

    def find(self, level: str, code: str | None) -> int:
        """Row of the unit with ``code`` at ``level``, or -1."""
        if code is None:
            return -1
        return self._by_level_code.get((level, code), -1)

    def level_of(self, code: str) -> str | None:
        """The level of the first unit holding ``code``, if any."""
        return self._level_of_code.get(code)

    def parent_rows(self, rows: np.ndarray) -> np.ndarray:
        """Row of each unit's declared parent at the level above (-1 if none)."""
        return np.array(
            [self.find(PARENT_LEVEL.get(self.level[i], ""), self.parent[i]) for i in rows],
            dtype=int,
        )

    def label(self, i: int) -> tuple[str, str]:
        """English and Chinese label of row ``i`` for messages."""
        return label(str(self.code[i]), self.name[i], str(self.level[i]))


def fmt_area(area: float) -> str:
    """An area for messages: whole m² above 10, one decimal below."""
    return f"{area:,.0f} m²" if area >= 10 else f"{area:.1f} m²"
