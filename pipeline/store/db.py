"""Opening the database: SQLite under the data dir by default, PostgreSQL by URL.

Every failure to open or use it becomes one `StorageError` whose message says what went
wrong and what to do, with the URL's password masked and no traceback text.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from pipeline.errors import StorageError
from pipeline.store.schema import ensure_schema

DB_FILENAME = "trafficcam.db"
BUSY_TIMEOUT_S = 30
"""How long an SQLite writer waits for another process's transaction before giving up."""
CONNECT_TIMEOUT_S = 10
"""How long to wait for a PostgreSQL server to answer before saying it is unreachable."""

_URL_HELP = (
    "Expected e.g. postgresql+psycopg://USER:PASSWORD@HOST:5432/DBNAME or sqlite:///PATH/trafficcam.db; "
    "set it with --db or TRAFFICCAM_DATABASE_URL."
)
_UNREACHABLE = (
    "connection refused",
    "timeout",
    "timed out",
    "resolve host",
    "could not translate host",
    "name or service not known",
    "no route to host",
    "network is unreachable",
    "server closed the connection",
    "connection failed",
    "connection attempts failed",
)


class Database:
    """An open database and the data dir its evidence paths are relative to."""

    def __init__(self, engine: Engine, data_dir: Path) -> None:
        self.engine = engine
        self.data_dir = data_dir

    @property
    def url(self) -> str:
        """The database URL with its password masked, safe to log."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on error.

        Raises:
            StorageError: the database failed (unreachable, locked, full, ...).
            sqlalchemy.exc.IntegrityError: a constraint refused a row; left to the repository,
                which knows what a duplicate means.
        """
        try:
            with Session(self.engine) as s, s.begin():
                yield s
        except IntegrityError:
            raise
        except DBAPIError as exc:
            raise StorageError(explain_failure(exc, self.engine.url)) from exc

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({self.url!r}, data_dir={str(self.data_dir)!r})"


def open_database(url: str | None, data_dir: Path, *, check_schema: bool = True) -> Database:
    """Open the database, creating the data dir if needed and the schema of an empty database.

    Args:
        url: SQLAlchemy URL (``postgresql+psycopg://...``, ``sqlite:///...``); None or empty
            means SQLite at ``<data_dir>/trafficcam.db``.
        data_dir: where evidence (and the default SQLite file) lives.
        check_schema: run the migrations of an empty database and refuse one at another
            revision (`pipeline.store.schema.ensure_schema`); False for ``trafficcam db``,
            which inspects and upgrades.

    Raises:
        SchemaError: the database is older or newer than this code (see its message).
        StorageError: the data dir is not writable, the URL is invalid, the driver is
            missing, the server cannot be reached or refuses the login.
    """
    data_dir = Path(data_dir)
    _prepare_data_dir(data_dir)
    parsed = _parse_url(url, data_dir)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        _claim_sqlite_file(Path(parsed.database))
    engine = _create_engine(parsed)
    try:
        if check_schema:
            ensure_schema(engine, parsed.render_as_string(hide_password=True))
        else:
            with engine.connect():  # reachable, logged in: say so now rather than in the first query
                pass
    except (DBAPIError, engine.dialect.loaded_dbapi.Error) as exc:
        engine.dispose()
        raise StorageError(explain_failure(exc, parsed)) from exc
    except StorageError:
        engine.dispose()
        raise
    return Database(engine, data_dir)


SQLITE_HEADER = b"SQLite format 3\x00"
MAX_SHOWN = 10
"""Integrity findings listed one by one; a badly damaged file has thousands."""


