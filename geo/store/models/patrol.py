"""Patrol activity: cleaned tracks, the checksums of purged ones, and the visits
per H3 cell, day and worker."""

from __future__ import annotations

from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from geo.settings import STORAGE_SRID
from geo.store.models.base import Base, geom_checks, values_in
from geo.vocab import (
    PATROL_MODES,
)


class PatrolTrack(Base):
    """One cleaned patrol track of one worker."""

    __tablename__ = "patrol_track"
    __table_args__ = (
        *geom_checks("geom", ("LINESTRING",)),
        CheckConstraint(values_in("mode", PATROL_MODES), name="mode"),
        CheckConstraint("ended_at >= started_at", name="period"),
        Index("ix_patrol_track_geom", "geom", postgresql_using="gist"),
        Index("ix_patrol_track_worker_id_started_at", "worker_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("grid_worker.id"))
    mode: Mapped[str] = mapped_column(Text, server_default="foot")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    point_count: Mapped[int] = mapped_column(Integer)
    # Hash of the cleaned fixes: re-uploading the same track changes nothing.
    checksum: Mapped[str] = mapped_column(Text, unique=True)
    geom = mapped_column(
        Geometry("LINESTRING", srid=STORAGE_SRID, spatial_index=False), nullable=False
    )


class PatrolTrackPurged(Base):
    """The checksum of a purged track: its fixes were stored once (migration 0010)."""

    __tablename__ = "patrol_track_purged"

    checksum: Mapped[str] = mapped_column(Text, primary_key=True)
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    purged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PatrolVisit(Base):
    """Per H3 cell, day and worker: when the cell was first/last seen and how often."""

    __tablename__ = "patrol_visit"
    __table_args__ = (
        PrimaryKeyConstraint("h3_cell", "day", "worker_id"),
        CheckConstraint("pass_count > 0", name="pass_count"),
        CheckConstraint("last_seen >= first_seen", name="period"),
        Index("ix_patrol_visit_grid_unit_id_day", "grid_unit_id", "day"),
    )

    h3_cell: Mapped[int] = mapped_column(BigInteger)
    day: Mapped[date] = mapped_column(Date)
    # grid_worker.id and admin_unit.id, checked per ingest batch and by delete triggers
    # rather than by foreign keys (a trigger per row; migration 0009 says why).
    worker_id: Mapped[int] = mapped_column(BigInteger)
    grid_unit_id: Mapped[int | None] = mapped_column(BigInteger)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    pass_count: Mapped[int] = mapped_column(Integer)
