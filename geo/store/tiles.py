"""Mapbox vector tiles of the live map, made by PostGIS (``ST_AsMVT``), and the token
that names the live map in tile URLs.

Tile caches go stale after edits (maplibre/martin #288, #1578), so tile URLs carry
``tiles_version``: a publish or an edit starts new versions, which changes the token,
which changes every URL — old cached tiles are simply never asked for again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from geo.settings import STORAGE_SRID
from geo.store.boundaries import live_boundary_version
from geo.store.models import SpecialGrid
from geo.store.ogc import live_rows

EXTENT = 4096  # tile coordinate units per side (the MVT default)
BUFFER = 64  # units drawn beyond the tile edge, so polygon outlines join across tiles
MAX_ZOOM = 22
WEB_MERCATOR = 3857


@dataclass(frozen=True)
class Layer:
    name: str  # in URLs and as the layer name inside the tile
    level: str  # admin level, or "special_grid"
    title_zh: str


LAYERS = {
    layer.name: layer
    for layer in (
        Layer("district", "district", "区/县"),
        Layer("street", "street", "街道/镇"),
        Layer("community", "community", "社区/村"),
        Layer("grid", "grid", "综合网格"),
        Layer("special-grid", "special_grid", "专属网格"),
    )
}


def tiles_version(conn: Connection) -> str:
    """A short token that changes whenever the live boundaries or special grids change.

    Built on ``live_boundary_version`` (count, newest id and newest start of the live
    unit versions) plus the same for special grids: every publish or edit adds version
    rows or closes them, so the token moves.
    """
    special = conn.execute(
        select(func.count(), func.max(SpecialGrid.id), func.max(SpecialGrid.valid_from)).where(
            SpecialGrid.valid_to.is_(None)
        )
    ).one()
    raw = f"{live_boundary_version(conn)}|{special[0]}-{special[1]}-{special[2]}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def tile(conn: Connection, layer: Layer, z: int, x: int, y: int) -> bytes:
    """The MVT of one layer for tile z/x/y (empty bytes when nothing is there).

    Features are the live units intersecting the tile's envelope; geometry is clipped
    to the envelope plus ``BUFFER`` and quantised to ``EXTENT`` units by
    ``ST_AsMVTGeom``. Properties: code, name, level, parent_code, version (and kind,
    responsible_unit for special grids).
    """
    envelope = func.ST_TileEnvelope(z, x, y)  # Web Mercator
    rows = live_rows(layer.level, intersects=func.ST_Transform(envelope, STORAGE_SRID)).subquery()
    mvt_geom = func.ST_AsMVTGeom(
        func.ST_Transform(rows.c.geom, WEB_MERCATOR), envelope, EXTENT, BUFFER, True
    )
    columns = [rows.c.code, rows.c.name, rows.c.level]
    if layer.level == "special_grid":
        columns += [rows.c.kind, rows.c.responsible_unit]
    else:
        columns.append(rows.c.parent_code)
    features = (
        select(mvt_geom.label("geom"), *columns, rows.c.version)
        .select_from(rows)
        .subquery("features")
    )
    stmt = select(func.ST_AsMVT(features.table_valued(), layer.name, EXTENT, "geom")).where(
        features.c.geom.is_not(None)
    )
    data = conn.execute(stmt).scalar()
    return bytes(data) if data else b""


def layer_bounds(conn: Connection, layer: Layer) -> tuple[float, float, float, float] | None:
    """Lon/lat bounds of the layer's live features (for TileJSON), or None if empty."""
    rows = live_rows(layer.level).subquery()
    ext = func.ST_Extent(rows.c.geom)
    row = conn.execute(
        select(func.ST_XMin(ext), func.ST_YMin(ext), func.ST_XMax(ext), func.ST_YMax(ext))
    ).one()
    return None if row[0] is None else tuple(float(c) for c in row)  # type: ignore[return-value]
