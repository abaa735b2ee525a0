"""The operator role, and which version a scene roll-back restored.

`operator` joins the CHECK list of `users.role` (a reviewer who may also draw the cameras'
scenes); `scene_versions.restored_from` is the version a roll-back repeated (None for a save), so
the review log can show a roll-back as one.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ROLES = ("reviewer", "admin")
ROLE_CHECK = "ck_users_user_role"


def _roles(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=op.f(ROLE_CHECK), native_enum=False, create_constraint=True, length=32)


def _set_roles(old: tuple[str, ...], new: tuple[str, ...]) -> None:
    """Replace the role column's CHECK list (SQLite: by copying the table, as batch mode does)."""
    with op.batch_alter_table("users") as batch:
        batch.alter_column("role", existing_type=_roles(old), type_=_roles(new), existing_nullable=False)


def upgrade() -> None:
    _set_roles(ROLES, (*ROLES, "operator"))
    with op.batch_alter_table("scene_versions") as batch:
        batch.add_column(sa.Column("restored_from", sa.Integer(), nullable=True))


def downgrade() -> None:
    # turning an operator into a reviewer or an admin would take or give rights silently
    count = op.get_bind().execute(sa.text("SELECT count(*) FROM users WHERE role = 'operator'")).scalar_one()
    if count:
        raise RuntimeError(
            f"cannot downgrade below 0009: {count} user(s) have the role 'operator', "
            "which the older schema does not know"
        )
    with op.batch_alter_table("scene_versions") as batch:
        batch.drop_column("restored_from")
    _set_roles((*ROLES, "operator"), ROLES)
