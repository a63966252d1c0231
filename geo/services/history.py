"""Reading the history, as use cases: a unit as of a date, its versions, one version, what
changed between two versions, and the audit log (who changed what, when and why).

Read-only; each reads in one connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.store import audit, history
from geo.store.db import Engine

# The attributes a version diff compares.
COMPARED = ("code", "name", "parent_code", "level")


@dataclass(frozen=True)
class VersionDiff:
    """Two versions of a unit: their rows, the attributes that differ (``{"from",
    "to"}`` each), the areas (m²) and the area gained and lost (EPSG:4326)."""

    before: dict[str, Any]
    after: dict[str, Any]
    attributes: dict[str, dict[str, Any]]
    area_from_m2: float
    area_to_m2: float
    gained_m2: float
    lost_m2: float
    gained: BaseGeometry
    lost: BaseGeometry


def unit_at(engine: Engine, code: str, at: datetime | None) -> tuple[dict[str, Any], BaseGeometry]:
    """The version of the unit in force at ``at`` (None: now), with its geometry."""
    with engine.connect() as conn:
        return history.version_at(conn, code, at)


def unit_versions(engine: Engine, code: str) -> list[dict[str, Any]]:
    """Every published version of the unit (also under its earlier codes), oldest first."""
    with engine.connect() as conn:
        return history.unit_versions(conn, code)


def unit_version(engine: Engine, code: str, version_id: int) -> tuple[dict[str, Any], BaseGeometry]:
    """One version of the unit named by ``code``, with its geometry."""
    with engine.connect() as conn:
        return history.version(conn, code, version_id)


def compare_versions(engine: Engine, code: str, from_id: int, to_id: int) -> VersionDiff:
    """What changed between two versions: area gained and lost, attributes."""
    # Imported here: geo.crs.metric and geo.topology import each other at load time.
    from geo.crs.metric import metric_epsg_for, to_metric

    with engine.connect() as conn:
        a, ga = history.version(conn, code, from_id)
        b, gb = history.version(conn, code, to_id)
    gained, lost = shapely.difference(gb, ga), shapely.difference(ga, gb)
    epsg = metric_epsg_for(np.array([ga], dtype=object))

    def area(g: BaseGeometry) -> float:
        return round(float(shapely.area(to_metric(g, epsg))), 2)

    changed = {k: {"from": a[k], "to": b[k]} for k in COMPARED if a[k] != b[k]}
    return VersionDiff(a, b, changed, area(ga), area(gb), area(gained), area(lost), gained, lost)


def audit_entries(
    engine: Engine,
    *,
    entity: str | None = None,
    ref: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Audit entries, newest first; page with ``before_id``."""
    with engine.connect() as conn:
        return audit.entries(
            conn, entity=entity, ref=ref, actor=actor, since=since, limit=limit, before_id=before_id
        )
