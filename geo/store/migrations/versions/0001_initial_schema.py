"""Initial schema: versioned four-level boundaries, special grids, workers, compounds,
incidents, patrol tracks and per-cell patrol visits.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 11:53:58.239762
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # An external PostGIS may not have the extension yet; the local cluster has it.
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "admin_unit",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "level IN ('district', 'street', 'community', 'grid')", name=op.f("ck_admin_unit_level")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_unit")),
    )
    op.create_table(
        "boundary_set",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="draft", nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("checksum", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'active', 'retired')", name=op.f("ck_boundary_set_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boundary_set")),
    )
    op.create_geospatial_table(
        "compound",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("households", sa.Integer(), nullable=True),
        sa.Column("buildings", sa.Integer(), nullable=True),
        sa.Column("year_built", sa.Integer(), nullable=True),
        sa.Column("management_type", sa.Text(), nullable=False),
        sa.Column("governance_status", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON', 'POINT')",
            name=op.f("ck_compound_geom_type"),
        ),
        sa.CheckConstraint(
            "management_type IN ('property_company', 'unit', 'self_governed', 'unowned')",
            name=op.f("ck_compound_management_type"),
        ),
        sa.CheckConstraint("NOT ST_IsEmpty(geom)", name=op.f("ck_compound_geom_not_empty")),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_compound_geom_valid")),
        sa.CheckConstraint("ST_SRID(geom) = 4326", name=op.f("ck_compound_geom_srid")),
        sa.CheckConstraint(
            "buildings IS NULL OR buildings >= 0", name=op.f("ck_compound_buildings")
        ),
        sa.CheckConstraint(
            "households IS NULL OR households >= 0", name=op.f("ck_compound_households")
        ),
        sa.CheckConstraint(
            "year_built IS NULL OR year_built BETWEEN 1800 AND 2100", name=op.f("ck_compound_year")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compound")),
        sa.UniqueConstraint("source_key", name=op.f("uq_compound_source_key")),
    )
    op.create_geospatial_index(
        "ix_compound_geom",
        "compound",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "grid_worker",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("worker_code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "role IN ('worker', 'leader', 'volunteer', 'patroller')",
            name=op.f("ck_grid_worker_role"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_worker")),
        sa.UniqueConstraint("worker_code", name=op.f("uq_grid_worker_worker_code")),
    )
    op.create_geospatial_table(
        "special_grid",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("responsible_unit", sa.Text(), nullable=False),
        sa.Column("contact_name", sa.Text(), nullable=True),
        sa.Column("contact_phone", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "valid_from",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("author", sa.Text(), server_default="system", nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "GeometryType(geom) IN ('MULTIPOLYGON')", name=op.f("ck_special_grid_geom_type")
        ),
        sa.CheckConstraint(
            "kind IN ('school', 'hospital', 'industrial_park', 'market', 'enterprise', 'scenic', 'campus', 'other')",
            name=op.f("ck_special_grid_kind"),
        ),
        sa.CheckConstraint("NOT ST_IsEmpty(geom)", name=op.f("ck_special_grid_geom_not_empty")),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_special_grid_geom_valid")),
        sa.CheckConstraint("ST_SRID(geom) = 4326", name=op.f("ck_special_grid_geom_srid")),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_special_grid_period")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_special_grid")),
    )
    op.create_geospatial_index(
        "ix_special_grid_geom",
        "special_grid",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "uq_special_grid_live_code",
        "special_grid",
        ["code"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_geospatial_table(
        "admin_unit_version",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("unit_id", sa.BigInteger(), nullable=False),
        sa.Column("boundary_set_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("parent_unit_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "attrs",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "GeometryType(geom) IN ('MULTIPOLYGON')", name=op.f("ck_admin_unit_version_geom_type")
        ),
        sa.CheckConstraint(
            "level IN ('district', 'street', 'community', 'grid')",
            name=op.f("ck_admin_unit_version_level"),
        ),
        sa.CheckConstraint(
            "NOT ST_IsEmpty(geom)", name=op.f("ck_admin_unit_version_geom_not_empty")
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_admin_unit_version_geom_valid")),
        sa.CheckConstraint("ST_SRID(geom) = 4326", name=op.f("ck_admin_unit_version_geom_srid")),
        sa.CheckConstraint(
            "valid_from IS NOT NULL OR valid_to IS NULL",
            name=op.f("ck_admin_unit_version_draft_open"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_admin_unit_version_period")
        ),
        sa.ForeignKeyConstraint(
            ["boundary_set_id"],
            ["boundary_set.id"],
            name=op.f("fk_admin_unit_version_boundary_set_id_boundary_set"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_unit_id"],
            ["admin_unit.id"],
            name=op.f("fk_admin_unit_version_parent_unit_id_admin_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["admin_unit.id"], name=op.f("fk_admin_unit_version_unit_id_admin_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_unit_version")),
        sa.UniqueConstraint(
            "boundary_set_id", "code", name=op.f("uq_admin_unit_version_boundary_set_id_code")
        ),
    )
    op.create_geospatial_index(
        "ix_admin_unit_version_geom",
        "admin_unit_version",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "ix_admin_unit_version_parent_unit_id",
        "admin_unit_version",
        ["parent_unit_id"],
        unique=False,
    )
    op.create_index(
        "ix_admin_unit_version_unit_id", "admin_unit_version", ["unit_id"], unique=False
    )
    op.create_index(
        "uq_admin_unit_version_live_code",
        "admin_unit_version",
        ["code"],
        unique=True,
        postgresql_where=sa.text("valid_from IS NOT NULL AND valid_to IS NULL"),
    )
    op.create_index(
        "uq_admin_unit_version_live_unit",
        "admin_unit_version",
        ["unit_id"],
        unique=True,
        postgresql_where=sa.text("valid_from IS NOT NULL AND valid_to IS NULL"),
    )
    op.create_table(
        "grid_assignment",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("worker_id", sa.BigInteger(), nullable=False),
        sa.Column("unit_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column(
            "valid_from",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('worker', 'leader', 'volunteer', 'patroller')",
            name=op.f("ck_grid_assignment_role"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_grid_assignment_period")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["admin_unit.id"], name=op.f("fk_grid_assignment_unit_id_admin_unit")
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["grid_worker.id"], name=op.f("fk_grid_assignment_worker_id_grid_worker")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_assignment")),
    )
    op.create_index("ix_grid_assignment_unit_id", "grid_assignment", ["unit_id"], unique=False)
    op.create_index(
        "uq_grid_assignment_live",
        "grid_assignment",
        ["worker_id", "unit_id", "role"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_geospatial_table(
        "incident",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column("level", sa.Text(), server_default="grid", nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("h3_cell", sa.BigInteger(), nullable=False),
        sa.Column("grid_unit_id", sa.BigInteger(), nullable=True),
        sa.Column("community_unit_id", sa.BigInteger(), nullable=True),
        sa.Column("street_unit_id", sa.BigInteger(), nullable=True),
        sa.Column("district_unit_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("GeometryType(geom) IN ('POINT')", name=op.f("ck_incident_geom_type")),
        sa.CheckConstraint(
            "level IN ('district', 'street', 'community', 'grid')", name=op.f("ck_incident_level")
        ),
        sa.CheckConstraint(
            "source IN ('grid_worker', 'hotline_12345', 'camera', 'patrol', 'citizen', 'other')",
            name=op.f("ck_incident_source"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'assigned', 'escalated', 'closed')", name=op.f("ck_incident_status")
        ),
        sa.CheckConstraint("NOT ST_IsEmpty(geom)", name=op.f("ck_incident_geom_not_empty")),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_incident_geom_valid")),
        sa.CheckConstraint("ST_SRID(geom) = 4326", name=op.f("ck_incident_geom_srid")),
        sa.ForeignKeyConstraint(
            ["community_unit_id"],
            ["admin_unit.id"],
            name=op.f("fk_incident_community_unit_id_admin_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["district_unit_id"],
            ["admin_unit.id"],
            name=op.f("fk_incident_district_unit_id_admin_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["grid_unit_id"], ["admin_unit.id"], name=op.f("fk_incident_grid_unit_id_admin_unit")
        ),
        sa.ForeignKeyConstraint(
            ["street_unit_id"],
            ["admin_unit.id"],
            name=op.f("fk_incident_street_unit_id_admin_unit"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_incident_source_external_id")),
    )
    op.create_geospatial_index(
        "ix_incident_geom",
        "incident",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_incident_grid_unit_id", "incident", ["grid_unit_id"], unique=False)
    op.create_index("ix_incident_h3_cell", "incident", ["h3_cell"], unique=False)
    op.create_index("ix_incident_reported_at", "incident", ["reported_at"], unique=False)
    op.create_geospatial_table(
        "patrol_track",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("worker_id", sa.BigInteger(), nullable=False),
        sa.Column("mode", sa.Text(), server_default="foot", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("point_count", sa.Integer(), nullable=False),
        sa.Column("checksum", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="LINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "GeometryType(geom) IN ('LINESTRING')", name=op.f("ck_patrol_track_geom_type")
        ),
        sa.CheckConstraint(
            "mode IN ('foot', 'bicycle', 'vehicle')", name=op.f("ck_patrol_track_mode")
        ),
        sa.CheckConstraint("NOT ST_IsEmpty(geom)", name=op.f("ck_patrol_track_geom_not_empty")),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_patrol_track_geom_valid")),
        sa.CheckConstraint("ST_SRID(geom) = 4326", name=op.f("ck_patrol_track_geom_srid")),
        sa.CheckConstraint("ended_at >= started_at", name=op.f("ck_patrol_track_period")),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["grid_worker.id"], name=op.f("fk_patrol_track_worker_id_grid_worker")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_track")),
        sa.UniqueConstraint("checksum", name=op.f("uq_patrol_track_checksum")),
    )
    op.create_geospatial_index(
        "ix_patrol_track_geom",
        "patrol_track",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "ix_patrol_track_worker_id_started_at",
        "patrol_track",
        ["worker_id", "started_at"],
        unique=False,
    )
    op.create_table(
        "patrol_visit",
        sa.Column("h3_cell", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("worker_id", sa.BigInteger(), nullable=False),
        sa.Column("grid_unit_id", sa.BigInteger(), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pass_count", sa.Integer(), nullable=False),
        sa.CheckConstraint("last_seen >= first_seen", name=op.f("ck_patrol_visit_period")),
        sa.CheckConstraint("pass_count > 0", name=op.f("ck_patrol_visit_pass_count")),
        sa.ForeignKeyConstraint(
            ["grid_unit_id"],
            ["admin_unit.id"],
            name=op.f("fk_patrol_visit_grid_unit_id_admin_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["grid_worker.id"], name=op.f("fk_patrol_visit_worker_id_grid_worker")
        ),
        sa.PrimaryKeyConstraint("h3_cell", "day", "worker_id", name=op.f("pk_patrol_visit")),
    )
    op.create_index(
        "ix_patrol_visit_grid_unit_id_day", "patrol_visit", ["grid_unit_id", "day"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_patrol_visit_grid_unit_id_day", table_name="patrol_visit")
    op.drop_table("patrol_visit")
    op.drop_index("ix_patrol_track_worker_id_started_at", table_name="patrol_track")
    op.drop_geospatial_index(
        "ix_patrol_track_geom",
        table_name="patrol_track",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("patrol_track")
    op.drop_index("ix_incident_reported_at", table_name="incident")
    op.drop_index("ix_incident_h3_cell", table_name="incident")
    op.drop_index("ix_incident_grid_unit_id", table_name="incident")
    op.drop_geospatial_index(
        "ix_incident_geom", table_name="incident", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("incident")
    op.drop_index(
        "uq_grid_assignment_live",
        table_name="grid_assignment",
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.drop_index("ix_grid_assignment_unit_id", table_name="grid_assignment")
    op.drop_table("grid_assignment")
    op.drop_index(
        "uq_admin_unit_version_live_unit",
        table_name="admin_unit_version",
        postgresql_where=sa.text("valid_from IS NOT NULL AND valid_to IS NULL"),
    )
    op.drop_index(
        "uq_admin_unit_version_live_code",
        table_name="admin_unit_version",
        postgresql_where=sa.text("valid_from IS NOT NULL AND valid_to IS NULL"),
    )
    op.drop_index("ix_admin_unit_version_unit_id", table_name="admin_unit_version")
    op.drop_index("ix_admin_unit_version_parent_unit_id", table_name="admin_unit_version")
    op.drop_geospatial_index(
        "ix_admin_unit_version_geom",
        table_name="admin_unit_version",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("admin_unit_version")
    op.drop_index(
        "uq_special_grid_live_code",
        table_name="special_grid",
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.drop_geospatial_index(
        "ix_special_grid_geom",
        table_name="special_grid",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("special_grid")
    op.drop_table("grid_worker")
    op.drop_geospatial_index(
        "ix_compound_geom", table_name="compound", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("compound")
    op.drop_table("boundary_set")
    op.drop_table("admin_unit")
