"""Migration 0006 on the test database (SQLite, or PostgreSQL with --database postgresql): plate
readings stored beside their violation, the `plate` evidence kind and the `park` decision allowed,
other values still refused, and no downgrade that would lose plate evidence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from pipeline.store import Database, schema
from pipeline.store.records import PlateSuggestion
from pipeline.store.review_queries import violation_detail
from pipeline.store.review_repo import add_user, decide
from tests.databases import open_test_database
from tests.review.conftest import add_violation, new_run

READ = PlateSuggestion("29-B1 737.67", "motorbike", True, 0.61, 3, 2, 2, 944.0, "rapidocr-onnxruntime 1.4.4")
FILES = {k: f"{k} bytes".encode() for k in ("before", "during", "after", "vehicle", "plate", "clip")}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_test_database(tmp_path / "data")
    yield database
    database.close()


def test_reading_and_plate_evidence_are_stored_and_come_back(db: Database) -> None:
    public_id = add_violation(db, new_run(db), 1, files=FILES, plate=READ)
    detail = violation_detail(db, public_id)
    assert detail is not None and detail.plate_reading == READ and "plate" in detail.evidence
    add_user(db, "rita", "x")
    decide(db, public_id, reviewer="rita", decision="confirm", expected_last_review_id=None,
           plate_rule="park", plate_unreadable=True)  # fmt: skip
    detail = violation_detail(db, public_id)
    assert detail is not None and detail.parked and detail.item.status.value == "pending"


def test_check_lists_still_refuse_unknown_values(db: Database) -> None:
    public_id = add_violation(db, new_run(db), 1)
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO evidence (violation_id, kind, path, sha256, bytes, mime) SELECT id, 'poster', 'x', :h, 1, "
            "'image/jpeg' FROM violations WHERE public_id = :p"), {"h": "0" * 64, "p": public_id})  # fmt: skip


def test_no_downgrade_that_loses_plate_evidence(db: Database) -> None:
    add_violation(db, new_run(db), 1, files=FILES)
    with pytest.raises(Exception, match="cannot downgrade below 0006: 1 plate evidence files would be lost"):
        schema.downgrade(db.engine, "test", "0003")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM evidence WHERE kind = 'plate'")).scalar_one() == 1
