"""The plate on the violation page: the reader's suggestion, prefilled; confirming needs a valid
plate or "plate unreadable", which parks or rejects as the server is configured."""

from __future__ import annotations

import hashlib

import pytest

from detector.types import Box, Colour
from pipeline.rules.base import Violation
from pipeline.store import EvidenceFile, record_violation
from pipeline.store.records import PlateSuggestion
from pipeline.store.review_queries import violation_detail
from pipeline.store.review_repo import UnreadablePlate, reviews_of
from review.app import create_app
from tests.review.conftest import SECRET, T0, new_run
from tests.review.test_web_review import decide

READ = PlateSuggestion("61-B2 267.15", "motorbike", True, 0.93, 3, 3, 3, 812.5, "rapidocr-onnxruntime 1.4.4")


@pytest.fixture
def read_violation(db) -> str:  # type: ignore[no-untyped-def]
    """A pending violation whose plate the reader read, with plate.jpg among its evidence."""
    public_id, folder = "a" * 32, f"evidence/cam-1/{T0:%Y-%m-%d}/{'a' * 32}"
    evidence = []
    for kind in ("before", "during", "after", "vehicle", "plate", "clip"):
        data, rel = f"{kind} bytes".encode(), f"{folder}/{kind}.{'mp4' if kind == 'clip' else 'jpg'}"
        (db.data_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (db.data_dir / rel).write_bytes(data)
        mime = "video/mp4" if kind == "clip" else "image/jpeg"
        evidence.append(EvidenceFile(kind, rel, hashlib.sha256(data).hexdigest(), len(data), mime))
    v = Violation("red_light", "southbound", 9, "motorcycle", 90, 4.5, Box(100.0, 200.0, 140.0, 260.0), 0.8,
                  "main", Colour.RED, 2.0)  # fmt: skip
    record_violation(db, v, camera_id="cam-1", run_id=new_run(db), dedup_key="kp", occurred_at=T0,
                     evidence=evidence, public_id=public_id, plate=READ)  # fmt: skip
    return public_id


def test_the_reading_is_a_prefilled_suggestion_with_its_crop(login, read_violation) -> None:
    page = login("rita").get(f"/violations/{read_violation}").text
    assert 'name="plate" value="61-B2 267.15"' in page
    assert "Read: <b>61-B2 267.15</b> (valid format, confidence 0.93, 3/3 frames)" in page
    assert 'data-kind="plate"' in page and "Plate unreadable" in page


def test_accepting_or_correcting_the_suggestion_confirms_with_that_plate(login, db, read_violation) -> None:
    c = login("rita")
    r = decide(c, read_violation, decision="confirm", plate="61-B2 267.15")
    assert r.status_code == 303
    [entry] = reviews_of(db, read_violation)
    assert (entry.decision.value, entry.plate_text) == ("confirm", "61-B2 267.15")
    r = decide(c, read_violation, decision="confirm", plate="61 b2 26716")  # a revision, typed loosely
    assert reviews_of(db, read_violation)[-1].plate_text == "61-B2 267.16"


def test_confirming_without_a_valid_plate_is_refused(login, db, read_violation) -> None:
    c = login("rita")
    for plate in ("", "61-B2 267", "HELLO"):
        r = decide(c, read_violation, decision="confirm", plate=plate)
        assert "Vietnamese format" in c.get(r.headers["location"]).text
    assert reviews_of(db, read_violation) == []


def test_unreadable_plate_parks_by_default(login, db, read_violation) -> None:
    c = login("rita")
    r = decide(c, read_violation, decision="confirm", plate="", plate_unreadable="1")
    assert r.status_code == 303
    detail = violation_detail(db, read_violation)
    assert detail is not None and detail.item.status.value == "pending" and detail.parked
    assert "Parked: plate unreadable." in c.get(f"/violations/{read_violation}").text


def test_unreadable_plate_rejects_where_the_authority_says_so(app, login, db, read_violation) -> None:
    assert create_app(db, secret_key=SECRET, unreadable_plate="reject").state.unreadable_plate is UnreadablePlate.REJECT
    app.state.unreadable_plate = UnreadablePlate.REJECT  # as `serve --unreadable-plate reject` makes it
    decide(login("rita"), read_violation, decision="confirm", plate="", plate_unreadable="1")
    [entry] = reviews_of(db, read_violation)
    assert (entry.decision.value, entry.reason) == ("reject", "plate_unreadable")
