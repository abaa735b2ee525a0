"""Server-side review sessions, and the marked evidence clip.

The review app's cookie carries only a random token; this table says whose it is, when it was
last used, when it expires and whether it was ended (logout, a new password, a disabled user).
Evidence gets a sixth kind, `clip_marked` (the clip with the vehicle's box and path drawn).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


OLD_KINDS = ("before", "during", "after", "vehicle", "clip")
NEW_KINDS = (*OLD_KINDS, "clip_marked")
KIND_CHECK = "ck_evidence_evidence_kind"


def _kinds(kinds: tuple[str, ...]) -> None:
    """Let the evidence kind column take `kinds` (SQLite cannot alter a CHECK: batch mode copies the table)."""
    with op.batch_alter_table("evidence", recreate="auto") as batch:
        batch.drop_constraint(op.f(KIND_CHECK), type_="check")
        batch.create_check_constraint(op.f(KIND_CHECK), sa.column("kind").in_(kinds))


def upgrade() -> None:
    _kinds(NEW_KINDS)
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(length=100), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_user_id"), "sessions", ["user_id"], unique=False)


def downgrade() -> None:
    op.execute("DELETE FROM evidence WHERE kind = 'clip_marked'")  # the files stay on disk
    _kinds(OLD_KINDS)
    op.drop_index(op.f("ix_sessions_user_id"), table_name="sessions")
    op.drop_table("sessions")
