"""Scene versions.

Each save of a camera's scene is a new row of `scene_versions` (YAML, hash, reference frame,
who, when, note); a run records the version it judged by in `runs.scene_version_id`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scene_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("yaml_text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("reference_path", sa.Text(), nullable=True),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], name=op.f("fk_scene_versions_camera_id_cameras")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scene_versions")),
        sa.UniqueConstraint("camera_id", "version", name=op.f("uq_scene_versions_camera_id_version")),
    )
    op.create_index(
        op.f("ix_scene_versions_camera_id_sha256"), "scene_versions", ["camera_id", "sha256"], unique=False
    )
    # SQLite cannot add a constraint to an existing table: batch mode rebuilds `runs` there
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("scene_version_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_runs_scene_version_id_scene_versions"), "scene_versions", ["scene_version_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint(op.f("fk_runs_scene_version_id_scene_versions"), type_="foreignkey")
        batch.drop_column("scene_version_id")
    op.drop_index(op.f("ix_scene_versions_camera_id_sha256"), table_name="scene_versions")
    op.drop_table("scene_versions")
