"""Incident lifecycle: assignee, the time the current level's limit started, and the
history of transitions (assign, escalate, close, reopen).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:32:00.705194
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_transition",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("from_status", sa.Text(), nullable=False),
        sa.Column("to_status", sa.Text(), nullable=False),
        sa.Column("from_level", sa.Text(), nullable=False),
        sa.Column("to_level", sa.Text(), nullable=False),
        sa.Column("assignee", sa.Text(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "action IN ('assign', 'escalate', 'close', 'reopen')",
            name=op.f("ck_incident_transition_action"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_transition_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_transition")),
    )
    op.create_index(
        "ix_incident_transition_incident_id_at",
        "incident_transition",
        ["incident_id", "at"],
        unique=False,
    )
    op.add_column("incident", sa.Column("assignee", sa.Text(), nullable=True))
    op.add_column(
        "incident",
        sa.Column(
            "level_since",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.add_column(
        "incident",
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    # Existing cases: their clock started when they were reported.
    op.execute("UPDATE incident SET level_since = reported_at, updated_at = created_at")


def downgrade() -> None:
    op.drop_column("incident", "updated_at")
    op.drop_column("incident", "level_since")
    op.drop_column("incident", "assignee")
    op.drop_index("ix_incident_transition_incident_id_at", table_name="incident_transition")
    op.drop_table("incident_transition")
