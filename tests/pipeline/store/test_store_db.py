"""Opening the database: tables, SQLite settings, and failures turned into one clear StorageError.

These tests are about SQLite, the embedded default, whatever --database chose; the same
failures on PostgreSQL are in test_store_postgres.py.
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from pipeline.errors import StorageError
from pipeline.store import Database, open_database
from pipeline.store.db import _configure_sqlite, _switch_to_wal, explain_failure, mask_url

TABLES = {"cameras", "runs", "violations", "evidence", "reviews", "users"}


def _pragma(db: Database, name: str) -> object:
    with db.engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    """An SQLite database, whatever --database chose."""
    with open_database(None, tmp_path / "data") as database:
        yield database


def test_default_is_sqlite_in_data_dir_with_all_tables(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    with open_database(None, data_dir) as db:
        assert db.dialect == "sqlite"
    path = data_dir / "trafficcam.db"
    assert path.is_file()
    with sqlite3.connect(path) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert TABLES <= tables


def test_sqlite_uses_wal_foreign_keys_and_busy_timeout(db: Database) -> None:
    assert _pragma(db, "journal_mode") == "wal"
    assert _pragma(db, "foreign_keys") == 1
    assert _pragma(db, "busy_timeout") == 30_000


class _LockedCursor:
    """Answers "database is locked" to the first `locked` statements, like SQLite breaking a lock cycle."""

    def __init__(self, locked: int, message: str = "database is locked") -> None:
        self.locked, self.message, self.statements = locked, message, 0

    def execute(self, sql: str) -> None:
        self.statements += 1
        if self.statements <= self.locked:
            raise sqlite3.OperationalError(self.message)


def test_switching_to_wal_waits_out_a_lock_answered_at_once() -> None:
    cursor = _LockedCursor(locked=3)
    _switch_to_wal(cursor, timeout_s=5)
    assert cursor.statements == 4


def test_switching_to_wal_gives_up_after_the_timeout_and_on_other_errors() -> None:
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _switch_to_wal(_LockedCursor(locked=10**6), timeout_s=0.05)
    other = _LockedCursor(locked=1, message="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _switch_to_wal(other, timeout_s=5)
    assert other.statements == 1


def test_connections_opening_a_new_database_together_all_get_wal(tmp_path: Path) -> None:
    # Without the retry, about one round in 300 failed at once with "database is locked".
    errors: list[BaseException] = []
    for round_ in range(150):
        path = tmp_path / f"{round_}.db"

        def connect(path: Path = path) -> None:
            try:
                conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
                _configure_sqlite(conn, None)
                conn.execute("SELECT name FROM sqlite_master").fetchall()
                conn.close()
            except sqlite3.Error as exc:
                errors.append(exc)

        threads = [threading.Thread(target=connect) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert errors == []


def test_opening_an_existing_database_again_keeps_it(tmp_path: Path) -> None:
    open_database(None, tmp_path).close()
    with open_database(None, tmp_path) as db:
        assert _pragma(db, "foreign_keys") == 1


def test_empty_url_means_the_default(tmp_path: Path) -> None:
    with open_database("  ", tmp_path) as db:
        assert db.url == f"sqlite+pysqlite:///{tmp_path / 'trafficcam.db'}"


def test_in_memory_url(tmp_path: Path) -> None:
    with open_database("sqlite://", tmp_path) as db, db.session() as s:
        assert s.connection().exec_driver_sql("SELECT count(*) FROM violations").scalar() == 0


def test_data_dir_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(StorageError) as err:
        open_database(None, blocker / "data")
    message = str(err.value)
    assert str(blocker / "data") in message
    assert "--data-dir" in message and "TRAFFICCAM_DATA_DIR" in message
    assert "Traceback" not in message and "\n" not in message


def test_data_dir_path_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("")
    with pytest.raises(StorageError, match="is a file, not a directory.*--data-dir"):
        open_database(None, blocker)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only directory")
def test_read_only_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(StorageError, match="Permission denied.*--data-dir"):
            open_database(None, tmp_path / "data")
    finally:
        tmp_path.chmod(0o700)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "is not valid"),  # no scheme at all
        ("mysql://tc:hunter22@db.example/tc", "supports sqlite and postgresql"),  # unsupported backend
        ("postgresql://tc:hunter22@db.example", "names no database"),  # no database name
        ("postgresql://tc:hunter22@db.example:port/tc", "is not valid"),  # port not a number
    ],
)
def test_bad_url_is_a_clear_error_without_the_password(tmp_path: Path, url: str, expected: str) -> None:
    with pytest.raises(StorageError, match=expected) as err:
        open_database(url, tmp_path)
    assert "hunter22" not in str(err.value)
    assert "TRAFFICCAM_DATABASE_URL" in str(err.value)


@pytest.mark.skipif(importlib.util.find_spec("psycopg2") is not None, reason="psycopg2 is installed")
def test_missing_driver_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"not installed.*pip install") as err:
        open_database("postgresql+psycopg2://tc:hunter22@db.example/tc", tmp_path)
    assert "hunter22" not in str(err.value)


def test_sqlite_file_in_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="Cannot open the SQLite database .*directory exists"):
        open_database(f"sqlite:///{tmp_path}/missing/trafficcam.db", tmp_path)


def test_file_that_is_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "trafficcam.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="is not an SQLite database"):
        open_database(None, tmp_path)


def test_database_failure_inside_a_session_is_a_storage_error(db: Database) -> None:
    with pytest.raises(StorageError, match="no such table"), db.session() as s:
        s.connection().exec_driver_sql("SELECT * FROM no_such_table")


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("postgresql://tc:hunter22@db:5432/tc", "postgresql://tc:***@db:5432/tc"),
        ("postgresql://tc:p@ss:w@rd@db/tc", "postgresql://tc:***@db/tc"),  # '@' and ':' in the password
        ("postgresql://tc@db/tc", "postgresql://tc@db/tc"),  # no password
        ("sqlite:///data/trafficcam.db", "sqlite:///data/trafficcam.db"),
        ("garbage", "garbage"),
    ],
)
def test_mask_url(raw: str, masked: str) -> None:
    assert mask_url(raw) == masked


@pytest.mark.parametrize(
    ("driver_message", "expected"),
    [
        (  # wrong password
            'connection failed: connection to server at "10.0.0.5", port 5432 failed: FATAL:  '
            'password authentication failed for user "tc"',
            "Cannot log in to the database at postgresql+psycopg://tc:***@db.example/tc: password "
            'authentication failed for user "tc". Check the user name and password in --db',
        ),
        (  # server down
            'connection failed: connection to server at "10.0.0.5", port 5432 failed: Connection refused\n'
            "\tIs the server running on that host and accepting TCP/IP connections?",
            "Cannot reach the database server at db.example:5432: Connection refused. Check that PostgreSQL",
        ),
        (  # database not created yet
            'connection failed: connection to server at "10.0.0.5", port 5432 failed: FATAL:  '
            'database "tc" does not exist',
            "The database 'tc' does not exist on db.example:5432. Create it (createdb tc)",
        ),
        (  # anything else, even a driver that echoes the password
            "something odd happened with hunter22 in it",
            "Database error at postgresql+psycopg://tc:***@db.example/tc: something odd happened with *** in it.",
        ),
    ],
)
def test_postgresql_failures_are_explained(driver_message: str, expected: str) -> None:
    message = explain_failure(Exception(driver_message), "postgresql+psycopg://tc:hunter22@db.example/tc")
    assert expected in message
    assert "hunter22" not in message
    assert "\n" not in message
