"""Boundaries and the places looked up in them: boundary sets, units and their
versions, special grids, and the other names people use for a place.

Boundaries are versioned the way MapIt does it: a ``boundary_set`` is imported as a
draft and activated as a separate step. A unit (``admin_unit``) keeps its stable id
forever; each of its shapes and attribute sets is an ``admin_unit_version`` row with
``valid_from``/``valid_to``. A version with ``valid_from IS NULL`` belongs to a draft
and is not in force; the live map is the versions with ``valid_from`` set and
``valid_to IS NULL``.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.settings import STORAGE_SRID
from geo.store.models.base import Base, geom_checks, values_in
from geo.vocab import (
    BOUNDARY_SET_STATUSES,
    LEVELS,
    SPECIAL_GRID_KINDS,
)


class BoundarySet(Base):
    """One imported set of boundaries; drafts become live only when activated."""

    __tablename__ = "boundary_set"
    __table_args__ = (CheckConstraint(values_in("status", BOUNDARY_SET_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="draft")
    source: Mapped[str | None] = mapped_column(Text)
    checksum: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AdminUnit(Base):
    """Stable identity of a district, street, community or grid across its versions."""

    __tablename__ = "admin_unit"
    __table_args__ = (CheckConstraint(values_in("level", LEVELS), name="level"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    level: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AdminUnitVersion(Base):
    """One shape and attribute set of a unit, in force from valid_from to valid_to."""

    __tablename__ = "admin_unit_version"
    __table_args__ = (
        *geom_checks("geom", ("MULTIPOLYGON",)),
        CheckConstraint(values_in("level", LEVELS), name="level"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="period"),
        CheckConstraint("valid_from IS NOT NULL OR valid_to IS NULL", name="draft_open"),
        Index(
            "uq_admin_unit_version_live_code",
            "code",
            unique=True,
            postgresql_where=text("valid_from IS NOT NULL AND valid_to IS NULL"),
        ),
        Index(
            "uq_admin_unit_version_live_unit",
            "unit_id",
            unique=True,
            postgresql_where=text("valid_from IS NOT NULL AND valid_to IS NULL"),
        ),
        UniqueConstraint("boundary_set_id", "code"),
        Index("ix_admin_unit_version_geom", "geom", postgresql_using="gist"),
        Index("ix_admin_unit_version_unit_id", "unit_id"),
        Index("ix_admin_unit_version_parent_unit_id", "parent_unit_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"))
    boundary_set_id: Mapped[int] = mapped_column(ForeignKey("boundary_set.id"))
    level: Mapped[str] = mapped_column(Text)
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    parent_unit_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"))
    geom = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=False), nullable=False
    )
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    author: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    attrs: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class SpecialGrid(Base):
    """A specialised grid (school, hospital, park…) with its own responsible unit."""

    __tablename__ = "special_grid"
    __table_args__ = (
        *geom_checks("geom", ("MULTIPOLYGON",)),
        CheckConstraint(values_in("kind", SPECIAL_GRID_KINDS), name="kind"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="period"),
        Index(
            "uq_special_grid_live_code",
            "code",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
        ),
        Index("ix_special_grid_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    responsible_unit: Mapped[str] = mapped_column(Text)
    contact_name: Mapped[str | None] = mapped_column(Text)
    contact_phone: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=False), nullable=False
    )
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    author: Mapped[str] = mapped_column(Text, server_default="system")
    reason: Mapped[str | None] = mapped_column(Text)


class PlaceAlias(Base):
    """Another name people use for a unit, special grid or compound (老地名, 俗称)."""

    __tablename__ = "place_alias"
    __table_args__ = (
        UniqueConstraint("target", "alias"),
        CheckConstraint("length(btrim(alias)) > 0", name="alias"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(Text)  # a code, a compound's key, or an exact name
    alias: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
