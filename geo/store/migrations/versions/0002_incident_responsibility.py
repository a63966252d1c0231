"""Incident responsibility at intake: the responsible special grid by the precedence
rules, every special grid containing the point, and the CRS the point came in.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:29:28.612126
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "incident", sa.Column("responsible_kind", sa.Text(), server_default="grid", nullable=False)
    )
    op.add_column(
        "incident", sa.Column("responsible_special_grid_id", sa.BigInteger(), nullable=True)
    )
    op.add_column(
        "incident",
        sa.Column(
            "special_grid_ids",
            postgresql.ARRAY(sa.BigInteger()),
            server_default=sa.text("'{}'::bigint[]"),
            nullable=False,
        ),
    )
    op.add_column(
        "incident", sa.Column("crs_in", sa.Text(), server_default="wgs84", nullable=False)
    )
    op.create_foreign_key(
        op.f("fk_incident_responsible_special_grid_id_special_grid"),
        "incident",
        "special_grid",
        ["responsible_special_grid_id"],
        ["id"],
    )
    op.create_check_constraint(
        op.f("ck_incident_responsible_kind"),
        "incident",
        "responsible_kind IN ('grid', 'special_grid')",
    )
    op.create_check_constraint(
        op.f("ck_incident_crs_in"),
        "incident",
        "crs_in IN ('wgs84', 'gcj02', 'bd09', 'cgcs2000')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_incident_crs_in"), "incident", type_="check")
    op.drop_constraint(op.f("ck_incident_responsible_kind"), "incident", type_="check")
    op.drop_constraint(
        op.f("fk_incident_responsible_special_grid_id_special_grid"), "incident", type_="foreignkey"
    )
    op.drop_column("incident", "crs_in")
    op.drop_column("incident", "special_grid_ids")
    op.drop_column("incident", "responsible_special_grid_id")
    op.drop_column("incident", "responsible_kind")
