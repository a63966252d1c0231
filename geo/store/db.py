"""Engine creation: the one place that turns settings into a database connection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import shapely
from sqlalchemy import Connection, Engine, create_engine

from geo.settings import STORAGE_SRID, Settings

# The database handles the use cases hold: they name them from the store, which owns
# the database; only geo/store imports SQLAlchemy.
__all__ = ["Connection", "Engine", "ewkt", "make_engine"]

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry


def make_engine(settings: Settings, database: str | None = None, **kwargs: Any) -> Engine:
    """A pooled engine for the configured PostGIS (project-local cluster by default)."""
    kwargs.setdefault("pool_pre_ping", True)
    # Errors must not echo row values: they carry personal data (phones, names).
    kwargs.setdefault("hide_parameters", True)
    return create_engine(settings.sqlalchemy_url(database), **kwargs)


def ewkt(geom: BaseGeometry) -> str:
    """A shapely geometry as EWKT in the storage SRID, at full precision (exact round trip)."""
    return f"SRID={STORAGE_SRID};{shapely.to_wkt(geom, rounding_precision=-1)}"
