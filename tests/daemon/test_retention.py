"""--keep-days: old evidence files go, records stay with a note; pending evidence is never touched."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detector.types import Box, Colour
from pipeline.daemon.retention import RetentionPolicy, apply_retention
from pipeline.rules.base import Violation
from pipeline.store import EvidenceFile, ViolationStatus, get_violation, record_violation, start_run
from pipeline.store.models import ViolationRow
from tests.databases import open_test_database

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path):
    database = open_test_database(tmp_path / "data")
    yield database
    database.close()


def add(db, camera: str, days_ago: float, status: ViolationStatus, n: int) -> tuple[str, Path]:
    data = db.data_dir
    run = start_run(
        db, camera_id=camera, source="rtsp://cam", model_name="m", model_sha256="a" * 64,
        scene_sha256="b" * 64, settings_json="{}", settings_hash="c" * 64, software_version="t",
    )  # fmt: skip
    public_id = f"{camera}-{n}"
    folder = data / "evidence" / camera / "2026-05-01" / public_id
    folder.mkdir(parents=True)
    files = []
    for kind, name in (("during", "during.jpg"), ("clip", "clip.mp4")):
        content = f"{public_id}/{kind}".encode()
        (folder / name).write_bytes(content)
        files.append(EvidenceFile(kind, str((folder / name).relative_to(data)), hashlib.sha256(content).hexdigest(),
                                  len(content), "image/jpeg" if kind == "during" else "video/mp4"))  # fmt: skip
    v = Violation("red_light", "stop", n, "car", n, float(n), Box(1, 2, 3, 4), 0.9, "main", Colour.RED, 1.0)
    record_violation(db, v, camera_id=camera, run_id=run, dedup_key=public_id,
                     occurred_at=NOW - timedelta(days=days_ago), evidence=files, public_id=public_id)  # fmt: skip
    if status is not ViolationStatus.PENDING:
        with db.session() as s:  # the review app's job; set directly here
            s.query(ViolationRow).filter_by(public_id=public_id).update({"status": status})
    return public_id, folder


def test_old_rejected_evidence_goes_the_rest_stays(db):
    old_rejected = add(db, "cam", 40, ViolationStatus.REJECTED, 1)
    old_confirmed = add(db, "cam", 40, ViolationStatus.CONFIRMED, 2)
    old_pending = add(db, "cam", 40, ViolationStatus.PENDING, 3)
    new_rejected = add(db, "cam", 5, ViolationStatus.REJECTED, 4)
    result = apply_retention(db, db.data_dir, RetentionPolicy(keep_days=30), now=NOW)
    assert result.removed == 1 and result.files == 2 and not result.failures
    assert not old_rejected[1].exists()
    record = get_violation(db, old_rejected[0])
    assert record is not None and record.evidence  # the record and its hashes stay
    with db.session() as s:
        row = s.query(ViolationRow).filter_by(public_id=old_rejected[0]).one()
        assert row.evidence_removed_at == NOW and "retention" in row.evidence_note and "30 days" in row.evidence_note
    for _, folder in (old_confirmed, old_pending, new_rejected):
        assert (folder / "during.jpg").exists()
    # a second pass finds nothing more to do
    assert apply_retention(db, db.data_dir, RetentionPolicy(keep_days=30), now=NOW).removed == 0


def test_confirmed_evidence_only_when_asked_and_per_camera_days(db):
    confirmed = add(db, "cam", 40, ViolationStatus.CONFIRMED, 1)
    short = add(db, "busy", 3, ViolationStatus.REJECTED, 2)
    policy = RetentionPolicy(keep_days=30, include_confirmed=True, per_camera={"busy": 2})
    result = apply_retention(db, db.data_dir, policy, now=NOW)
    assert result.removed == 2
    assert not confirmed[1].exists() and not short[1].exists()


def test_nothing_outside_the_evidence_tree_is_deleted(db, tmp_path):
    public_id, folder = add(db, "cam", 40, ViolationStatus.REJECTED, 1)
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    with db.session() as s:
        row = s.query(ViolationRow).filter_by(public_id=public_id).one()
        from pipeline.store.models import EvidenceRow

        s.query(EvidenceRow).filter_by(violation_id=row.id, kind="clip").update({"path": "../precious.txt"})
    result = apply_retention(db, db.data_dir, RetentionPolicy(keep_days=30), now=NOW)
    assert outside.exists() and result.failures and "outside" in result.failures[0]
