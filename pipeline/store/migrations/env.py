"""Alembic environment: run migrations on the connection `pipeline.store.schema` hands over.

trafficcam never reads an alembic.ini: `pipeline.store.schema.upgrade` builds the Alembic config
in code and passes an open connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from pipeline.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
