"""Migrations on both databases: from empty and from the first revision to head, back, and refusals."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.errors import SchemaError
from pipeline.store import open_database, schema
from pipeline.store.db import _parse_url
from pipeline.store.models import Base
from tests.databases import postgres_url

TABLES = {"cameras", "runs", "violations", "evidence", "reviews", "users", "coverage", "instances", "camera_leases",
          "outbox", "jobs", "scene_versions"}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind, whatever --database chose."""
    if request.param == "sqlite":
        return f"sqlite+pysqlite:///{tmp_path / 'data' / 'trafficcam.db'}"
    return postgres_url(tmp_path / "data")


@pytest.fixture
def engine(url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "data").mkdir(exist_ok=True)
    eng = create_engine(_parse_url(url, tmp_path / "data"))
    yield eng
    eng.dispose()


def _state(engine) -> schema.SchemaState:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return schema.schema_state(conn)


def test_empty_database_to_head_matches_the_models(engine) -> None:  # type: ignore[no-untyped-def]
    before, after = schema.upgrade(engine, "test")
    assert before.empty and before.current is None
    assert after.current == schema.head_revision() == schema.revisions()[-1]
    assert TABLES <= after.tables
    with engine.connect() as conn:  # what the migrations made is what the models describe
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_first_revision_to_head_keeps_the_data(engine) -> None:  # type: ignore[no-untyped-def]
    first = schema.revisions()[0]
    schema.upgrade(engine, "test", first)
    assert _state(engine).current == first and "camera_leases" not in _state(engine).tables
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO cameras (id, name, created_at) VALUES ('junction', 'J', :t)"),
                     {"t": "2026-05-01 08:00:00"})  # fmt: skip
    with pytest.raises(SchemaError, match=r"older than this trafficcam needs.*trafficcam db upgrade"):
        schema.ensure_schema(engine, "test")
    before, after = schema.upgrade(engine, "test")
    assert (before.current, after.current) == (first, schema.head_revision())
    assert TABLES <= after.tables
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM cameras WHERE id = 'junction'")).scalar_one() == "J"


def test_downgrade_to_base_and_up_again(engine) -> None:  # type: ignore[no-untyped-def]
    schema.upgrade(engine, "test")
    _, after = schema.downgrade(engine, "test", "base")
    assert after.current is None and not (after.tables & TABLES)
    _, after = schema.upgrade(engine, "test")
    assert after.up_to_date


def test_a_database_from_before_migrations_is_stamped_then_upgraded(engine) -> None:  # type: ignore[no-untyped-def]
    schema.upgrade(engine, "test", schema.FIRST_REVISION)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))  # what create_all left behind
    state = _state(engine)
    assert state.legacy and not state.empty
    with pytest.raises(SchemaError, match="without schema migrations.*trafficcam db upgrade"):
        schema.ensure_schema(engine, "test")
    before, after = schema.upgrade(engine, "test")
    assert before.legacy and after.up_to_date


def test_a_newer_database_is_refused_by_open_and_by_upgrade(engine, url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    schema.upgrade(engine, "test")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaError, match="revision 9999, which this trafficcam does not know.*newer trafficcam"):
        open_database(url, tmp_path / "data")
    with pytest.raises(SchemaError, match="newer trafficcam"):
        schema.upgrade(engine, "test")


