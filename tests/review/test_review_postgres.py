"""The review log on PostgreSQL, where decisions really run at the same time.

Runs against ``TRAFFICCAM_TEST_POSTGRES_URL`` (default: postgres on 127.0.0.1:5432, database
``test``) in a schema of its own; skipped when psycopg is missing or no server answers.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.store import Database, open_database
from pipeline.store.review_audit import audit
from pipeline.store.review_queries import QueueFilter, queue_page
from pipeline.store.review_repo import AlreadyDecidedError, add_user, decide, reviews_of
from tests.review.conftest import add_violation, new_run

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'psycopg[binary]')")
BASE_URL = os.environ.get("TRAFFICCAM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CONNINFO = BASE_URL.replace("postgresql+psycopg://", "postgresql://", 1)


def _server_answers() -> bool:
    try:
        psycopg.connect(CONNINFO, connect_timeout=2).close()
    except psycopg.Error:
        return False
    return True


pytestmark = pytest.mark.skipif(not _server_answers(), reason=f"no PostgreSQL answers at {BASE_URL}")


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    schema = f"tc_review_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(CONNINFO, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in BASE_URL else "?"
    yield f"{BASE_URL}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(CONNINFO, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def pg(pg_url: str, tmp_path: Path) -> Iterator[Database]:
    db = open_database(pg_url, tmp_path / "data")
    add_user(db, "rita", "h", "reviewer")
    add_user(db, "rob", "h", "reviewer")
    yield db
    db.close()


def _race(pg_url: str, data_dir: Path, jobs: list[tuple[str, str]]) -> list[object]:
    """Run `decide` for each (public id, reviewer) in its own thread and engine, all at once."""
    barrier, results = threading.Barrier(len(jobs)), []

    def work(public_id: str, reviewer: str) -> None:
        own = open_database(pg_url, data_dir)
        barrier.wait()
        try:
            results.append(decide(own, public_id, reviewer=reviewer, decision="confirm", expected_last_review_id=None))
        except AlreadyDecidedError as exc:
            results.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=work, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_racing_reviewers_on_postgres_decide_once(pg, pg_url):
    pid = add_violation(pg, new_run(pg), 1)
    results = _race(pg_url, pg.data_dir, [(pid, "rita"), (pid, "rob")] * 3)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert len(reviews_of(pg, pid)) == 1
    assert audit(pg).ok


def test_racing_decisions_on_postgres_keep_one_chain(pg, pg_url):
    run_id = new_run(pg)
    pids = [add_violation(pg, run_id, n) for n in range(1, 7)]
    results = _race(pg_url, pg.data_dir, [(p, "rita") for p in pids])
    assert not any(isinstance(r, Exception) for r in results)
    report = audit(pg)
    assert report.ok and report.reviews == 6, [str(p) for p in report.problems]
    assert queue_page(pg, QueueFilter()).total == 0
