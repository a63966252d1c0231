"""The registers: grid workers and whom they serve, compounds, and what the ledger
imports and the unowned-compound campaign add to them (migration 0006)."""

from __future__ import annotations

from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.settings import STORAGE_SRID
from geo.store.models.base import Base, geom_checks, values_in
from geo.vocab import (
    MANAGEMENT_TYPES,
    WORKER_ROLES,
)

LOCATED_BY = ("coordinates", "address", "manual", "map")
GOVERNANCE_MODES = ("professional", "community", "self_governed")


class GridWorker(Base):
    """A grid worker, grid leader, volunteer or patroller. Contacts are personal data."""

    __tablename__ = "grid_worker"
    __table_args__ = (CheckConstraint(values_in("role", WORKER_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    worker_code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)


class GridAssignment(Base):
    """Who serves which unit (a worker a grid, a leader a community), over time."""

    __tablename__ = "grid_assignment"
    __table_args__ = (
        CheckConstraint(values_in("role", WORKER_ROLES), name="role"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="period"),
        Index(
            "uq_grid_assignment_live",
            "worker_id",
            "unit_id",
            "role",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
        ),
        Index("ix_grid_assignment_unit_id", "unit_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("grid_worker.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"))
    role: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Compound(Base):
    """A residential compound (楼院/小区), polygon or point, and how it is managed."""

    __tablename__ = "compound"
    __table_args__ = (
        *geom_checks("geom", ("POLYGON", "MULTIPOLYGON", "POINT")),
        CheckConstraint(values_in("management_type", MANAGEMENT_TYPES), name="management_type"),
        CheckConstraint("households IS NULL OR households >= 0", name="households"),
        CheckConstraint("buildings IS NULL OR buildings >= 0", name="buildings"),
        CheckConstraint("year_built IS NULL OR year_built BETWEEN 1800 AND 2100", name="year"),
        Index("ix_compound_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_key: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    households: Mapped[int | None] = mapped_column(Integer)
    buildings: Mapped[int | None] = mapped_column(Integer)
    year_built: Mapped[int | None] = mapped_column(Integer)
    management_type: Mapped[str] = mapped_column(Text)
    governance_status: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(
        Geometry("GEOMETRY", srid=STORAGE_SRID, spatial_index=False), nullable=False
    )


class CompoundLocation(Base):
    """How a compound's location was found and the grid it falls in.

    Kept beside ``compound`` so compounds loaded from map data need no row here.
    ``grid_unit_id`` follows from the location and is recomputed when boundaries change.
    """

    __tablename__ = "compound_location"
    __table_args__ = (
        CheckConstraint(values_in("located_by", LOCATED_BY), name="located_by"),
        CheckConstraint("match_score IS NULL OR match_score BETWEEN 0 AND 100", name="score"),
        Index("ix_compound_location_grid_unit_id", "grid_unit_id"),
    )

    compound_id: Mapped[int] = mapped_column(
        ForeignKey("compound.id", ondelete="CASCADE"), primary_key=True
    )
    located_by: Mapped[str] = mapped_column(Text)
    crs_in: Mapped[str | None] = mapped_column(Text)  # the ledger's CRS for coordinates
    match_score: Mapped[float | None] = mapped_column(Float)  # forward-geocoder score
    matched: Mapped[str | None] = mapped_column(Text)  # what the address matched
    grid_unit_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"))


class CompoundGovernance(Base):
    """The campaign record of one unowned compound: 台账 → 分类整治 → 销号."""

    __tablename__ = "compound_governance"
    __table_args__ = (
        CheckConstraint(f"mode IS NULL OR {values_in('mode', GOVERNANCE_MODES)}", name="mode"),
        # Struck off (销号) only with a management mode and someone who verified it.
        CheckConstraint(
            "struck_off_on IS NULL OR (mode IS NOT NULL AND verified_by IS NOT NULL)",
            name="struck_off",
        ),
    )

    compound_id: Mapped[int] = mapped_column(
        ForeignKey("compound.id", ondelete="CASCADE"), primary_key=True
    )
    issues: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'::text[]"))
    mode: Mapped[str | None] = mapped_column(Text)
    committee_formed: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    works: Mapped[list] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    struck_off_on: Mapped[date | None] = mapped_column(Date)
    verified_by: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LedgerUnplaced(Base):
    """A ledger row that could not be located, kept for manual placing."""

    __tablename__ = "ledger_unplaced"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_key: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    record: Mapped[dict] = mapped_column(JSONB)  # the parsed row, placed as is later
    ledger: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
