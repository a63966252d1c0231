"""The API process's state: the service's in-memory world plus the API-key cache."""

from __future__ import annotations

from sqlalchemy import Engine

from geo.services.state import ServiceState, settle_heap
from geo.settings import Settings

from api.auth import KeyCache

__all__ = ["ApiState", "settle_heap"]


class ApiState(ServiceState):
    """What a worker of the HTTP service holds: indexes, rules and the key cache."""

    def __init__(self, settings: Settings, engine: Engine):
        super().__init__(settings, engine)
        self.keys = KeyCache(settings.key_cache_seconds, settings.key_grace_seconds)
