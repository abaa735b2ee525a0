"""The time of the offence and its source, and sealed violations.

runs: when frame 0 was recorded, where that time came from, the camera's zone and site (address,
GPS, direction of travel, offence codes). violations: the source of their time, and whether the
signal's colour began within the video. violation_seals: one signed, chained seal per violation.
Rows made before this revision used the processing clock: their source is "run_clock".

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("time_source", sa.String(length=32), server_default="run_clock", nullable=False))
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("site_json", sa.Text(), nullable=True))
    with op.batch_alter_table("violations") as batch:
        batch.add_column(sa.Column("time_source", sa.String(length=32), server_default="run_clock", nullable=False))
        batch.add_column(sa.Column("colour_onset_seen", sa.Boolean(), nullable=True))
    op.create_table(
        "violation_seals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("violation_id", sa.Integer(), nullable=False),
        sa.Column("content_json", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("seal_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["violation_id"], ["violations.id"], name=op.f("fk_violation_seals_violation_id_violations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_violation_seals")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_violation_seals_prev_hash")),
        sa.UniqueConstraint("seal_hash", name=op.f("uq_violation_seals_seal_hash")),
        sa.UniqueConstraint("violation_id", name=op.f("uq_violation_seals_violation_id")),
    )


def downgrade() -> None:
    op.drop_table("violation_seals")
    with op.batch_alter_table("violations") as batch:
        batch.drop_column("colour_onset_seen")
        batch.drop_column("time_source")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("site_json")
        batch.drop_column("timezone")
        batch.drop_column("time_source")
        batch.drop_column("recorded_at")
