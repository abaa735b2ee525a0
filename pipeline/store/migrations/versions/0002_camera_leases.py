"""Camera leases.

Several `trafficcam watch` instances share one camera list.

`instances` holds each live daemon's heartbeat, `camera_leases` which one processes a camera.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "camera_leases",
        sa.Column("camera_id", sa.String(length=100), nullable=False),
        sa.Column("instance", sa.String(length=200), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", name=op.f("pk_camera_leases")),
    )
    op.create_index(op.f("ix_camera_leases_instance"), "camera_leases", ["instance"], unique=False)
    op.create_table(
        "instances",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("http", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instances")),
    )


def downgrade() -> None:
    op.drop_table("instances")
    op.drop_index(op.f("ix_camera_leases_instance"), table_name="camera_leases")
    op.drop_table("camera_leases")
