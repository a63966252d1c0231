"""What the running service holds in memory, and how it is refreshed.

The geocoder is rebuilt off to the side and swapped in with one assignment, so a
request sees either the old index or the new one, never a half-built one.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from geo.geocode import ReverseGeocoder
from geo.locator import GridLocator
from geo.settings import Settings
from geo.store import boundaries as bstore
from geo.store import registers

log = logging.getLogger(__name__)


class ServiceState:
    def __init__(self, settings: Settings, engine: Engine):
        self.settings = settings
        self.engine = engine
        self.geocoder: ReverseGeocoder | None = None
        self._lock = threading.Lock()
        self._map_cache: dict[tuple[str, str], str] = {}

    def refresh(self) -> bool:
        """Rebuild the in-memory index when the live boundaries changed. True if rebuilt."""
        with self._lock:
            with self.engine.connect() as conn:
                version = bstore.live_boundary_version(conn)
                if self.geocoder is not None and self.geocoder.version == version:
                    return False
                units = bstore.units_frame(conn)
                people = registers.live_people(conn)
            s = self.settings
            res = (s.h3_heatmap_res, s.h3_patrol_res, s.h3_point_res)
            self.geocoder = ReverseGeocoder(GridLocator(units, version), people, res)
            self._map_cache.clear()
            log.info("boundary index built: %d grids, version %s", len(units), version)
            return True

    def cached_map(self, key: tuple[str, str], build) -> str:
        html = self._map_cache.get(key)
        if html is None:
            html = build()
            self._map_cache[key] = html
        return html
