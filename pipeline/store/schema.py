"""Schema versions: Alembic migrations create and upgrade the tables, on SQLite and PostgreSQL.

`open_database` creates the schema of an empty database by running every migration, and
refuses, with one clear message, a database whose revision is older than this code's head
(run ``trafficcam db upgrade``) or unknown to it (written by a newer trafficcam). A database
made by trafficcam before it had migrations (tables, no ``alembic_version``) is recognised and
stamped with the first revision by `upgrade`.

Two processes that start on the same empty database at once migrate one after the other:
PostgreSQL serialises them with an advisory lock, SQLite with a lock file beside the database.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from pipeline.errors import SchemaError

MIGRATIONS = Path(__file__).with_name("migrations")
FIRST_REVISION = "0001"
LEGACY_TABLES = frozenset({"cameras", "runs", "violations", "evidence", "reviews", "users", "coverage"})
"""The tables of revision 0001, which trafficcam made with create_all before it had migrations."""
_PG_LOCK_KEY = 0x7472_6166_6663  # "traffc": one advisory lock id for trafficcam's migrations


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Where a database's schema stands against this code."""

    current: str | None
    """Its Alembic revision; None when it has none (empty, or made before migrations)."""
    head: str
    tables: frozenset[str]

    @property
    def empty(self) -> bool:
        return self.current is None and not (self.tables - {"alembic_version"})

    @property
    def legacy(self) -> bool:
        """Made by create_all before migrations existed: revision 0001's tables, no revision."""
        return self.current is None and LEGACY_TABLES <= self.tables

    @property
    def known(self) -> bool:
        return self.current is None or self.current in revisions()

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config built in code (no alembic.ini) that migrates `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this code knows."""
    head = _scripts().get_current_head()
    assert head is not None, "no migrations in pipeline/store/migrations"
    return head


@cache
def revisions() -> tuple[str, ...]:
    """Every revision this code knows, oldest first."""
    return tuple(reversed([s.revision for s in _scripts().walk_revisions()]))


def describe(revision: str | None) -> str:
    """``0002 (camera leases)``: a revision and the first line of its message."""
    if revision is None:
        return "none"
    script = _scripts().get_revision(revision) if revision in revisions() else None
    doc = (script.doc or "").splitlines()[0].rstrip(".") if script is not None and script.doc else ""
    return f"{revision} ({doc})" if doc else revision


def schema_state(connection: Connection) -> SchemaState:
    """The revision and tables of the database behind `connection`."""
    current = MigrationContext.configure(connection).get_current_revision()
    return SchemaState(current, head_revision(), frozenset(inspect(connection).get_table_names()))


def ensure_schema(engine: Engine, where: str) -> SchemaState:
    """Create the schema of an empty database; refuse one that is not at this code's head.

    Args:
        engine: the database.
        where: the database, password masked, for messages.

    Raises:
        SchemaError: the database is older than the code, newer, or holds foreign tables.
    """
    with engine.connect() as conn:
        state = schema_state(conn)
    if state.up_to_date:
        return state
    if not state.empty:
        # Another process may be creating it right now: SQLite shows each new table (and each
        # revision) as it is made. Look again under the migration lock before judging.
        with _migrating(engine) as conn:
            state = schema_state(conn)
        if state.up_to_date:
            return state
        if not state.empty:
            raise SchemaError(mismatch_message(state, where))
    return upgrade(engine, where)[1]


def mismatch_message(state: SchemaState, where: str) -> str:
    """What is wrong with a database whose schema is not this code's head, and what to do."""
    if state.legacy:
        return (
            f"The database at {where} was made by a trafficcam without schema migrations. Run "
            f"`trafficcam db upgrade` with the same --db once (back it up first) to bring it to {describe(state.head)}."
        )
    if state.current is None:
        return (
            f"The database at {where} holds tables that are not trafficcam's "
            f"({', '.join(sorted(state.tables)[:5])}) and no schema revision. Point --db at an empty database "
            "or at one trafficcam created."
        )
    if not state.known:
        return (
            f"The database at {where} has schema revision {state.current}, which this trafficcam does not know "
            f"(its newest is {describe(state.head)}): a newer trafficcam upgraded it. Upgrade trafficcam, "
            "or use another database."
        )
    return (
        f"The database at {where} has schema revision {describe(state.current)}, older than this trafficcam needs: "
        f"{describe(state.head)}. Run `trafficcam db upgrade` with the same --db (back it up first)."
    )


def upgrade(engine: Engine, where: str, revision: str = "head") -> tuple[SchemaState, SchemaState]:
    """Migrate the database to `revision` (default: head); return its state before and after.

    A pre-migration database is stamped with the first revision, then upgraded.

    Raises:
        SchemaError: the database is newer than this code, or holds tables that are not trafficcam's.
    """
    with _migrating(engine) as conn:
        before = schema_state(conn)  # read under the lock: another process may just have migrated
        if not before.known or (before.current is None and not before.empty and not before.legacy):
            raise SchemaError(mismatch_message(before, where))
        config = alembic_config(conn)
        if before.legacy:
            command.stamp(config, FIRST_REVISION)
        command.upgrade(config, revision)
        after = schema_state(conn)
    return before, after


def downgrade(engine: Engine, where: str, revision: str) -> tuple[SchemaState, SchemaState]:
    """Migrate the database back to `revision` (``base`` removes every table)."""
    with _migrating(engine) as conn:
        before = schema_state(conn)
        if not before.known or before.current is None:
            raise SchemaError(mismatch_message(before, where) if not before.known else
                              f"The database at {where} has no schema revision to downgrade from.")  # fmt: skip
        command.downgrade(alembic_config(conn), revision)
        after = schema_state(conn)
    return before, after


@contextmanager
def migration_lock(database: str) -> Iterator[None]:
    """An exclusive lock on ``<database>.migrate-lock``: one process at a time creates or migrates
    the SQLite file `database` (released when the lock file closes)."""
    with open(f"{database}.migrate-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """A transaction that no other process migrates beside: a PostgreSQL advisory lock held to its
    end, or for a file-backed SQLite database an exclusive lock on ``<file>.migrate-lock``."""
    database = engine.url.database
    if engine.dialect.name == "sqlite":
        lock = migration_lock(database) if database not in (None, "", ":memory:") else nullcontext()
        with lock, engine.connect() as conn:
            # A batch migration copies a table and drops the old one; with foreign keys enforced
            # that fails once other rows point at it (runs, when 0007 adds a column to them).
            # SQLite ignores this PRAGMA inside a transaction: it is set before one begins.
            conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
            conn.commit()
            try:
                with conn.begin():  # unlocked after the commit
                    yield conn
            finally:
                conn.exec_driver_sql("PRAGMA foreign_keys = ON")
                conn.commit()
        return
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        yield conn
