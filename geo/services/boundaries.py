"""Boundary sets as planners use them, as use cases: store read units as a draft set,
see the findings of a draft (or of the live map), list sets, read the map of a date for
an export. One transaction each.

Reading and writing files is :mod:`boundaries` (readers hand these use cases
normalised frames; writers take what :func:`map_at` returns). Publishing is
:mod:`geo.services.publish`, the fix helpers :mod:`geo.services.fixes`. The steps
(:func:`import_units`, :func:`findings_for_set` …) run in the transaction given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import geopandas as gpd
import pandas as pd

from geo import topology
from geo.services import policy
from geo.services.ledger_export import contacts_as_seen
from geo.services.policy import Principal
from geo.services.registers import PeopleViewer
from geo.store import audit, registers
from geo.store import boundaries as bstore
from geo.store.db import Connection, Engine
from geo.units.frames import checksum_units
from geo.vocab import LEVELS

UNIT_COLUMNS = ["level", "code", "name", "parent_code", "geometry"]


@dataclass(frozen=True)
class ImportResult:
    boundary_set_id: int
    units: int
    checksum: str
    reused: bool  # the same content was already imported; no new set was made


@dataclass(frozen=True)
class SetImport:
    """A draft set stored: the import, the set's row, its findings."""

    result: ImportResult
    boundary_set: dict[str, Any]
    findings: list[topology.Finding]
    repaired: list[str] = field(default_factory=list)


# -- use cases (one transaction each) ---------------------------------------------------


def import_boundary_set(
    engine: Engine,
    units: gpd.GeoDataFrame,
    *,
    who: Principal,
    name: str,
    author: str | None,
    source: str | None = None,
    repaired: Sequence[str] = (),
) -> SetImport:
    """Store normalised units as a **draft** set (nothing live changes) unless this exact
    content is already there; with the findings of the map the set would produce.
    ``repaired``: codes the reader repaired (reported back). Needs the edit scope (who
    may publish it is decided when it is published); audited with ``who``."""
    policy.require_scope(who)
    actor = policy.actor_of(who, author)
    with engine.begin() as conn:
        result = import_units(conn, units, name=name, author=audit.shown(actor), source=source)
        audit.record(
            conn,
            actor=actor,
            action="boundary_set.import",
            entity="boundary_set",
            ref=str(result.boundary_set_id),
            detail={"name": name, "source": source, "reused": result.reused, "units": len(units)},
        )
        findings = findings_for_set(conn, result.boundary_set_id)
        info = bstore.get_set(conn, result.boundary_set_id)
    return SetImport(result, info, findings, list(repaired))


def set_findings(engine: Engine, set_id: int | None) -> list[topology.Finding]:
    """Findings of the map the set would produce (``set_id`` None: of the live map)."""
    with engine.connect() as conn:
        return findings_for_live(conn) if set_id is None else findings_for_set(conn, set_id)


def list_sets(engine: Engine) -> list[dict[str, Any]]:
    """Every boundary set, newest first, with its number of unit versions."""
    with engine.connect() as conn:
        return bstore.list_sets(conn)


def get_set(engine: Engine, set_id: int) -> dict[str, Any]:
    """One boundary set; NotFound for a bad id."""
    with engine.connect() as conn:
        return bstore.get_set(conn, set_id)


def map_at(
    engine: Engine, at: datetime | None, *, viewer: PeopleViewer | None = None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The units and special grids in force at ``at`` (None: now), read together — what
    an export writes. Special-grid contact phones are masked unless ``viewer`` sees
    contacts, as the single special-grid read masks them (None: an operator at the
    command line, phones whole)."""
    with engine.connect() as conn:
        units = bstore.units_frame(conn, at=at)
        special = registers.special_grids_frame(conn, at=at)
    return units, contacts_as_seen(special, viewer)


# -- steps (in the caller's transaction) -------------------------------------------------


def import_units(
    conn: Connection,
    units: gpd.GeoDataFrame,
    *,
    name: str,
    author: str,
    source: str | None = None,
) -> ImportResult:
    """Store normalised units as a draft set unless this exact content is already there."""
    digest = checksum_units(units)
    existing = bstore.find_set_by_checksum(conn, digest)
    if existing is not None:
        return ImportResult(existing, len(units), digest, reused=True)
    set_id = bstore.create_draft_set(
        conn, units, name=name, author=author, source=source, checksum=digest
    )
    return ImportResult(set_id, len(units), digest, reused=False)


def map_after_publish(conn: Connection, set_id: int) -> gpd.GeoDataFrame:
    """The four-level map as it would be if the set were published now."""
    bstore.get_set(conn, set_id)  # NotFound for a bad id
    draft = bstore.units_frame(conn, boundary_set_id=set_id)
    other_levels = tuple(sorted(set(LEVELS) - set(draft["level"])))
    live = bstore.units_frame(conn, levels=other_levels) if other_levels else draft.iloc[:0]
    both = pd.concat([draft[UNIT_COLUMNS], live[UNIT_COLUMNS]], ignore_index=True)
    return gpd.GeoDataFrame(both, geometry="geometry", crs=draft.crs)


def findings_for_set(conn: Connection, set_id: int) -> list[topology.Finding]:
    """Topology and code findings of the map the set would produce."""
    return topology.validate_units(
        map_after_publish(conn, set_id), registers.special_grids_frame(conn)
    )


def findings_for_live(conn: Connection) -> list[topology.Finding]:
    """Topology and code findings of the live map."""
    return topology.validate_units(
        bstore.units_frame(conn)[UNIT_COLUMNS], registers.special_grids_frame(conn)
    )
