"""Aliases for the forward geocoder: other names of units, special grids, compounds.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 15:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "place_alias",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("alias", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("length(btrim(alias)) > 0", name=op.f("ck_place_alias_alias")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place_alias")),
        sa.UniqueConstraint("target", "alias", name=op.f("uq_place_alias_target_alias")),
    )


def downgrade() -> None:
    op.drop_table("place_alias")
