"""Database tables (SQLAlchemy 2 + GeoAlchemy2). Schema changes go through Alembic.

Boundaries are versioned the way MapIt does it: a ``boundary_set`` is imported as a
draft and activated as a separate step. A unit (``admin_unit``) keeps its stable id
forever; each of its shapes and attribute sets is an ``admin_unit_version`` row with
``valid_from``/``valid_to``. A version with ``valid_from IS NULL`` belongs to a draft
and is not in force; the live map is the versions with ``valid_from`` set and
``valid_to IS NULL``.
"""

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
    MetaData,
    PrimaryKeyConstraint,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geo.settings import STORAGE_SRID
from geo.vocab import (
    BOUNDARY_SET_STATUSES,
    INCIDENT_ACTIONS,
    INCIDENT_SOURCES,
    INCIDENT_STATUSES,
    LEVELS,
    MANAGEMENT_TYPES,
    PATROL_MODES,
    SPECIAL_GRID_KINDS,
    WORKER_ROLES,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _geom_checks(column: str, types: tuple[str, ...]) -> list[CheckConstraint]:
    """Valid, non-empty geometries of the storage SRID and the allowed types only."""
    return [
        CheckConstraint(f"ST_IsValid({column})", name=f"{column}_valid"),
        CheckConstraint(f"NOT ST_IsEmpty({column})", name=f"{column}_not_empty"),
        CheckConstraint(f"ST_SRID({column}) = {STORAGE_SRID}", name=f"{column}_srid"),
        CheckConstraint(_in(f"GeometryType({column})", types), name=f"{column}_type"),
    ]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class BoundarySet(Base):
    """One imported set of boundaries; drafts become live only when activated."""

    __tablename__ = "boundary_set"
    __table_args__ = (CheckConstraint(_in("status", BOUNDARY_SET_STATUSES), name="status"),)

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
    __table_args__ = (CheckConstraint(_in("level", LEVELS), name="level"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    level: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AdminUnitVersion(Base):
    """One shape and attribute set of a unit, in force from valid_from to valid_to."""

    __tablename__ = "admin_unit_version"
    __table_args__ = (
        *_geom_checks("geom", ("MULTIPOLYGON",)),
        CheckConstraint(_in("level", LEVELS), name="level"),
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
        *_geom_checks("geom", ("MULTIPOLYGON",)),
        CheckConstraint(_in("kind", SPECIAL_GRID_KINDS), name="kind"),
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


class GridWorker(Base):
    """A grid worker, grid leader, volunteer or patroller. Contacts are personal data."""

    __tablename__ = "grid_worker"
    __table_args__ = (CheckConstraint(_in("role", WORKER_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    worker_code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)


class GridAssignment(Base):
    """Who serves which unit (a worker a grid, a leader a community), over time."""

    __tablename__ = "grid_assignment"
    __table_args__ = (
        CheckConstraint(_in("role", WORKER_ROLES), name="role"),
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
        *_geom_checks("geom", ("POLYGON", "MULTIPOLYGON", "POINT")),
        CheckConstraint(_in("management_type", MANAGEMENT_TYPES), name="management_type"),
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


class Incident(Base):
    """A reported case with its H3 cell and the units responsible at intake."""

    __tablename__ = "incident"
    __table_args__ = (
        *_geom_checks("geom", ("POINT",)),
        CheckConstraint(_in("source", INCIDENT_SOURCES), name="source"),
        CheckConstraint(_in("status", INCIDENT_STATUSES), name="status"),
        CheckConstraint(_in("level", LEVELS), name="level"),
        CheckConstraint(_in("responsible_kind", ("grid", "special_grid")), name="responsible_kind"),
        CheckConstraint(_in("crs_in", ("wgs84", "gcj02", "bd09", "cgcs2000")), name="crs_in"),
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
    # Who must act, decided at intake by the precedence rules (geo/incidents.py).
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
        CheckConstraint(_in("action", INCIDENT_ACTIONS), name="action"),
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


class PatrolTrack(Base):
    """One cleaned patrol track of one worker."""

    __tablename__ = "patrol_track"
    __table_args__ = (
        *_geom_checks("geom", ("LINESTRING",)),
        CheckConstraint(_in("mode", PATROL_MODES), name="mode"),
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


API_SCOPES = ("geocode", "intake", "read", "edit", "admin")
KEY_ROLES = ("app", "planner", "supervisor", "grid_worker")


class ApiKey(Base):
    """An app's key: only a hash is stored; the secret is shown once at creation."""

    __tablename__ = "api_key"
    __table_args__ = (
        CheckConstraint("rate_per_minute > 0", name="rate"),
        CheckConstraint(
            "scopes <@ ARRAY['geocode','intake','read','edit','admin']::text[]", name="scopes"
        ),
        CheckConstraint(_in("role", KEY_ROLES), name="role"),
        CheckConstraint("(role = 'grid_worker') = (worker_code IS NOT NULL)", name="worker"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text, unique=True)  # shown in lists, not secret
    secret_hash: Mapped[str] = mapped_column(Text, unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # Units (any level) the key may see people of; empty: the whole district.
    unit_ids: Mapped[list[int]] = mapped_column(
        ARRAY(BigInteger), server_default=text("'{}'::bigint[]")
    )
    rate_per_minute: Mapped[int] = mapped_column(Integer, server_default="600")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who holds it: an app (scopes as given) or a person in a role (api/auth.py).
    role: Mapped[str] = mapped_column(Text, server_default="app")
    worker_code: Mapped[str | None] = mapped_column(Text)  # a grid worker's own key


class AuditEntry(Base):
    """Who changed what, when and why: boundary edits, register changes, key use."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity_ref", "entity", "ref"),
        Index("ix_audit_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)  # e.g. grid.reshape, compound.update
    entity: Mapped[str] = mapped_column(Text)  # grid, special_grid, compound, worker …
    ref: Mapped[str] = mapped_column(Text)  # the entity's code or id, as text
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


# --- registers from ledgers and the unowned-compound campaign (migration 0006) -------
LOCATED_BY = ("coordinates", "address", "manual", "map")
GOVERNANCE_MODES = ("professional", "community", "self_governed")


class CompoundLocation(Base):
    """How a compound's location was found and the grid it falls in.

    Kept beside ``compound`` so compounds loaded from map data need no row here.
    ``grid_unit_id`` follows from the location and is recomputed when boundaries change.
    """

    __tablename__ = "compound_location"
    __table_args__ = (
        CheckConstraint(_in("located_by", LOCATED_BY), name="located_by"),
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
        CheckConstraint(f"mode IS NULL OR {_in('mode', GOVERNANCE_MODES)}", name="mode"),
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
