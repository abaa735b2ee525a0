"""The review log and queue in the store: decisions, the hash chain, concurrency, paging."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from pipeline.store import Database
from pipeline.store.records import ViolationStatus
from pipeline.store.review_audit import audit
from pipeline.store.review_queries import QueueFilter, next_in_queue, queue_page
from pipeline.store.review_repo import (
    GENESIS_HASH,
    AlreadyDecidedError,
    ReviewError,
    add_user,
    decide,
    normalise_plate,
    reviews_of,
)
from tests.databases import open_test_database
from tests.review.conftest import T0, new_run


@pytest.fixture
def reviewers(db: Database) -> None:
    for name in ("rita", "rob"):
        add_user(db, name, "not-a-real-hash", "reviewer")


def test_chain_links_every_entry(db, violations, reviewers):
    a = decide(db, violations[0], reviewer="rita", decision="confirm", expected_last_review_id=None)
    b = decide(db, violations[1], reviewer="rob", decision="reject", reason="signal_misread",
               expected_last_review_id=None)  # fmt: skip
    c = decide(db, violations[0], reviewer="rob", decision="correct_plate", plate_text="29a 123.45",
               expected_last_review_id=a.id)  # fmt: skip
    assert (a.prev_hash, b.prev_hash, c.prev_hash) == (GENESIS_HASH, a.entry_hash, b.entry_hash)
    assert c.plate_text == "29A 123.45"
    assert [e.decision.value for e in reviews_of(db, violations[0])] == ["confirm", "correct_plate"]
    assert audit(db).ok


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"decision": "approve"}, "decision must be one of"),
        ({"decision": "reject"}, "needs a reason"),
        ({"decision": "reject", "reason": "bored"}, "needs a reason"),
        ({"decision": "reject", "reason": "other"}, "needs a note"),
        ({"decision": "confirm", "reason": "other"}, "only with a rejection"),
        ({"decision": "correct_plate"}, "needs the plate"),
        ({"decision": "confirm", "reviewer": "mallory"}, "not an enabled user"),
        ({"decision": "confirm", "public_id": "nope"}, "no violation"),
        ({"decision": "confirm", "plate_text": "x" * 40}, "not a plate number"),
    ],
)
def test_bad_decisions_write_nothing(db, violations, reviewers, kwargs, message):
    kwargs = {"reviewer": "rita", "expected_last_review_id": None, **kwargs}
    public_id = kwargs.pop("public_id", violations[0])
    with pytest.raises(ReviewError, match=message):
        decide(db, public_id, **kwargs)
    assert reviews_of(db, violations[0]) == []
    assert queue_page(db, QueueFilter()).total == 3


def test_stale_expectation_is_already_decided(db, violations, reviewers):
    first = decide(db, violations[0], reviewer="rita", decision="confirm", expected_last_review_id=None)
    with pytest.raises(AlreadyDecidedError, match="already decided by rita") as info:
        decide(db, violations[0], reviewer="rob", decision="confirm", expected_last_review_id=None)
    assert info.value.latest.id == first.id
    assert len(reviews_of(db, violations[0])) == 1


def test_disabled_reviewer_cannot_decide(db, violations, reviewers):
    from pipeline.store.review_repo import set_user_disabled

    set_user_disabled(db, "rob", True)
    with pytest.raises(ReviewError, match="not an enabled user"):
        decide(db, violations[0], reviewer="rob", decision="confirm", expected_last_review_id=None)


def test_racing_reviewers_decide_once(tmp_path, violations, reviewers, db):
    """Two processes' worth of connections deciding the same violation at the same moment."""
    results: list[object] = []
    barrier = threading.Barrier(4)

    def reviewer(name: str) -> None:
        own = open_test_database(db.data_dir)  # its own engine, as another server process would have
        barrier.wait()
        try:
            results.append(decide(own, violations[0], reviewer=name, decision="confirm", expected_last_review_id=None))
        except AlreadyDecidedError as exc:
            results.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=reviewer, args=(n,)) for n in ("rita", "rob", "rita", "rob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert sum(isinstance(r, AlreadyDecidedError) for r in results) == 3
    assert len(reviews_of(db, violations[0])) == 1
    assert audit(db).ok


def test_racing_decisions_on_different_violations_keep_one_chain(violations, reviewers, db):
    barrier = threading.Barrier(3)

    def reviewer(public_id: str) -> None:
        own = open_test_database(db.data_dir)
        barrier.wait()
        decide(own, public_id, reviewer="rita", decision="confirm", expected_last_review_id=None)
        own.close()

    threads = [threading.Thread(target=reviewer, args=(p,)) for p in violations]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = audit(db)
    assert report.ok and report.reviews == 3


@pytest.mark.parametrize(
    ("raw", "plate"), [(None, None), ("  ", None), ("29a-123.45", "29A-123.45"), (" 51f  999 ", "51F 999")]
)
def test_plates_are_normalised(raw, plate):
    assert normalise_plate(raw) == plate


def test_user_names_are_checked(db):
    for bad in ("", "a b", "-x", "x" * 101, "ü"):
        with pytest.raises(ReviewError):
            add_user(db, bad, "h", "reviewer")
    add_user(db, "rita.v@hanoi", "h", "admin")
    with pytest.raises(ReviewError, match="already exists"):
        add_user(db, "rita.v@hanoi", "h", "reviewer")


# -- the queue at scale ---------------------------------------------------------------------

N_BIG = 20_000


@pytest.fixture(scope="module")
def big_db(tmp_path_factory) -> Database:
    """20,000 violations on two cameras, three rules, a quarter already confirmed."""
    from detector.types import Box
    from pipeline.rules.base import Violation
    from pipeline.store.models import ViolationRow

    db = open_test_database(tmp_path_factory.mktemp("big") / "data")
    runs = {cam: new_run(db, cam) for cam in ("cam-a", "cam-b")}
    rules = ("red_light", "solid_line", "wrong_way")
    with db.session() as s:
        for i in range(N_BIG):
            cam = "cam-a" if i % 2 else "cam-b"
            v = Violation(rules[i % 3], "z", i, "car", i, float(i), Box(0, 0, 1, 1), 0.5)
            row = ViolationRow.from_violation(
                v, camera_id=cam, run_id=runs[cam], dedup_key=f"k{i}",
                occurred_at=T0 + timedelta(seconds=i // 2), public_id=f"{i:032x}",
            )  # fmt: skip
            if i % 4 == 0:
                row.status = ViolationStatus.CONFIRMED
            s.add(row)
    yield db
    db.close()


def test_keyset_paging_walks_every_row_once(big_db):
    flt = QueueFilter(status=ViolationStatus.PENDING, camera="cam-a")
    seen, page = [], queue_page(big_db, flt, per_page=200)
    assert page.total == N_BIG // 2 and page.newer is None  # cam-a rows are odd: never confirmed
    while True:
        seen.extend(page.items)
        if page.older is None:
            break
        page = queue_page(big_db, flt, older=page.older, per_page=200)
    assert len(seen) == page.total == len({i.id for i in seen})
    keys = [(i.occurred_at, i.id) for i in seen]
    assert keys == sorted(keys, reverse=True)


def test_paging_back_returns_the_same_page(big_db):
    flt = QueueFilter(status=None)
    first = queue_page(big_db, flt, per_page=50)
    second = queue_page(big_db, flt, older=first.older, per_page=50)
    back = queue_page(big_db, flt, newer=second.newer, per_page=50)
    assert [i.id for i in back.items] == [i.id for i in first.items]
    assert back.newer is None and back.older == first.older


def test_deep_page_is_as_fast_as_the_first(big_db):
    import time

    flt = QueueFilter(status=ViolationStatus.PENDING)

    def timed(**cursor: int) -> tuple[float, int]:
        start = time.perf_counter()
        for _ in range(5):
            page = queue_page(big_db, flt, per_page=50, **cursor)
        return time.perf_counter() - start, len(page.items)

    first_s, _ = timed()
    deep_s, rows = timed(older=401)  # about 300 rows from the far end of 15,000
    assert rows == 50
    assert deep_s < max(0.5, 3 * first_s)


def test_queue_pages_over_http(big_db):
    from fastapi.testclient import TestClient

    from review.app import create_app
    from review.auth import HASHER
    from tests.review.conftest import PASSWORD, SECRET, csrf

    add_user(big_db, "pager", HASHER.hash(PASSWORD), "reviewer")
    c = TestClient(create_app(big_db, secret_key=SECRET))
    c.post("/login", data={"name": "pager", "password": PASSWORD, "csrf_token": csrf(c, "/login")})
    r = c.get("/queue")
    assert "15,000 pending violations" in r.text and r.text.count('class="open"') == 50
    assert 'rel="next"' in r.text and 'rel="prev"' not in r.text
    r = c.get("/queue?older=401")
    assert r.text.count('class="open"') == 50 and 'rel="prev"' in r.text


def test_filters_on_the_big_queue(big_db):
    assert queue_page(big_db, QueueFilter(status=ViolationStatus.CONFIRMED)).total == N_BIG // 4
    assert queue_page(big_db, QueueFilter(status=None, rule="wrong_way")).total == len(range(2, N_BIG, 3))
    day = QueueFilter(status=None, since=T0 + timedelta(seconds=100), until=T0 + timedelta(seconds=110))
    assert queue_page(big_db, day).total == 20


def test_next_in_queue_goes_older_then_wraps(big_db):
    flt = QueueFilter(status=ViolationStatus.PENDING, camera="cam-a")
    first = queue_page(big_db, flt, per_page=2).items
    assert next_in_queue(big_db, flt, None) == first[0].public_id
    assert next_in_queue(big_db, flt, first[0].public_id) == first[1].public_id
    oldest = f"{1:032x}"
    assert next_in_queue(big_db, flt, oldest) == first[0].public_id
