"""What the running service holds in memory, and how it is refreshed.

The geocoder is rebuilt off to the side and swapped in with one assignment, so a
request sees either the old index or the new one, never a half-built one.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlalchemy import Engine

from geo.gazetteer import Gazetteer
from geo.geocode import ReverseGeocoder
from geo.intake import SpecialIndex
from geo.locator import GridLocator
from geo.settings import Settings
from geo.store import boundaries as bstore
from geo.store import registers

from api.auth import KeyCache

log = logging.getLogger(__name__)


class ServiceState:
    def __init__(self, settings: Settings, engine: Engine):
        self.settings = settings
        self.engine = engine
        self.geocoder: ReverseGeocoder | None = None
        self.special: SpecialIndex | None = None
        self.gazetteer: Gazetteer | None = None
        self.keys = KeyCache(settings.key_cache_seconds)
        self._lock = threading.Lock()
        self._map_cache: dict[tuple[str, str], str] = {}
        self._history: dict[str, ReverseGeocoder] = {}

    def refresh(self) -> bool:
        """Rebuild the in-memory index when the live boundaries changed. True if rebuilt."""
        with self._lock:
            with self.engine.connect() as conn:
                version = bstore.live_boundary_version(conn)
                if self.geocoder is not None and self.geocoder.version == version:
                    return False
                units = bstore.units_frame(conn)
                people = registers.live_people(conn)
                special = registers.special_grids_frame(conn)
                compounds = registers.compounds_frame(conn)
            s = self.settings
            res = (s.h3_heatmap_res, s.h3_patrol_res, s.h3_point_res)
            geocoder = ReverseGeocoder(GridLocator(units, version), people, res)
            gazetteer = Gazetteer(units, special, compounds)
            # Assign all only when all are built: readers never see half a rebuild.
            self.special, self.gazetteer, self.geocoder = (
                SpecialIndex(special),
                gazetteer,
                geocoder,
            )
            self._map_cache.clear()
            log.info("boundary index built: %d grids, version %s", len(units), version)
            return True

    def geocoder_at(self, at: datetime) -> ReverseGeocoder:
        """A geocoder over the map in force at ``at`` (built once per distinct map)."""
        with self.engine.connect() as conn:
            version = bstore.boundary_version_at(conn, at)
            cached = self._history.get(version)
            if cached is not None:
                return cached
            units = bstore.units_frame(conn, at=at)
            people = registers.live_people(conn)
        s = self.settings
        res = (s.h3_heatmap_res, s.h3_patrol_res, s.h3_point_res)
        geocoder = ReverseGeocoder(GridLocator(units, version), people, res)
        with self._lock:
            if len(self._history) >= 4:  # a few past maps; each holds a full index
                self._history.pop(next(iter(self._history)))
            self._history[version] = geocoder
        return geocoder

    def cached_map(self, key: tuple[str, ...], build) -> str:
        html = self._map_cache.get(key)
        if html is None:
            html = build()
            self._map_cache[key] = html
        return html
