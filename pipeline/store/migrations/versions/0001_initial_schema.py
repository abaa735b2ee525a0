"""Initial schema.

Cameras, runs, violations, evidence, reviews, users, coverage.

The tables trafficcam created with create_all before it had migrations; `trafficcam db upgrade`
stamps such a database with this revision.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cameras",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "reviewer",
                "admin",
                name=op.f("ck_users_user_role"),
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "coverage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enforcing", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("instance", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], name=op.f("fk_coverage_camera_id_cameras")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage")),
    )
    op.create_index(op.f("ix_coverage_camera_id_started_at"), "coverage", ["camera_id", "started_at"], unique=False)
    op.create_index(op.f("ix_coverage_ended_at"), "coverage", ["ended_at"], unique=False)
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.String(length=100), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "finished",
                "failed",
                "interrupted",
                name=op.f("ck_runs_run_status"),
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.Column("scene_sha256", sa.String(length=64), nullable=False),
        sa.Column("settings_json", sa.Text(), nullable=False),
        sa.Column("settings_hash", sa.String(length=64), nullable=False),
        sa.Column("software_version", sa.String(length=64), nullable=False),
        sa.Column("frames_read", sa.Integer(), nullable=False),
        sa.Column("frames_analysed", sa.Integer(), nullable=False),
        sa.Column("frames_dropped", sa.Integer(), nullable=False),
        sa.Column("frames_expected", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], name=op.f("fk_runs_camera_id_cameras")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_index(op.f("ix_runs_camera_id_started_at"), "runs", ["camera_id", "started_at"], unique=False)
    op.create_table(
        "violations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("camera_id", sa.String(length=100), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("where_id", sa.String(length=100), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("frame_index", sa.Integer(), nullable=False),
        sa.Column("time_s", sa.Double(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signal_id", sa.String(length=100), nullable=True),
        sa.Column("signal_colour", sa.String(length=16), nullable=True),
        sa.Column("seconds_into_colour", sa.Double(), nullable=True),
        sa.Column("x1", sa.Double(), nullable=False),
        sa.Column("y1", sa.Double(), nullable=False),
        sa.Column("x2", sa.Double(), nullable=False),
        sa.Column("y2", sa.Double(), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("details_json", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "confirmed",
                "rejected",
                name=op.f("ck_violations_violation_status"),
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("plate_text", sa.String(length=32), nullable=True),
        sa.Column("evidence_removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evidence_note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], name=op.f("fk_violations_camera_id_cameras")),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_violations_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_violations")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_violations_dedup_key")),
        sa.UniqueConstraint("public_id", name=op.f("uq_violations_public_id")),
    )
    op.create_index(
        op.f("ix_violations_camera_id_occurred_at"), "violations", ["camera_id", "occurred_at"], unique=False
    )
    op.create_index(op.f("ix_violations_run_id"), "violations", ["run_id"], unique=False)
    op.create_index(op.f("ix_violations_status_occurred_at"), "violations", ["status", "occurred_at"], unique=False)
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("violation_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "before",
                "during",
                "after",
                "vehicle",
                "clip",
                name=op.f("ck_evidence_evidence_kind"),
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("mime", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["violation_id"], ["violations.id"], name=op.f("fk_evidence_violation_id_violations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
        sa.UniqueConstraint("violation_id", "kind", name=op.f("uq_evidence_violation_id_kind")),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("violation_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=100), nullable=False),
        sa.Column(
            "decision",
            sa.Enum(
                "confirm",
                "reject",
                "correct_plate",
                name=op.f("ck_reviews_review_decision"),
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("plate_text", sa.String(length=32), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["violation_id"], ["violations.id"], name=op.f("fk_reviews_violation_id_violations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint("entry_hash", name=op.f("uq_reviews_entry_hash")),
    )
    op.create_index(op.f("ix_reviews_prev_hash"), "reviews", ["prev_hash"], unique=True)
    op.create_index(op.f("ix_reviews_violation_id_decided_at"), "reviews", ["violation_id", "decided_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_reviews_violation_id_decided_at"), table_name="reviews")
    op.drop_index(op.f("ix_reviews_prev_hash"), table_name="reviews")
    op.drop_table("reviews")
    op.drop_table("evidence")
    op.drop_index(op.f("ix_violations_status_occurred_at"), table_name="violations")
    op.drop_index(op.f("ix_violations_run_id"), table_name="violations")
    op.drop_index(op.f("ix_violations_camera_id_occurred_at"), table_name="violations")
    op.drop_table("violations")
    op.drop_index(op.f("ix_runs_camera_id_started_at"), table_name="runs")
    op.drop_table("runs")
    op.drop_index(op.f("ix_coverage_ended_at"), table_name="coverage")
    op.drop_index(op.f("ix_coverage_camera_id_started_at"), table_name="coverage")
    op.drop_table("coverage")
    op.drop_table("users")
    op.drop_table("cameras")