def _claim_sqlite_file(path: Path) -> None:
    """Refuse an existing file that cannot be a trafficcam database; create a new one with its header.

    SQLite takes a 0-byte file for a new, empty database, and `ensure_schema` would then build
    a fresh schema in it: a database truncated by a crash or a careless copy would be replaced
    without a word, its records gone and its evidence orphaned. A new database is created here,
    under the migration lock, with its header written at once, so a second process starting
    beside this one never sees the new file at 0 bytes.

    Raises:
        StorageError: the file is empty, not an SQLite database, or unreadable.
    """
    from pipeline.store.schema import migration_lock

    if not path.parent.is_dir():
        return  # the engine's own error says which directory is missing
    try:
        if not path.exists() or path.stat().st_size == 0:
            with migration_lock(str(path)):  # the file may be new, its header on its way: wait for it
                if not path.exists():
                    conn = sqlite3.connect(path)
                    conn.execute("PRAGMA journal_mode = WAL")  # writes the header (page 1)
                    conn.close()
                    return
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except (OSError, sqlite3.Error) as exc:
        raise StorageError(f"Cannot read the SQLite database {path}: {getattr(exc, 'strerror', None) or exc}. "
                           "Check its permissions, or choose another --data-dir / --db.") from exc  # fmt: skip
    if not header:
        raise StorageError(
            f"{path} exists but is empty (0 bytes): it is not a trafficcam database, and trafficcam will not "
            "start a new one over it (was it truncated? restore it from a backup). To start afresh, move it aside."
        )
    if header != SQLITE_HEADER:
        raise StorageError(
            f"{path} is not an SQLite database (it starts with {header[:8]!r}): trafficcam will not replace it. "
            "Restore the database from a backup, or move the file aside to start afresh."
        )


def integrity_problems(db: Database) -> list[str]:
    """The database's own consistency check: SQLite's ``PRAGMA integrity_check`` (every page and
    index), on PostgreSQL a full read of every table. Empty when all is well.

    Audits run it first: a hash chain read from corrupted pages proves nothing."""
    from sqlalchemy import inspect, text

    try:
        with db.engine.connect() as conn:
            if db.dialect == "sqlite":
                rows = [str(r[0]) for r in conn.execute(text("PRAGMA integrity_check(100)"))]
                if rows == ["ok"]:
                    return []
                lines = [line for r in rows for line in r.splitlines() if line.strip() and "***" not in line]
                return [f"SQLite integrity check failed: {line}" for line in lines[:MAX_SHOWN]] + (
                    [f"... and {len(lines) - MAX_SHOWN} more"] if len(lines) > MAX_SHOWN else []
                )
            problems = []
            for table in inspect(conn).get_table_names():
                try:
                    with conn.begin_nested():
                        conn.execute(text(f'SELECT * FROM "{table}"')).fetchall()
                except DBAPIError as exc:
                    problems.append(f"table {table} cannot be read: {failure_reason(exc, db.engine.url)}")
            return problems
    except DBAPIError as exc:
        return [f"the database cannot be read: {failure_reason(exc, db.engine.url)}"]


def mask_url(raw: str) -> str:
    """`raw` with the password (between ``user:`` and ``@``) replaced by ``***``."""
    scheme, sep, rest = raw.partition("://")
    at = rest.rfind("@")
    if not sep or at == -1:
        return raw
    user, colon, _ = rest[:at].partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{rest[at + 1 :]}"


def explain_failure(exc: BaseException, url: URL | str) -> str:
    """One clear line for a database failure: what happened, where, and what to do."""
    url = make_url(url)
    reason = failure_reason(exc, url)
    low = reason.lower()
    if url.get_backend_name() == "sqlite":
        return _explain_sqlite(reason, low, url.database or ":memory:")
    where = url.render_as_string(hide_password=True)
    if "authentication failed" in low or "no password supplied" in low or ("role" in low and "does not exist" in low):
        return (
            f"Cannot log in to the database at {where}: {reason}. "
            "Check the user name and password in --db / TRAFFICCAM_DATABASE_URL."
        )
    if "database" in low and "does not exist" in low:
        return (
            f"The database {url.database!r} does not exist on {url.host}:{url.port or 5432}. "
            f"Create it (createdb {url.database}) or fix the name in --db / TRAFFICCAM_DATABASE_URL."
        )
    if any(s in low for s in _UNREACHABLE):
        return (
            f"Cannot reach the database server at {url.host}:{url.port or 5432}: {reason}. "
            "Check that PostgreSQL is running there and that host and port in --db / "
            "TRAFFICCAM_DATABASE_URL are right."
        )
    return f"Database error at {where}: {reason}. Check --db / TRAFFICCAM_DATABASE_URL and the server's log."


