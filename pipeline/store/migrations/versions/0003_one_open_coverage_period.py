"""One open coverage period per camera.

A partial unique index: two open periods for one camera would mean two instances watching it.
Periods a crashed daemon left open beside a newer one are closed at their last sign of life
first, so an existing database can take the index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OPEN = sa.text("ended_at IS NULL")


def upgrade() -> None:
    op.execute(
        "UPDATE coverage SET ended_at = last_seen_at WHERE ended_at IS NULL AND id NOT IN "
        "(SELECT max(id) FROM coverage WHERE ended_at IS NULL GROUP BY camera_id)"
    )
    op.create_index(
        "uq_coverage_open_camera_id", "coverage", ["camera_id"], unique=True, sqlite_where=OPEN, postgresql_where=OPEN
    )


def downgrade() -> None:
    op.drop_index("uq_coverage_open_camera_id", table_name="coverage")
