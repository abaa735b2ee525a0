"""Plate readings: the reader's suggestion per violation, the plate crop as evidence, parking.

A `plate_readings` table (one row per violation); evidence kind `plate` (the plate crop) and
review decision `park` (pending with a flag: the plate is unreadable) join their CHECK lists.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

KINDS = ("before", "during", "after", "vehicle", "clip", "clip_marked")  # as 0004 left them
DECISIONS = ("confirm", "reject", "correct_plate")


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=op.f(name), native_enum=False, create_constraint=True, length=32)


def _widen(table: str, column: str, name: str, old: tuple[str, ...], new: tuple[str, ...]) -> None:
    """Replace the column's CHECK list (SQLite: by copying the table, as batch mode does)."""
    with op.batch_alter_table(table) as batch:
        batch.alter_column(column, existing_type=_enum(old, name), type_=_enum(new, name), existing_nullable=False)


def upgrade() -> None:
    op.create_table(
        "plate_readings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("violation_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("format_valid", sa.Boolean(), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("frames_tried", sa.Integer(), nullable=False),
        sa.Column("frames_read", sa.Integer(), nullable=False),
        sa.Column("frames_agreeing", sa.Integer(), nullable=False),
        sa.Column("read_ms", sa.Double(), nullable=False),
        sa.Column("engine", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["violation_id"], ["violations.id"], name=op.f("fk_plate_readings_violation_id_violations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plate_readings")),
        sa.UniqueConstraint("violation_id", name=op.f("uq_plate_readings_violation_id")),
    )
    _widen("evidence", "kind", "ck_evidence_evidence_kind", KINDS, (*KINDS, "plate"))
    _widen("reviews", "decision", "ck_reviews_review_decision", DECISIONS, (*DECISIONS, "park"))


def downgrade() -> None:
    # plate crops are evidence and park entries are links of the hash-chained log: never drop them
    bind = op.get_bind()
    for what, query in (
        ("plate evidence files", "SELECT count(*) FROM evidence WHERE kind = 'plate'"),
        ("'park' review entries", "SELECT count(*) FROM reviews WHERE decision = 'park'"),
    ):
        if count := bind.execute(sa.text(query)).scalar_one():
            raise RuntimeError(f"cannot downgrade below 0006: {count} {what} would be lost")
    _widen("evidence", "kind", "ck_evidence_evidence_kind", (*KINDS, "plate"), KINDS)
    _widen("reviews", "decision", "ck_reviews_review_decision", (*DECISIONS, "park"), DECISIONS)
    op.drop_table("plate_readings")