def test_foreign_tables_are_not_migrated_over(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    with pytest.raises(SchemaError, match="tables that are not trafficcam's"):
        schema.ensure_schema(engine, "test")


def test_daemons_opening_an_empty_database_together_migrate_it_once(url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            open_database(url, tmp_path / "data").close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with open_database(url, tmp_path / "data") as db, db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1


def test_db_commands(url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner(env={"TRAFFICCAM_DATABASE_URL": url, "COLUMNS": "250"})
    data = ["--data-dir", str(tmp_path / "data")]
    head = schema.head_revision()
    r = runner.invoke(app, ["db", "current", *data])
    assert r.exit_code == 0 and "revision: none" in r.stdout and "empty" in r.stdout, r.output
    r = runner.invoke(app, ["db", "upgrade", *data, "--to", schema.FIRST_REVISION])
    assert r.exit_code == 0 and f"upgraded from none to {schema.FIRST_REVISION}" in r.stdout, r.output
    r = runner.invoke(app, ["db", "current", *data])
    assert r.exit_code == 1 and "older than this trafficcam needs" in r.stderr, r.output
    r = runner.invoke(app, ["review", "list", *data])  # any command that uses the database says the same
    assert r.exit_code == 3 and "Run `trafficcam db upgrade`" in r.stderr and "Traceback" not in r.output, r.output
    r = runner.invoke(app, ["db", "upgrade", *data])
    assert r.exit_code == 0 and f"to {head}" in r.stdout, r.output
    r = runner.invoke(app, ["db", "upgrade", *data])
    assert r.exit_code == 0 and "already at" in r.stdout, r.output
    r = runner.invoke(app, ["db", "current", *data])
    assert r.exit_code == 0 and "up to date" in r.stdout, r.output
    r = runner.invoke(app, ["db", "downgrade", "base", *data])
    assert r.exit_code == 1 and "--yes" in r.stderr
    r = runner.invoke(app, ["db", "downgrade", schema.FIRST_REVISION, *data])
    assert r.exit_code == 0 and f"to {schema.FIRST_REVISION}" in r.stdout, r.output


def test_one_open_coverage_period_per_camera_from_revision_0003(engine) -> None:  # type: ignore[no-untyped-def]
    schema.upgrade(engine, "test", "0002")
    t = {"a": "2026-05-01 08:00:00", "b": "2026-05-01 08:05:00", "c": "2026-05-01 08:09:00"}
    insert = text("INSERT INTO coverage (camera_id, started_at, ended_at, last_seen_at, enforcing, reason, instance) "
                  "VALUES ('j', :start, NULL, :seen, true, 'enforcing', :who)")  # fmt: skip
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO cameras (id, name, created_at) VALUES ('j', 'J', :t)"), {"t": t["a"]})
        conn.execute(insert, {"start": t["a"], "seen": t["b"], "who": "crashed"})  # left open by a crash
        conn.execute(insert, {"start": t["b"], "seen": t["c"], "who": "later"})
    schema.upgrade(engine, "test")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT instance, ended_at, last_seen_at FROM coverage ORDER BY id")).all()
    assert rows[0].ended_at == rows[0].last_seen_at and rows[1].ended_at is None  # closed at its last sign of life
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert, {"start": t["c"], "seen": t["c"], "who": "intruder"})


def test_operator_role_and_restored_from_from_revision_0009(engine) -> None:  # type: ignore[no-untyped-def]
    schema.upgrade(engine, "test", "0008")
    insert = text("INSERT INTO users (name, password_hash, role, disabled, created_at) "
                  "VALUES (:name, 'h', :role, false, '2026-05-01 08:00:00')")  # fmt: skip
    with pytest.raises(IntegrityError), engine.begin() as conn:  # the CHECK list before 0009
        conn.execute(insert, {"name": "otto", "role": "operator"})
    with engine.begin() as conn:
        conn.execute(insert, {"name": "ada", "role": "admin"})
    schema.upgrade(engine, "test")
    with engine.begin() as conn:
        conn.execute(insert, {"name": "otto", "role": "operator"})
        conn.execute(text("INSERT INTO cameras (id, name, created_at) VALUES ('j', 'J', '2026-05-01 08:00:00')"))
        conn.execute(text("INSERT INTO scene_versions (camera_id, version, yaml_text, sha256, author, created_at, "
                          "restored_from) VALUES ('j', 2, 'x', :h, 'otto', '2026-05-01 08:00:00', 1)"), {"h": "a" * 64})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert, {"name": "root", "role": "root"})
    with engine.connect() as conn:
        roles = dict(conn.execute(text("SELECT name, role FROM users")).tuples().all())
    assert roles == {"ada": "admin", "otto": "operator"}
    with pytest.raises(RuntimeError, match="1 user\\(s\\) have the role 'operator'"):
        schema.downgrade(engine, "test", "0008")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE role = 'operator'"))
    _, after = schema.downgrade(engine, "test", "0008")
    assert after.current == "0008"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM users")).scalars().all() == ["ada"]
        assert conn.execute(text("SELECT version FROM scene_versions")).scalars().all() == [2]
