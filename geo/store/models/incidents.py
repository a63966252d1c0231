"""Incidents and the steps of their life."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from geo.settings import STORAGE_SRID
from geo.store.models.base import Base, geom_checks, values_in
from geo.vocab import (
    INCIDENT_ACTIONS,
    INCIDENT_SOURCES,
    INCIDENT_STATUSES,
    LEVELS,
)


class Incident(Base):
    """A reported case with its H3 cell and the units responsible at intake."""

    __tablename__ = "incident"
    __table_args__ = (
        *geom_checks("geom", ("POINT",)),
        CheckConstraint(values_in("source", INCIDENT_SOURCES), name="source"),
        CheckConstraint(values_in("status", INCIDENT_STATUSES), name="status"),
        CheckConstraint(values_in("level", LEVELS), name="level"),
        CheckConstraint(
            values_in("responsible_kind", ("grid", "special_grid")), name="responsible_kind"
        ),
        CheckConstraint(values_in("crs_in", ("wgs84", "gcj02", "bd09", "cgcs2000")), name="crs_in"),
        UniqueConstraint("source", "external_id"),
        Index("ix_incident_geom", "geom", postgresql_using="gist"),
        Index("ix_incident_reported_at", "reported_at"),
        Index("ix_incident_h3_cell", "h3_cell"),
        Index("ix_incident_grid_unit_id", "grid_unit_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str] = mapped_column(Text)
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    category: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="open")
    level: Mapped[str] = mapped_column(Text, server_default="grid")
    description: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("POINT", srid=STORAGE_SRID, spatial_index=False), nullable=False)
    h3_cell: Mapped[int] = mapped_column(BigInteger)
    grid_unit_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"))
    community_unit_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"))
    street_unit_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"))
    district_unit_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"))
    # Who must act, decided at intake by the precedence rules (geo/incidents/rules.py).
    responsible_kind: Mapped[str] = mapped_column(Text, server_default="grid")
    responsible_special_grid_id: Mapped[int | None] = mapped_column(ForeignKey("special_grid.id"))
    special_grid_ids: Mapped[list[int]] = mapped_column(
        ARRAY(BigInteger), server_default=text("'{}'::bigint[]")
    )
    crs_in: Mapped[str] = mapped_column(Text, server_default="wgs84")
    assignee: Mapped[str | None] = mapped_column(Text)
    # When the current level's time limit started (intake or the last escalation).
    level_since: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IncidentTransition(Base):
    """One step of an incident's life: assigned, escalated, closed, reopened."""

    __tablename__ = "incident_transition"
    __table_args__ = (
        CheckConstraint(values_in("action", INCIDENT_ACTIONS), name="action"),
        Index("ix_incident_transition_incident_id_at", "incident_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    action: Mapped[str] = mapped_column(Text)
    from_status: Mapped[str] = mapped_column(Text)
    to_status: Mapped[str] = mapped_column(Text)
    from_level: Mapped[str] = mapped_column(Text)
    to_level: Mapped[str] = mapped_column(Text)
    assignee: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
