"""Boundary sets as planners use them: import a file as a draft, see its findings,
publish it (only without error findings, or with an explicit, recorded override).

Shared by the CLI (``gridmap import|validate|publish``) and the API
(``/v1/boundary-sets``). Every function runs in the caller's transaction.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from sqlalchemy import Connection

from geo import topology
from geo.errors import InvalidInput
from geo.store import boundaries as bstore
from geo.store import registers
from geo.vocab import LEVELS

from boundaries.importer import ImportResult, import_units, normalise_units, read_boundary_file


def import_file(
    conn: Connection,
    path: Path,
    *,
    level: str | None = None,
    layer: str | None = None,
    crs: str | None = None,
    encoding: str | None = None,
    column_map: dict[str, str] | None = None,
    name: str | None = None,
    author: str,
) -> ImportResult:
    """Read a boundary file and store it as a draft set. Nothing live changes.

    A GeoPackage whose layers are named after the levels (district, street,
    community, grid — as ``gridmap export`` writes them) is imported whole, all
    levels in one set, when neither ``layer`` nor ``level`` is given.
    """
    level_layers = _level_layers(path) if layer is None and level is None else []
    if level_layers:
        units = pd.concat(
            [
                normalise_units(
                    read_boundary_file(path, layer=lyr, encoding=encoding),
                    level=lyr,
                    crs=crs,
                    column_map=column_map,
                )
                for lyr in level_layers
            ],
            ignore_index=True,
        )
        units = gpd.GeoDataFrame(units, geometry="geometry", crs=4326)
    else:
        raw = read_boundary_file(path, layer=layer, encoding=encoding)
        units = normalise_units(raw, level=level, crs=crs, column_map=column_map)
    return import_units(
        conn, units, name=name or Path(path).name, author=author, source=Path(path).name
    )


def _level_layers(path: Path) -> list[str]:
    if Path(path).suffix.lower() != ".gpkg":
        return []
    try:
        names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except Exception:  # unreadable: read_boundary_file reports it properly
        return []
    return [lvl for lvl in LEVELS if lvl in names]


def map_after_publish(conn: Connection, set_id: int) -> gpd.GeoDataFrame:
    """The four-level map as it would be if the set were published now."""
    bstore.get_set(conn, set_id)  # NotFound for a bad id
    draft = bstore.units_frame(conn, boundary_set_id=set_id)
    other_levels = tuple(sorted(set(LEVELS) - set(draft["level"])))
    live = bstore.units_frame(conn, levels=other_levels) if other_levels else draft.iloc[:0]
    cols = ["level", "code", "name", "parent_code", "geometry"]
    both = pd.concat([draft[cols], live[cols]], ignore_index=True)
    return gpd.GeoDataFrame(both, geometry="geometry", crs=draft.crs)


def findings_for_set(conn: Connection, set_id: int) -> list[topology.Finding]:
    """Topology and code findings of the map the set would produce."""
    return topology.validate_units(
        map_after_publish(conn, set_id), registers.special_grids_frame(conn)
    )


def findings_for_live(conn: Connection) -> list[topology.Finding]:
    cols = ["level", "code", "name", "parent_code", "geometry"]
    return topology.validate_units(
        bstore.units_frame(conn)[cols], registers.special_grids_frame(conn)
    )


def publish(
    conn: Connection,
    set_id: int,
    *,
    author: str,
    reason: str | None = None,
    override_reason: str | None = None,
) -> tuple[bstore.PublishResult, list[topology.Finding]]:
    """Publish a draft unless it has error findings (or the override is given).

    The override is recorded with its author and reason on the set.
    """
    if bstore.set_status(conn, set_id) == "draft":
        findings = findings_for_set(conn, set_id)
    else:
        findings = []  # publish_set reports NotFound / Conflict with a clear message
    errors = [f for f in findings if f.severity == "error"]
    if errors and not override_reason:
        raise InvalidInput(
            f"boundary set {set_id} has {len(errors)} error finding(s); fix them, or publish "
            "with an override reason (--override-reason / override_reason)",
            f"边界集 {set_id} 有 {len(errors)} 个错误级问题；请先修正，或填写强制发布理由",
            findings=topology.findings_to_json(errors[:200]),
        )
    note = reason
    if errors:
        note = (
            f"{reason or ''} [override by {author}: {override_reason}; "
            f"{len(errors)} error finding(s) published]"
        ).strip()
    result = bstore.publish_set(conn, set_id, author=author, reason=note)
    # A compound's grid follows from its location: recompute in the same transaction.
    registers.set_compound_grids(conn, None)
    return result, findings


def import_file_made_valid(
    conn: Connection,
    path: Path,
    *,
    level: str | None = None,
    layer: str | None = None,
    crs: str | None = None,
    encoding: str | None = None,
    column_map: dict[str, str] | None = None,
    name: str | None = None,
    author: str,
) -> tuple[ImportResult, list[str]]:
    """:func:`import_file` with every geometry repaired by ``fix_make_valid`` first
    (``--make-valid``); also the codes whose geometry the repair changed.

    Only on request: by default an invalid geometry refuses the whole file.
    """
    # boundaries.fixes imports this module (findings_for_set), hence the late import.
    from boundaries.fixes import make_valid_all

    level_layers = _level_layers(path) if layer is None and level is None else []
    frames, repaired = [], []
    for lyr, lvl in [(x, x) for x in level_layers] or [(layer, level)]:
        raw, fixed = make_valid_all(read_boundary_file(path, layer=lyr, encoding=encoding))
        units = normalise_units(raw, level=lvl, crs=crs, column_map=column_map)
        frames.append(units)
        repaired += [units["code"].iloc[i] for i in fixed]
    units = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=4326)
    result = import_units(
        conn, units, name=name or Path(path).name, author=author, source=Path(path).name
    )
    return result, sorted(repaired)
