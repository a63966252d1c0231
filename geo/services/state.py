"""What a running service (or a long CLI command) holds in memory, and how it is refreshed.

The geocoder is rebuilt off to the side and swapped in with one assignment, so a
request sees either the old index or the new one, never a half-built one.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable
from datetime import datetime

import geopandas as gpd

from geo.gazetteer import Gazetteer
from geo.incidents.placement import SpecialIndex
from geo.incidents.rules import load_case_rules
from geo.lookup.geocode import ReverseGeocoder
from geo.lookup.locator import GridLocator
from geo.settings import Settings
from geo.store import aliases, purge, registers
from geo.store import boundaries as bstore
from geo.store.db import Engine

log = logging.getLogger(__name__)


def settle_heap() -> None:
    """Collect what the last rebuild dropped, then freeze the survivors (the indexes).

    The indexes are a few hundred thousand long-lived objects; a full collection walks
    them all (≈160 ms on the sample), stalling every request of the worker when it
    happens. Frozen objects are skipped by the collector until the next rebuild."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class ServiceState:
    def __init__(self, settings: Settings, engine: Engine):
        self.settings = settings
        self.engine = engine
        self.geocoder: ReverseGeocoder | None = None
        self.special: SpecialIndex | None = None
        self.gazetteer: Gazetteer | None = None
        # Checked at start-up: a wrong rules file stops the service with what to fix.
        self.case_rules = load_case_rules(settings.case_rules_file)
        self._lock = threading.Lock()
        self._map_cache: dict[tuple[str, ...], str] = {}
        self._history: dict[str, ReverseGeocoder] = {}
        self._units: gpd.GeoDataFrame | None = None
        self._registers_version: str | None = None

    def refresh(self) -> bool:
        """Rebuild what changed: the lookup index when the live boundaries changed, the
        people, special grids and search index when the registers changed. True if
        anything was rebuilt."""
        with self._lock:
            with self.engine.connect() as conn:
                version = bstore.live_boundary_version(conn)
                reg_version = aliases.registers_version(conn)
                same_map = self.geocoder is not None and self.geocoder.version == version
                if same_map and self._registers_version == reg_version:
                    return False
                units = (
                    self._units
                    if same_map and self._units is not None
                    else bstore.units_frame(conn)
                )
                people = registers.live_people(conn)
                special = registers.special_grids_frame(conn)
                compounds = registers.compounds_frame(conn)
                names = aliases.as_mapping(conn)
            s = self.settings
            res = (s.h3_heatmap_res, s.h3_patrol_res, s.h3_point_res)
            current = self.geocoder
            locator = (
                current.locator if same_map and current is not None else GridLocator(units, version)
            )
            geocoder = ReverseGeocoder(locator, people, res)
            gazetteer = Gazetteer(units, special, compounds, names)
            # Assign all only when all are built: readers never see half a rebuild.
            self.special, self.gazetteer, self.geocoder = (
                SpecialIndex(special),
                gazetteer,
                geocoder,
            )
            self._units, self._registers_version = units, reg_version
            self._map_cache.clear()
            log.info(
                "indexes built: %d grids, boundary version %s, registers %s",
                len(units),
                version,
                reg_version,
            )
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

    def scheduled_purge(self) -> int | None:
        """Raw tracks past ``raw_track_days`` deleted (see geo/store/purge.py)."""
        with self.engine.begin() as conn:
            return purge.scheduled_purge(conn, self.settings.raw_track_days)

    def cached_map(self, key: tuple[str, ...], build: Callable[[], str]) -> str:
        html = self._map_cache.get(key)
        if html is None:
            html = build()
            self._map_cache[key] = html
        return html
