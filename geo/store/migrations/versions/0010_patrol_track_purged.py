"""Checksums of purged patrol tracks, so a re-upload of purged fixes stores nothing.

Tracks are deduplicated by the checksum of their cleaned fixes. The purge deletes the
track rows (the GPS trail is personal data) but keeps their visits; without the
checksum, uploading the same old fixes again stored the track anew and added its
passes to the visits a second time. A checksum is a one-way hash: it keeps no trail.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patrol_track_purged",
        sa.Column("checksum", sa.Text(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "purged_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("checksum", name=op.f("pk_patrol_track_purged")),
    )


def downgrade() -> None:
    op.drop_table("patrol_track_purged")
