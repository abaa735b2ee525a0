"""Camera leases: one holder per camera, takeover after expiry, fair shares, fenced writes."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from pipeline.errors import LeaseLostError
from pipeline.store import Database, record_violation
from pipeline.store import leases as ls
from pipeline.store.columns import utc_now
from pipeline.store.coverage import CoverageReason, record_coverage
from tests.databases import open_test_database


def test_a_free_camera_is_taken_and_a_held_one_is_not(db: Database) -> None:
    a = ls.acquire(db, "cam-1", "A", ttl_s=30)
    assert a is not None and (a.camera_id, a.instance, a.generation) == ("cam-1", "A", 1)
    assert ls.acquire(db, "cam-1", "B", ttl_s=30) is None
    [(lease, valid)] = ls.list_leases(db)
    assert lease.instance == "A" and valid


def test_an_expired_lease_is_taken_over_with_a_new_generation(db: Database) -> None:
    a = ls.acquire(db, "cam-1", "A", ttl_s=0.2)
    assert a is not None
    time.sleep(0.4)
    b = ls.acquire(db, "cam-1", "B", ttl_s=30)
    assert b is not None and b.generation == a.generation + 1
    renewed, lost = ls.renew(db, [a], ttl_s=30)  # A comes back from a stall: the camera is gone
    assert renewed == [] and lost == [a]
    renewed, lost = ls.renew(db, [b], ttl_s=30)
    assert [r.camera_id for r in renewed] == ["cam-1"] and lost == [] and renewed[0].expires_at > b.expires_at


def test_release_frees_the_camera_at_once_but_only_the_holders_release(db: Database) -> None:
    a = ls.acquire(db, "cam-1", "A", ttl_s=30)
    assert a is not None
    ls.release(db, [ls.Lease("cam-1", "B", a.generation, a.expires_at)])  # not B's to give
    assert ls.acquire(db, "cam-1", "B", ttl_s=30) is None
    ls.release(db, [a])
    assert ls.acquire(db, "cam-1", "B", ttl_s=30) is not None


def test_racing_instances_take_each_camera_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cameras = [f"cam-{i}" for i in range(6)]
    won: list[tuple[str, str]] = []
    start = threading.Barrier(4)

    def instance(name: str) -> None:
        db = open_test_database(tmp_path / "data")  # its own engine and connections, as a process has
        try:
            start.wait()
            for cam in cameras:
                if ls.acquire(db, cam, name, ttl_s=30) is not None:
                    won.append((cam, name))
        finally:
            db.close()

    open_test_database(tmp_path / "data").close()  # schema first
    threads = [threading.Thread(target=instance, args=(f"I{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(cam for cam, _ in won) == cameras  # every camera exactly once


@pytest.mark.parametrize(("n", "k"), [(4, 3), (3, 3), (2, 3), (7, 2), (0, 2), (5, 1)])
def test_fair_shares_add_up_to_the_cameras(n: int, k: int) -> None:
    live = [f"host:{i}" for i in range(k)]
    shares = [ls.fair_share(n, live, me) for me in live]
    assert sum(shares) == n and max(shares) - min(shares) <= 1


def test_a_new_instance_counts_itself_before_its_first_heartbeat() -> None:
    assert ls.fair_share(4, ["a", "b"], "c") + ls.fair_share(4, ["a", "b", "c"], "a") <= 4


def test_live_instances_are_those_with_a_recent_heartbeat(db: Database) -> None:
    ls.heartbeat(db, "h1:10:aa", http="127.0.0.1:9100")
    ls.heartbeat(db, "h2:20:bb")
    assert list(ls.live_instances(db, ttl_s=30)) == ["h1:10:aa", "h2:20:bb"]
    time.sleep(0.3)
    ls.heartbeat(db, "h2:20:bb")
    live = ls.live_instances(db, ttl_s=0.2)
    assert list(live) == ["h2:20:bb"] and 0 <= live["h2:20:bb"] < 0.2
    assert ls.live_instances(db, ttl_s=30)["h1:10:aa"] >= 0.3  # seconds since its last beat
    ls.acquire(db, "cam-1", "h2:20:bb", ttl_s=30)
    ls.forget_instance(db, "h2:20:bb")
    assert list(ls.live_instances(db, ttl_s=30)) == ["h1:10:aa"] and ls.list_leases(db) == []


def test_a_worker_that_lost_its_camera_cannot_write(db: Database, run_id: int, make_violation, make_evidence) -> None:  # type: ignore[no-untyped-def]
    a = ls.acquire(db, "cam-1", "A", ttl_s=0.2)
    assert a is not None
    as_a = ls.LeasedDatabase(db, a)
    record_coverage(as_a, "cam-1", CoverageReason.ENFORCING, utc_now())  # holds it: writes
    time.sleep(0.4)
    b = ls.acquire(db, "cam-1", "B", ttl_s=30)
    assert b is not None
    v = make_violation()
    with pytest.raises(LeaseLostError, match="no longer holds its lease.*now held by B"):
        record_violation(as_a, v, camera_id="cam-1", run_id=run_id, dedup_key="k1", occurred_at=utc_now(),
                         evidence=make_evidence("p1"), public_id="p1")  # fmt: skip
    record, created = record_violation(ls.LeasedDatabase(db, b), v, camera_id="cam-1", run_id=run_id,
                                       dedup_key="k1", occurred_at=utc_now(), evidence=make_evidence("p2"),
                                       public_id="p2")  # fmt: skip
    assert created and record.public_id == "p2"
    assert Counter(r.instance for r, _ in ls.list_leases(db)) == {"B": 1}
