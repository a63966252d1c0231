"""Registers from ledgers and the unowned-compound campaign: compound_location,
compound_governance, ledger_unplaced.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "compound_location",
        sa.Column("compound_id", sa.BigInteger(), nullable=False),
        sa.Column("located_by", sa.Text(), nullable=False),
        sa.Column("crs_in", sa.Text(), nullable=True),
        sa.Column("match_score", sa.Float(), nullable=True),
        sa.Column("matched", sa.Text(), nullable=True),
        sa.Column("grid_unit_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "located_by IN ('coordinates', 'address', 'manual', 'map')",
            name=op.f("ck_compound_location_located_by"),
        ),
        sa.CheckConstraint(
            "match_score IS NULL OR match_score BETWEEN 0 AND 100",
            name=op.f("ck_compound_location_score"),
        ),
        sa.ForeignKeyConstraint(
            ["compound_id"],
            ["compound.id"],
            name=op.f("fk_compound_location_compound_id_compound"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["grid_unit_id"],
            ["admin_unit.id"],
            name=op.f("fk_compound_location_grid_unit_id_admin_unit"),
        ),
        sa.PrimaryKeyConstraint("compound_id", name=op.f("pk_compound_location")),
    )
    op.create_index("ix_compound_location_grid_unit_id", "compound_location", ["grid_unit_id"])
    op.create_table(
        "compound_governance",
        sa.Column("compound_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "issues",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        sa.Column("mode", sa.Text(), nullable=True),
        sa.Column(
            "committee_formed", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column(
            "works",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("struck_off_on", sa.Date(), nullable=True),
        sa.Column("verified_by", sa.Text(), nullable=True),
        sa.Column("updated_by", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "mode IS NULL OR mode IN ('professional', 'community', 'self_governed')",
            name=op.f("ck_compound_governance_mode"),
        ),
        sa.CheckConstraint(
            "struck_off_on IS NULL OR (mode IS NOT NULL AND verified_by IS NOT NULL)",
            name=op.f("ck_compound_governance_struck_off"),
        ),
        sa.ForeignKeyConstraint(
            ["compound_id"],
            ["compound.id"],
            name=op.f("fk_compound_governance_compound_id_compound"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("compound_id", name=op.f("pk_compound_governance")),
    )
    op.create_table(
        "ledger_unplaced",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("record", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("ledger", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_unplaced")),
        sa.UniqueConstraint("source_key", name=op.f("uq_ledger_unplaced_source_key")),
    )


def downgrade() -> None:
    op.drop_table("ledger_unplaced")
    op.drop_table("compound_governance")
    op.drop_index("ix_compound_location_grid_unit_id", table_name="compound_location")
    op.drop_table("compound_location")
