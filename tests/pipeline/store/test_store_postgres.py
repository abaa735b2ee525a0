"""The same storage on PostgreSQL, and its connection failures with the password masked.

Runs against ``TRAFFICCAM_TEST_POSTGRES_URL`` (default: postgres on 127.0.0.1:5432, database
``test``), each test in a schema of its own that is dropped afterwards; skipped when psycopg
is not installed or no server answers.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.errors import StorageError
from pipeline.rules.base import Violation
from pipeline.store import (
    Database,
    EvidenceFile,
    count_violations,
    find_violation,
    finish_run,
    get_run,
    open_database,
    record_violation,
    start_run,
)
from pipeline.store.models import EvidenceRow

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'psycopg[binary]')")

BASE_URL = os.environ.get("TRAFFICCAM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECRET = "hunter22-not-the-password"


def _conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _server_answers() -> bool:
    try:
        psycopg.connect(_conninfo(BASE_URL), connect_timeout=2).close()
    except psycopg.Error:
        return False
    return True


pytestmark = pytest.mark.skipif(not _server_answers(), reason=f"no PostgreSQL answers at {BASE_URL}")


def _with_password(url: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    return f"{scheme}://{credentials.split(':')[0]}:{password}@{host}"


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Database]:
    """A database in a fresh PostgreSQL schema."""
    schema = f"tc_store_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_conninfo(BASE_URL), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in BASE_URL else "?"
    db = open_database(f"{BASE_URL}{sep}options=-csearch_path%3D{schema}", tmp_path)
    try:
        yield db
    finally:
        db.close()
        with psycopg.connect(_conninfo(BASE_URL), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def pg_run(pg: Database) -> int:
    return start_run(
        pg,
        camera_id="cam-1",
        source="rtsp://camera-21.example/s1",
        model_name="coco-n",
        model_sha256="b" * 64,
        scene_sha256="c" * 64,
        settings_json="{}",
        settings_hash="d" * 64,
        software_version="0.1.0",
    )


def _rows(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()


def test_record_find_and_times_round_trip(
    pg: Database,
    pg_run: int,
    make_violation: Callable[..., Violation],
    make_evidence: Callable[..., list[EvidenceFile]],
):
    assert pg.dialect == "postgresql"
    when = datetime(2024, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=7)))
    record, created = record_violation(
        pg,
        make_violation(),
        camera_id="cam-1",
        run_id=pg_run,
        dedup_key="k",
        occurred_at=when,
        evidence=make_evidence("a" * 32),
        public_id="a" * 32,
    )
    again, created_again = record_violation(
        pg,
        make_violation(),
        camera_id="cam-1",
        run_id=pg_run,
        dedup_key="k",
        occurred_at=when,
        evidence=make_evidence("b" * 32),
    )
    assert (created, created_again) == (True, False)
    found = find_violation(pg, "k")
    assert found == record == again
    assert found is not None and found.occurred_at == when and found.occurred_at.tzinfo == UTC
    assert len(found.evidence) == 5
    finish_run(pg, pg_run, "interrupted", frames_read=10, frames_analysed=5, frames_dropped=1)
    run = get_run(pg, pg_run)
    assert run is not None and run.status == "interrupted" and run.finished_at is not None


def test_failed_evidence_leaves_no_violation(
    pg: Database,
    pg_run: int,
    make_violation: Callable[..., Violation],
    make_evidence: Callable[..., list[EvidenceFile]],
    monkeypatch: pytest.MonkeyPatch,
):
    def fail(violation_id: int, f: EvidenceFile) -> EvidenceRow:
        raise OSError("evidence failed")

    monkeypatch.setattr(EvidenceRow, "from_file", fail)
    with pytest.raises(OSError):
        record_violation(
            pg,
            make_violation(),
            camera_id="cam-1",
            run_id=pg_run,
            dedup_key="k",
            occurred_at=datetime.now(UTC),
            evidence=make_evidence("a" * 32),
        )
    assert count_violations(pg) == 0


def test_concurrent_writers_of_one_key_end_with_one_row(
    pg: Database,
    pg_run: int,
    make_violation: Callable[..., Violation],
    make_evidence: Callable[..., list[EvidenceFile]],
):
    workers = 4
    barrier = threading.Barrier(workers)
    created: list[bool] = []
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            public_id = f"{n:032x}"
            _, was_created = record_violation(
                pg,
                make_violation(),
                camera_id="cam-1",
                run_id=pg_run,
                dedup_key="k",
                occurred_at=datetime.now(UTC),
                evidence=make_evidence(public_id),
                public_id=public_id,
            )
            created.append(was_created)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == [] and sorted(created) == [False] * (workers - 1) + [True]
    assert (_rows(pg, "violations"), _rows(pg, "evidence")) == (1, 5)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda url: url.replace("postgres@", "no_such_role_tc@", 1), "Cannot log in to the database"),
        (lambda url: url.rsplit("/", 1)[0] + "/no_such_db_tc", "does not exist"),
        (lambda url: url.replace(":5432/", ":1/", 1), "Cannot reach the database server"),
    ],
)
def test_connection_failures_mask_the_password(tmp_path: Path, change: Callable[[str], str], expected: str):
    url = _with_password(change(BASE_URL), SECRET)
    with pytest.raises(StorageError, match=expected) as err:
        open_database(url, tmp_path)
    message = str(err.value)
    assert SECRET not in message and "Traceback" not in message and "\n" not in message
    assert "TRAFFICCAM_DATABASE_URL" in message or "createdb" in message


def test_wrong_password_is_masked(tmp_path: Path):
    url = _with_password(BASE_URL, SECRET)
    try:
        psycopg.connect(_conninfo(url), connect_timeout=2).close()
    except psycopg.OperationalError:
        pass
    else:  # and opening the database would create tables in the shared schema
        pytest.skip("the server trusts this user without checking the password")
    with pytest.raises(StorageError, match="Cannot log in to the database") as err:
        open_database(url, tmp_path)
    assert SECRET not in str(err.value)
