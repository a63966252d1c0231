"""Live features for OGC API – Features (and the vector tiles): SQL only.

The live map is the ``admin_unit_version`` rows in force (``valid_from`` set,
``valid_to`` NULL) of one level, and the ``special_grid`` rows with ``valid_to`` NULL.
``live_rows`` gives both the same columns, so ``geo/store/tiles.py`` reuses it.

Each feature is built as GeoJSON text inside PostgreSQL (``json_build_object`` +
``ST_AsGeoJSON``): a 10,000-feature page then needs no parse/serialise round trip in
Python, and the axis flip for latitude-first CRSs (``ST_FlipCoordinates``) happens once,
next to the reprojection. SQLAlchemy Core expresses all of it; no hand-written SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Engine,
    Select,
    Text,
    and_,
    cast,
    func,
    literal,
    null,
    select,
)
from sqlalchemy.orm import aliased

from geo.ogc import Collection, OutputCrs
from geo.settings import STORAGE_SRID
from geo.store.boundaries import _in_force
from geo.store.models import AdminUnitVersion, SpecialGrid

# Digits after the decimal point in GeoJSON output: ~1e-15°, i.e. no visible rounding.
GEOJSON_DIGITS = 15


def read_snapshot(engine: Engine) -> Connection:
    """A connection whose statements all see one snapshot (REPEATABLE READ).

    A count and its page, or a version token and the tile served under it, must
    describe the same map even if a publish commits between the two statements.
    """
    return engine.connect().execution_options(isolation_level="REPEATABLE READ")


def live_rows(level: str, *, intersects: ColumnElement[Any] | None = None) -> Select:
    """Live features of ``level`` ("special_grid" for special grids) as one SELECT.

    Columns: version, code, name, level, parent_code, valid_from, kind,
    responsible_unit, geom (storage SRID). ``intersects`` is an optional geometry
    expression in the storage SRID the features must intersect.
    """
    if level == "special_grid":
        s = SpecialGrid
        stmt = select(
            s.id.label("version"),
            s.code,
            s.name,
            literal("special_grid").label("level"),
            cast(null(), Text).label("parent_code"),
            s.valid_from,
            s.kind,
            s.responsible_unit,
            s.geom,
        ).where(s.valid_to.is_(None))
        geom = s.geom
    else:
        v = AdminUnitVersion
        parent = aliased(AdminUnitVersion)
        stmt = (
            select(
                v.id.label("version"),
                v.code,
                v.name,
                v.level,
                parent.code.label("parent_code"),
                v.valid_from,
                cast(null(), Text).label("kind"),
                cast(null(), Text).label("responsible_unit"),
                v.geom,
            )
            .outerjoin(parent, and_(parent.unit_id == v.parent_unit_id, _in_force(parent, None)))
            .where(_in_force(v, None), v.level == level)
        )
        geom = v.geom
    if intersects is not None:
        stmt = stmt.where(func.ST_Intersects(geom, intersects))
    return stmt


def _envelope(bbox: tuple[float, float, float, float] | None, srid: int):
    """The bbox (lon/lat order) as a storage-SRID polygon, or None."""
    if bbox is None:
        return None
    env = func.ST_MakeEnvelope(*bbox, srid)
    return env if srid == STORAGE_SRID else func.ST_Transform(env, STORAGE_SRID)


def _geometry_out(geom, crs: OutputCrs):
    out = geom if crs.srid == STORAGE_SRID else func.ST_Transform(geom, crs.srid)
    if crs.lat_first:
        out = func.ST_FlipCoordinates(out)
    # options 0: no "crs" member (the CRS is in the Content-Crs header), no bbox.
    return cast(func.ST_AsGeoJSON(out, GEOJSON_DIGITS, 0), JSON)


def _feature_json(rows, collection: Collection, crs: OutputCrs):
    props = [
        "code",
        rows.c.code,
        "name",
        rows.c.name,
        "level",
        rows.c.level,
    ]
    if collection.is_special:
        props += ["kind", rows.c.kind, "responsible_unit", rows.c.responsible_unit]
    else:
        props += ["parent_code", rows.c.parent_code]
    props += ["version", rows.c.version, "valid_from", rows.c.valid_from]
    feature = func.json_build_object(
        "type",
        "Feature",
        "id",
        rows.c.code,
        "geometry",
        _geometry_out(rows.c.geom, crs),
        "properties",
        func.json_build_object(*props),
    )
    return cast(feature, Text).label("feature")


def count_features(
    conn: Connection,
    collection: Collection,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    bbox_srid: int = STORAGE_SRID,
) -> int:
    """How many live features of the collection (inside ``bbox``, if given)."""
    rows = live_rows(collection.level, intersects=_envelope(bbox, bbox_srid)).subquery()
    return conn.execute(select(func.count()).select_from(rows)).scalar_one()


def feature_page(
    conn: Connection,
    collection: Collection,
    crs: OutputCrs,
    *,
    limit: int,
    offset: int,
    bbox: tuple[float, float, float, float] | None = None,
    bbox_srid: int = STORAGE_SRID,
) -> list[str]:
    """One page of GeoJSON features (as JSON text), ordered by code for stable paging."""
    rows = live_rows(collection.level, intersects=_envelope(bbox, bbox_srid)).subquery()
    stmt = (
        select(_feature_json(rows, collection, crs))
        .order_by(rows.c.code, rows.c.version)
        .limit(limit)
        .offset(offset)
    )
    return list(conn.execute(stmt).scalars())


def feature_by_code(
    conn: Connection, collection: Collection, code: str, crs: OutputCrs
) -> tuple[str, int] | None:
    """(GeoJSON feature text, live version id) of one code, or None."""
    rows = live_rows(collection.level).subquery()
    row = conn.execute(
        select(_feature_json(rows, collection, crs), rows.c.version).where(rows.c.code == code)
    ).first()
    return None if row is None else (row[0], int(row[1]))


def collection_extent(
    conn: Connection, collection: Collection
) -> tuple[tuple[float, float, float, float] | None, datetime | None]:
    """Lon/lat bounding box of the live features and the earliest valid_from."""
    rows = live_rows(collection.level).subquery()
    ext = func.ST_Extent(rows.c.geom)
    row = conn.execute(
        select(
            func.ST_XMin(ext),
            func.ST_YMin(ext),
            func.ST_XMax(ext),
            func.ST_YMax(ext),
            func.min(rows.c.valid_from),
        )
    ).one()
    if row[0] is None:
        return None, row[4]
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3])), row[4]
