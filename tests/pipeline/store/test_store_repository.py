"""The repository: runs, recording violations with their evidence once, and reading them back."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from detector.types import Box
from pipeline.errors import StorageError
from pipeline.rules.base import Violation
from pipeline.store import (
    Database,
    EvidenceFile,
    RunStatus,
    ViolationStatus,
    count_violations,
    count_violations_by_rule,
    ensure_camera,
    find_violation,
    finish_run,
    get_run,
    get_violation,
    list_violations,
    record_violation,
    repository,
)
from pipeline.store.models import EvidenceRow
from tests.databases import open_test_database

WHEN = datetime(2024, 5, 1, 7, 30, 9, 500_000, tzinfo=UTC)
MakeViolation = Callable[..., Violation]
MakeEvidence = Callable[..., list[EvidenceFile]]


def _rows(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()


def _record(db: Database, run_id: int, violation: Violation, evidence: list[EvidenceFile], key: str = "k1", **kw):
    return record_violation(
        db, violation, camera_id="cam-1", run_id=run_id, dedup_key=key, occurred_at=WHEN, evidence=evidence, **kw
    )


def test_record_then_find(db: Database, run_id: int, make_violation: MakeViolation, make_evidence: MakeEvidence):
    evidence = make_evidence("f" * 32)
    record, created = _record(db, run_id, make_violation(), evidence, public_id="f" * 32)
    assert created
    found = find_violation(db, "k1")
    assert found == record
    assert found is not None
    assert (found.public_id, found.camera_id, found.run_id) == ("f" * 32, "cam-1", run_id)
    assert (found.rule, found.where, found.track_id, found.label) == ("red_light", "southbound", 7, "motorcycle")
    assert (found.frame_index, found.time_s, found.confidence) == (57, 9.5, 0.81)
    assert found.box == Box(100.0, 200.0, 140.5, 260.25)
    assert (found.signal_id, found.signal_colour, found.seconds_into_colour) == ("main", "red", 3.2)
    assert found.status is ViolationStatus.PENDING and found.plate_text is None
    assert found.occurred_at == WHEN and found.occurred_at.tzinfo is not None
    assert found.evidence == {f.kind: (f.path, f.sha256) for f in evidence}
    assert found.evidence["clip"].path.endswith("/clip.mp4")
    assert get_violation(db, "f" * 32) == found
    assert find_violation(db, "other") is None


def test_public_id_is_generated_when_not_given(db: Database, run_id: int, make_violation: MakeViolation):
    record, _ = _record(db, run_id, make_violation(), [])
    assert len(record.public_id) == 32 and int(record.public_id, 16) >= 0
    assert record.evidence == {}


def test_times_are_stored_as_utc(db: Database, run_id: int, make_violation: MakeViolation):
    hanoi = timezone(timedelta(hours=7))
    record_violation(
        db,
        make_violation(),
        camera_id="cam-1",
        run_id=run_id,
        dedup_key="k1",
        occurred_at=WHEN.astimezone(hanoi),
        evidence=[],
    )
    found = find_violation(db, "k1")
    assert found is not None and found.occurred_at == WHEN and found.occurred_at.utcoffset() == timedelta(0)


def test_naive_time_is_refused(db: Database, run_id: int, make_violation: MakeViolation):
    with pytest.raises(ValueError, match="timezone-aware"):
        record_violation(
            db,
            make_violation(),
            camera_id="cam-1",
            run_id=run_id,
            dedup_key="k1",
            occurred_at=WHEN.replace(tzinfo=None),
            evidence=[],
        )
    assert _rows(db, "violations") == 0


def test_same_key_twice_keeps_one_row(
    db: Database, run_id: int, make_violation: MakeViolation, make_evidence: MakeEvidence
):
    first, created_first = _record(db, run_id, make_violation(), make_evidence("a" * 32), public_id="a" * 32)
    again, created_again = _record(db, run_id, make_violation(), make_evidence("b" * 32), public_id="b" * 32)
    assert (created_first, created_again) == (True, False)
    assert again == first and again.public_id == "a" * 32
    assert _rows(db, "violations") == 1
    assert _rows(db, "evidence") == 5


def test_violation_and_evidence_are_committed_together(
    db: Database,
    run_id: int,
    make_violation: MakeViolation,
    make_evidence: MakeEvidence,
    monkeypatch: pytest.MonkeyPatch,
):
    real = EvidenceRow.from_file
    calls = []

    def fail_on_third(violation_id: int, f: EvidenceFile) -> EvidenceRow:
        calls.append(f.kind)
        if len(calls) == 3:
            raise OSError("disk went away while recording evidence")
        return real(violation_id, f)

    monkeypatch.setattr(EvidenceRow, "from_file", fail_on_third)
    with pytest.raises(OSError, match="disk went away"):
        _record(db, run_id, make_violation(), make_evidence("a" * 32))
    # the violation's INSERT had been sent (its id was known) when evidence failed
    assert calls == ["before", "during", "after"]
    assert (_rows(db, "violations"), _rows(db, "evidence")) == (0, 0)
    assert find_violation(db, "k1") is None

    monkeypatch.setattr(EvidenceRow, "from_file", real)
    _, created = _record(db, run_id, make_violation(), make_evidence("a" * 32))
    assert created and _rows(db, "evidence") == 5


def test_repeated_evidence_kind_is_refused_and_nothing_is_written(
    db: Database, run_id: int, make_violation: MakeViolation, make_evidence: MakeEvidence
):
    evidence = make_evidence("a" * 32, ("before", "during", "during"))
    with pytest.raises(ValueError, match="one file per kind.*during"):
        _record(db, run_id, make_violation(), evidence)
    assert (_rows(db, "violations"), _rows(db, "evidence")) == (0, 0)


def test_race_lost_between_look_and_insert_returns_the_winner(
    db: Database,
    run_id: int,
    make_violation: MakeViolation,
    make_evidence: MakeEvidence,
    monkeypatch: pytest.MonkeyPatch,
):
    winner, _ = _record(db, run_id, make_violation(), make_evidence("a" * 32), public_id="a" * 32)
    real_find = repository.find_violation
    looks = []

    def find_nothing_first(db: Database, key: str):
        looks.append(key)
        return None if len(looks) == 1 else real_find(db, key)  # the other process had not committed yet

    monkeypatch.setattr(repository, "find_violation", find_nothing_first)
    loser, created = _record(db, run_id, make_violation(), make_evidence("b" * 32), public_id="b" * 32)
    assert not created and loser == winner and len(looks) == 2
    assert (_rows(db, "violations"), _rows(db, "evidence")) == (1, 5)


def test_concurrent_writers_of_one_key_end_with_one_row(
    tmp_path: Path, db: Database, run_id: int, make_violation: MakeViolation, make_evidence: MakeEvidence
):
    workers = 6
    barrier = threading.Barrier(workers)
    results: list[tuple[str, bool]] = []
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        own = open_test_database(db.data_dir)  # its own engine, as another process would have
        try:
            barrier.wait()
            public_id = f"{n:032x}"
            record, created = _record(own, run_id, make_violation(), make_evidence(public_id), public_id=public_id)
            results.append((record.public_id, created))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert sum(created for _, created in results) == 1
    assert len({public_id for public_id, _ in results}) == 1
    assert (_rows(db, "violations"), _rows(db, "evidence")) == (1, 5)


def test_unknown_run_is_a_storage_error(db: Database, run_id: int, make_violation: MakeViolation):
    with pytest.raises(StorageError, match="run 999 exist"):
        _record(db, 999, make_violation(), [])
    assert _rows(db, "violations") == 0


def test_over_long_dedup_key_is_refused(db: Database, run_id: int, make_violation: MakeViolation):
    with pytest.raises(ValueError, match="dedup_key must be at most 255"):
        _record(db, run_id, make_violation(), [], key="x" * 256)


def test_run_start_and_finish(db: Database, run_id: int):
    run = get_run(db, run_id)
    assert run is not None and run.status is RunStatus.RUNNING and run.finished_at is None
    assert (run.camera_id, run.frames_expected, run.frames_read) == ("cam-1", 383, 0)
    finish_run(db, run_id, "finished", frames_read=383, frames_analysed=128, frames_dropped=2)
    run = get_run(db, run_id)
    assert run is not None and run.status is RunStatus.FINISHED
    assert (run.frames_read, run.frames_analysed, run.frames_dropped) == (383, 128, 2)
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert get_run(db, 999) is None


@pytest.mark.parametrize(
    ("run", "status", "error"),
    [
        (None, "running", ValueError),  # not an end state
        (None, "done", ValueError),  # not a status
        (999, "failed", LookupError),  # no such run
    ],
)
def test_finish_run_refuses(db: Database, run_id: int, run: int | None, status: str, error: type[Exception]):
    with pytest.raises(error):
        finish_run(db, run or run_id, status, frames_read=0, frames_analysed=0, frames_dropped=0)


def test_ensure_camera_is_idempotent(db: Database, run_id: int):
    ensure_camera(db, "cam-1")
    ensure_camera(db, "cam-2", name="Hang Bai / Ly Thuong Kiet")
    ensure_camera(db, "cam-2")
    assert _rows(db, "cameras") == 2


def test_list_and_count(db: Database, run_id: int, make_violation: MakeViolation, make_evidence: MakeEvidence):
    for n, rule in enumerate(["red_light", "red_light", "solid_line"]):
        record_violation(
            db,
            make_violation(track_id=n, rule=rule),
            camera_id="cam-1",
            run_id=run_id,
            dedup_key=f"k{n}",
            occurred_at=WHEN + timedelta(seconds=10 - n),
            evidence=make_evidence(f"{n:032x}", ("during",)),
        )
    listed = list_violations(db, run_id=run_id)
    assert [v.track_id for v in listed] == [2, 1, 0]  # oldest first
    assert all(set(v.evidence) == {"during"} for v in listed)
    assert [v.track_id for v in list_violations(db, camera_id="cam-1", rule="solid_line")] == [2]
    assert list_violations(db, camera_id="cam-9") == []
    assert len(list_violations(db, limit=2)) == 2
    assert count_violations(db) == 3
    assert count_violations(db, run_id=run_id, status="pending") == 3
    assert count_violations(db, status=ViolationStatus.CONFIRMED) == 0
    assert count_violations_by_rule(db, run_id=run_id) == {"red_light": 2, "solid_line": 1}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "thumbnail"}, "kind must be one of"),  # unknown kind
        ({"path": "/var/lib/trafficcam/x.jpg"}, "relative to the data dir"),  # absolute path
        ({"path": "evidence/../../etc/passwd"}, "relative to the data dir"),  # escapes the data dir
        ({"sha256": "ABC"}, "64 lowercase hex"),  # not a SHA-256
        ({"bytes": -1}, "bytes must be >= 0"),
        ({"mime": "jpeg"}, "mime must look like"),
    ],
)
def test_evidence_file_checks_its_values(changes: dict[str, object], message: str):
    values: dict[str, object] = {
        "kind": "during",
        "path": "evidence/c/d/during.jpg",
        "sha256": "0" * 64,
        "bytes": 10,
        "mime": "image/jpeg",
    }
    with pytest.raises(ValueError, match=message):
        EvidenceFile(**{**values, **changes})  # type: ignore[arg-type]


def test_evidence_file_normalises_path(tmp_path: Path):
    f = EvidenceFile("clip", Path("evidence") / "c" / "clip.mp4", "0" * 64, 10, "video/mp4")  # type: ignore[arg-type]
    assert f.path == "evidence/c/clip.mp4"
