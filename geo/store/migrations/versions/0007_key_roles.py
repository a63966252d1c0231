"""Roles on API keys: app, planner, supervisor, grid worker (and whose key it is).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 15:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_key", sa.Column("role", sa.Text(), server_default="app", nullable=False))
    op.add_column("api_key", sa.Column("worker_code", sa.Text(), nullable=True))
    op.create_check_constraint(
        "ck_api_key_role", "api_key", "role IN ('app', 'planner', 'supervisor', 'grid_worker')"
    )
    op.create_check_constraint(
        "ck_api_key_worker", "api_key", "(role = 'grid_worker') = (worker_code IS NOT NULL)"
    )


def downgrade() -> None:
    op.drop_constraint("ck_api_key_worker", "api_key", type_="check")
    op.drop_constraint("ck_api_key_role", "api_key", type_="check")
    op.drop_column("api_key", "worker_code")
    op.drop_column("api_key", "role")
