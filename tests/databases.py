"""Which database the tests run against: SQLite (default) or PostgreSQL, one per data dir.

``pytest --database postgresql`` (or ``TRAFFICCAM_TEST_DATABASE=postgresql``) runs every test
that stores records against the PostgreSQL database named by ``TRAFFICCAM_TEST_POSTGRES_URL``
(default: ``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Each data dir a test uses
gets its own schema in that database, as each gets its own SQLite file by default, so tests
stay independent; the schemas are dropped when the session ends.

Tests ask for a data dir's database with `database_url` (for `open_database`) or
`database_env` (for a CLI run in-process or as a subprocess).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from pipeline.store import Database, open_database

POSTGRES_URL = os.environ.get("TRAFFICCAM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_schemas: set[str] = set()


def backend() -> str:
    """``"sqlite"`` or ``"postgresql"``: what ``--database`` chose."""
    return os.environ.get("TRAFFICCAM_TEST_DATABASE", "sqlite")


def on_postgresql() -> bool:
    return backend() == "postgresql"


def conninfo(url: str = POSTGRES_URL) -> str:
    """`url` as libpq/psycopg take it (no SQLAlchemy driver part)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def database_url(data_dir: Path) -> str | None:
    """The database URL for `data_dir`: None (SQLite inside it) or its own PostgreSQL schema."""
    return postgres_url(data_dir) if on_postgresql() else None


def postgres_url(data_dir: Path) -> str:
    """A PostgreSQL URL for `data_dir` whatever --database chose: its own schema, made on first use."""
    import psycopg

    schema = "t_" + hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:20]
    if schema not in _schemas:
        try:
            with psycopg.connect(conninfo(), autocommit=True, connect_timeout=5) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
                conn.execute(f"CREATE SCHEMA {schema}")
        except psycopg.OperationalError as exc:
            if on_postgresql():
                raise  # asked for: a missing server is a failure, not a skip
            pytest.skip(f"needs the PostgreSQL of TRAFFICCAM_TEST_POSTGRES_URL ({exc})")
        _schemas.add(schema)
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"


def database_env(data_dir: Path) -> dict[str, str]:
    """Environment for a `trafficcam` command that should use `data_dir`'s test database."""
    url = database_url(data_dir)
    return {"TRAFFICCAM_DATABASE_URL": url or ""}


def open_test_database(data_dir: Path) -> Database:
    """`open_database` on `data_dir`'s test database."""
    return open_database(database_url(data_dir), data_dir)


def drop_schemas() -> None:
    """Drop every schema this session made (at the end of the session)."""
    if not _schemas:
        return
    import psycopg

    with psycopg.connect(conninfo(), autocommit=True) as conn:
        for schema in sorted(_schemas):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    _schemas.clear()


def sql(data_dir: Path, statement: str, **params: object) -> list[tuple[object, ...]]:
    """Run one SQL statement on `data_dir`'s test database behind the application's back
    (to inspect it, or to tamper with it as an attacker would); the rows it returns."""
    from sqlalchemy import create_engine, text

    url = database_url(data_dir) or f"sqlite:///{Path(data_dir) / 'trafficcam.db'}"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()