def _explain_sqlite(reason: str, low: str, path: str) -> str:
    if "unable to open database file" in low:
        return (
            f"Cannot open the SQLite database {path}: {reason}. Check that its directory exists and is "
            "writable, or choose another --data-dir / TRAFFICCAM_DATA_DIR."
        )
    if "not a database" in low:
        return f"{path} is not an SQLite database ({reason}). Move it aside, or choose another --data-dir."
    if "readonly" in low or "read-only" in low:
        return (
            f"The SQLite database {path} is read-only ({reason}). Make the file and its directory "
            "writable, or choose another --data-dir."
        )
    if "locked" in low or "busy" in low:
        return (
            f"The SQLite database {path} stayed locked for over {BUSY_TIMEOUT_S} s ({reason}): another "
            "process holds it. Stop that process, or use PostgreSQL (--db) for several processes."
        )
    if "disk" in low and "full" in low:
        return f"The disk holding {path} is full ({reason}). Free space or choose another --data-dir."
    return f"SQLite database error at {path}: {reason}."


def failure_reason(exc: BaseException, url: URL | str) -> str:
    """The driver's own first line, without connection boilerplate or the URL's password."""
    password = make_url(url).password
    text = str(getattr(exc, "orig", None) or exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    first = first.rsplit(" failed: ", 1)[-1].removeprefix("FATAL:").strip()
    if password:
        first = first.replace(password, "***")
    return first.rstrip(".")


def _prepare_data_dir(data_dir: Path) -> None:
    """Create `data_dir` and prove a file can be written there."""
    try:
        if data_dir.exists() and not data_dir.is_dir():
            raise NotADirectoryError(20, "it is a file, not a directory")
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=data_dir, prefix=".write-test-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StorageError(
            f"Cannot use the data directory {data_dir}: {reason}. "
            "Choose a writable directory with --data-dir or TRAFFICCAM_DATA_DIR."
        ) from exc


def _parse_url(raw: str | None, data_dir: Path) -> URL:
    if raw is None or not raw.strip():  # an empty TRAFFICCAM_DATABASE_URL= means "not set"
        return URL.create("sqlite+pysqlite", database=str(data_dir / DB_FILENAME))
    try:
        url = make_url(raw.strip())
    except (ArgumentError, ValueError) as exc:
        raise StorageError(f"The database URL {mask_url(raw)!r} is not valid. {_URL_HELP}") from exc
    if url.drivername in ("postgres", "postgresql"):
        # psycopg 3 is the project's driver; SQLAlchemy 2.0 alone would pick psycopg2.
        url = url.set(drivername="postgresql+psycopg")
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StorageError(
            f"The database URL {url.render_as_string(hide_password=True)!r} names {backend!r}; "
            f"trafficcam supports sqlite and postgresql. {_URL_HELP}"
        )
    if backend == "postgresql" and not url.database:
        raise StorageError(
            f"The database URL {url.render_as_string(hide_password=True)!r} names no database. {_URL_HELP}"
        )
    return url


def _create_engine(url: URL) -> Engine:
    kwargs: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            # One shared connection, so every session and thread sees the same in-memory database.
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_S}
    else:
        kwargs["pool_pre_ping"] = True
        if "connect_timeout" not in url.query:
            kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    try:
        engine = create_engine(url, **kwargs)
    except ImportError as exc:
        raise StorageError(
            f"The database driver for {url.drivername} is not installed ({exc}). "
            "For PostgreSQL: pip install 'psycopg[binary]' and use a postgresql+psycopg:// URL."
        ) from exc
    except (ArgumentError, TypeError) as exc:
        raise StorageError(
            f"The database URL {url.render_as_string(hide_password=True)!r} is not valid ({exc}). {_URL_HELP}"
        ) from exc
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """Per-connection SQLite settings: enforce foreign keys, wait on locks, WAL journal."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA foreign_keys = ON")
        _switch_to_wal(cursor)
    finally:
        cursor.close()


def _switch_to_wal(cursor: Any, timeout_s: float = BUSY_TIMEOUT_S) -> None:
    """``PRAGMA journal_mode = WAL``, retried while the database is locked, for up to `timeout_s`.

    The switch (a no-op once a database is in WAL mode, which persists in the file) needs an
    exclusive lock. When several connections open a new database at once, SQLite can answer
    "database is locked" at once, without waiting on busy_timeout, to break a lock cycle between
    them; a daemon starting beside another must wait its turn instead of failing.
    """
    deadline = time.monotonic() + timeout_s
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")  # an in-memory database answers 'memory'
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
