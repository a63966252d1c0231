"""Boundary files as planners hand them in: read a file (all four level layers of a
GeoPackage written by ``gridmap export``, or one layer), optionally repairing invalid
geometry, into normalised units.

The CLI (``gridmap import``) and the API (``POST /v1/boundary-sets``) read here and
store what they read through the use case
:func:`geo.services.boundaries.import_boundary_set`; :func:`import_file` does both in
the caller's transaction.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from sqlalchemy import Connection

from geo.services.boundaries import ImportResult, import_units
from geo.topology.fixes import make_valid_all
from geo.vocab import LEVELS

from boundaries.importer import normalise_units, read_boundary_file


def read_units(
    path: Path,
    *,
    level: str | None = None,
    layer: str | None = None,
    crs: str | None = None,
    encoding: str | None = None,
    column_map: dict[str, str] | None = None,
    make_valid: bool = False,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Normalised units from a boundary file; also the codes whose geometry
    ``make_valid`` repaired (only on request: by default an invalid geometry refuses
    the whole file).

    A GeoPackage whose layers are named after the levels (district, street,
    community, grid — as ``gridmap export`` writes them) is read whole, all levels,
    when neither ``layer`` nor ``level`` is given.
    """
    if make_valid:
        return _read_made_valid(
            path, level=level, layer=layer, crs=crs, encoding=encoding, column_map=column_map
        )
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
        return gpd.GeoDataFrame(units, geometry="geometry", crs=4326), []
    raw = read_boundary_file(path, layer=layer, encoding=encoding)
    return normalise_units(raw, level=level, crs=crs, column_map=column_map), []


def _read_made_valid(
    path: Path,
    *,
    level: str | None,
    layer: str | None,
    crs: str | None,
    encoding: str | None,
    column_map: dict[str, str] | None,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """:func:`read_units` with every geometry repaired by ``fix_make_valid`` first."""
    level_layers = _level_layers(path) if layer is None and level is None else []
    layers: list[tuple[str | None, str | None]] = [(x, x) for x in level_layers]
    frames, repaired = [], []
    for lyr, lvl in layers or [(layer, level)]:
        raw, fixed = make_valid_all(read_boundary_file(path, layer=lyr, encoding=encoding))
        units = normalise_units(raw, level=lvl, crs=crs, column_map=column_map)
        frames.append(units)
        repaired += [units["code"].iloc[i] for i in fixed]
    units = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=4326)
    return units, sorted(repaired)


def _level_layers(path: Path) -> list[str]:
    if Path(path).suffix.lower() != ".gpkg":
        return []
    try:
        names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except Exception:  # unreadable: read_boundary_file reports it properly
        return []
    return [lvl for lvl in LEVELS if lvl in names]


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
    """Read a boundary file and store it as a draft set (in the caller's transaction).
    Nothing live changes."""
    units, _ = read_units(
        path, level=level, layer=layer, crs=crs, encoding=encoding, column_map=column_map
    )
    return import_units(
        conn, units, name=name or Path(path).name, author=author, source=Path(path).name
    )


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
    (``--make-valid``); also the codes whose geometry the repair changed."""
    units, repaired = read_units(
        path,
        level=level,
        layer=layer,
        crs=crs,
        encoding=encoding,
        column_map=column_map,
        make_valid=True,
    )
    result = import_units(
        conn, units, name=name or Path(path).name, author=author, source=Path(path).name
    )
    return result, repaired
