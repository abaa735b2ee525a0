"""What the pipeline asks of the database. Each function is one short transaction.

Functions take the open `Database` and return plain records (`pipeline.store.records`),
never ORM rows, so nothing outside `pipeline/store/` touches a session.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from detector.types import Box
from pipeline.errors import StorageError
from pipeline.seal.keys import load_signing_key
from pipeline.store import outbox
from pipeline.store.columns import DEDUP_KEY_LENGTH, ID_LENGTH, utc_now
from pipeline.store.db import Database, failure_reason
from pipeline.store.models import CameraRow, EvidenceRow, PlateReadingRow, RunRow, ViolationRow
from pipeline.store.records import (
    EvidenceFile,
    EvidenceKind,
    EvidenceRef,
    PlateSuggestion,
    RunRecord,
    RunStatus,
    ViolationRecord,
    ViolationStatus,
    require_aware,
)
from pipeline.store.seals import add_seal, checkpoint

if TYPE_CHECKING:
    from pipeline.rules.base import Violation


def ensure_camera(db: Database, camera_id: str, name: str | None = None) -> None:
    """Add camera `camera_id` unless it is already known (its name defaults to the id)."""
    _check_length("camera_id", camera_id, ID_LENGTH)
    try:
        with db.session() as s:
            if s.get(CameraRow, camera_id) is None:
                s.add(CameraRow(id=camera_id, name=name or camera_id, created_at=utc_now()))
    except IntegrityError:
        pass  # another process added it between our look and our insert


def start_run(
    db: Database,
    *,
    camera_id: str,
    source: str,
    model_name: str,
    model_sha256: str,
    scene_sha256: str,
    settings_json: str,
    settings_hash: str,
    software_version: str,
    source_sha256: str | None = None,
    frames_expected: int | None = None,
    started_at: datetime | None = None,
    recorded_at: datetime | None = None,
    time_source: str = "unknown",
    timezone: str | None = None,
    site: dict[str, Any] | None = None,
) -> int:
    """Record the start of a run (adding its camera if new) and return the run id.

    Args:
        source: the file path or stream URL (pass it without credentials).
        settings_json: the effective settings, serialised; `settings_hash` is its hash.
        started_at: UTC-aware start time; now when None.
        recorded_at: UTC-aware wall-clock time of the source's frame 0, when known.
        time_source: where `recorded_at` came from (`pipeline.timing.TimeSource`).
        timezone: the camera's IANA zone (times are shown in it).
        site: the camera's location and offence codes, as the scene gives them.
    """
    for name, value, limit in (
        ("model_name", model_name, 200),
        ("model_sha256", model_sha256, 64),
        ("scene_sha256", scene_sha256, 64),
        ("settings_hash", settings_hash, 64),
        ("software_version", software_version, 64),
        ("source_sha256", source_sha256, 64),
    ):
        _check_length(name, value, limit)
    started_at = require_aware(started_at or utc_now(), "started_at")
    ensure_camera(db, camera_id)
    with db.session() as s:
        run = RunRow(
            camera_id=camera_id,
            source=source,
            source_sha256=source_sha256,
            started_at=started_at,
            status=RunStatus.RUNNING,
            model_name=model_name,
            model_sha256=model_sha256,
            scene_sha256=scene_sha256,
            settings_json=settings_json,
            settings_hash=settings_hash,
            software_version=software_version,
            frames_read=0,
            frames_analysed=0,
            frames_dropped=0,
            frames_expected=frames_expected,
            recorded_at=require_aware(recorded_at, "recorded_at") if recorded_at is not None else None,
            time_source=time_source,
            timezone=timezone,
            site_json=json.dumps(site, sort_keys=True, ensure_ascii=False) if site else None,
        )
        s.add(run)
        s.flush()
        return run.id


def finish_run(
    db: Database,
    run_id: int,
    status: RunStatus | str,
    *,
    frames_read: int,
    frames_analysed: int,
    frames_dropped: int,
    frames_expected: int | None = None,
    finished_at: datetime | None = None,
) -> None:
    """Record how run `run_id` ended (finished, failed or interrupted) and its frame counts.

    Raises:
        ValueError: `status` is not an end state.
        LookupError: no run has id `run_id`.
    """
    status = RunStatus(status)
    if status is RunStatus.RUNNING:
        raise ValueError("finish_run status must be finished, failed or interrupted, got 'running'")
    finished_at = require_aware(finished_at or utc_now(), "finished_at")
    with db.session() as s:
        run = s.get(RunRow, run_id)
        if run is None:
            raise LookupError(f"no run with id {run_id}")
        run.status = status
        run.finished_at = finished_at
        run.frames_read = frames_read
        run.frames_analysed = frames_analysed
        run.frames_dropped = frames_dropped
        if frames_expected is not None:
            run.frames_expected = frames_expected


def get_run(db: Database, run_id: int) -> RunRecord | None:
    """The run with id `run_id`, or None."""
    with db.session() as s:
        run = s.get(RunRow, run_id)
        return _run_record(run) if run is not None else None


def find_violation(db: Database, dedup_key: str) -> ViolationRecord | None:
    """The violation recorded under `dedup_key`, with its evidence, or None."""
    query = select(ViolationRow).where(ViolationRow.dedup_key == dedup_key)
    with db.session() as s:
        row = s.scalars(query.options(selectinload(ViolationRow.evidence))).one_or_none()
        return _violation_record(row, row.evidence) if row is not None else None


def get_violation(db: Database, public_id: str) -> ViolationRecord | None:
    """The violation whose public id (the one in its evidence paths) is `public_id`, or None."""
    query = select(ViolationRow).where(ViolationRow.public_id == public_id)
    with db.session() as s:
        row = s.scalars(query.options(selectinload(ViolationRow.evidence))).one_or_none()
        return _violation_record(row, row.evidence) if row is not None else None


def record_violation(
    db: Database,
    violation: Violation,
    *,
    camera_id: str,
    run_id: int,
    dedup_key: str,
    occurred_at: datetime,
    evidence: Sequence[EvidenceFile],
    public_id: str | None = None,
    time_source: str = "operator",
    plate: PlateSuggestion | None = None,
) -> tuple[ViolationRecord, bool]:
    """Store a violation and all its evidence rows in one transaction, once per `dedup_key`.

    Either the violation and every evidence row are committed, or nothing is. When a
    violation with `dedup_key` already exists (recorded earlier, or by another process a
    moment ago) nothing is written and the stored one comes back: then its `public_id` may
    differ from the one given, and evidence files written under the given one are not
    referenced by any record (the caller removes them).

    Args:
        violation: what the rule reported.
        camera_id: the scene's camera id (the camera must exist: `ensure_camera`/`start_run`).
        run_id: the run that found it.
        dedup_key: identity of this violation across runs (at most 255 characters).
        occurred_at: UTC-aware wall-clock time of the violation.
        evidence: the files already written for it, at most one per kind.
        public_id: the id used in its evidence paths; a fresh uuid4 hex when None.
        time_source: where `occurred_at` came from (`pipeline.timing.TimeSource`; "unknown" cannot
            be confirmed). The default trusts the caller's time, as given by an operator.

    The violation is sealed in the same transaction (`pipeline.store.seals`) and the new head of the
    seal chain is written to the checkpoint file after the commit.
        plate: what the plate reader read, stored beside it as the reviewer's suggestion.

    Returns:
        The stored record and whether this call created it.

    Raises:
        ValueError: a bad argument (naive time, repeated evidence kind, key too long).
        StorageError: the database refused or failed.
    """
    _check_length("dedup_key", dedup_key, DEDUP_KEY_LENGTH)
    kinds = [f.kind for f in evidence]
    repeated = sorted({k for k in kinds if kinds.count(k) > 1})
    if repeated:
        raise ValueError(f"evidence must hold at most one file per kind, got {repeated} more than once")
    existing = find_violation(db, dedup_key)
    if existing is not None:
        return existing, False
    row = ViolationRow.from_violation(
        violation,
        camera_id=camera_id,
        run_id=run_id,
        dedup_key=dedup_key,
        occurred_at=occurred_at,
        public_id=public_id,
        time_source=time_source,
    )
    key = load_signing_key(db.data_dir)
    try:
        with db.session() as s:
            s.add(row)
            s.flush()  # the violation's id is needed by its evidence rows
            files = [EvidenceRow.from_file(row.id, f) for f in evidence]
            s.add_all(files)
            if plate is not None:
                s.add(PlateReadingRow.from_suggestion(row.id, plate))
            s.flush()
            outbox.add_violation_event(s, row, files)  # same transaction: no record without its event
            seal = add_seal(s, row, files, key)
            sealed = (seal.id, seal.seal_hash)
            record = _violation_record(row, files)
    except IntegrityError as exc:
        # Most likely another process recorded the same key between our look and our insert.
        existing = find_violation(db, dedup_key)
        if existing is None:
            raise StorageError(
                f"Could not record violation {dedup_key!r}: the database refused it "
                f"({failure_reason(exc, db.engine.url)}). Check that camera {camera_id!r} and run {run_id} exist."
            ) from exc
        return existing, False
    checkpoint(db, key, "seals", *sealed)
    return record, True


def count_violations(
    db: Database,
    *,
    run_id: int | None = None,
    camera_id: str | None = None,
    status: ViolationStatus | str | None = None,
    rule: str | None = None,
) -> int:
    """How many violations match every filter given."""
    query = select(func.count()).select_from(ViolationRow).where(*_filters(run_id, camera_id, status, rule))
    with db.session() as s:
        return s.scalars(query).one()


def count_violations_by_rule(
    db: Database, *, run_id: int | None = None, camera_id: str | None = None
) -> dict[str, int]:
    """Violations per rule name, for a run or camera summary."""
    query = (
        select(ViolationRow.rule, func.count())
        .where(*_filters(run_id, camera_id, None, None))
        .group_by(ViolationRow.rule)
        .order_by(ViolationRow.rule)
    )
    with db.session() as s:
        return {rule: count for rule, count in s.execute(query).tuples()}


def list_violations(
    db: Database,
    *,
    run_id: int | None = None,
    camera_id: str | None = None,
    status: ViolationStatus | str | None = None,
    rule: str | None = None,
    limit: int | None = None,
) -> list[ViolationRecord]:
    """Violations matching every filter given, oldest first, with their evidence."""
    query = (
        select(ViolationRow)
        .where(*_filters(run_id, camera_id, status, rule))
        .options(selectinload(ViolationRow.evidence))
        .order_by(ViolationRow.occurred_at, ViolationRow.id)
        .limit(limit)
    )
    with db.session() as s:
        return [_violation_record(row, row.evidence) for row in s.scalars(query)]


def _filters(
    run_id: int | None, camera_id: str | None, status: ViolationStatus | str | None, rule: str | None
) -> list[Any]:
    conditions: list[Any] = []
    if run_id is not None:
        conditions.append(ViolationRow.run_id == run_id)
    if camera_id is not None:
        conditions.append(ViolationRow.camera_id == camera_id)
    if status is not None:
        conditions.append(ViolationRow.status == ViolationStatus(status))
    if rule is not None:
        conditions.append(ViolationRow.rule == rule)
    return conditions


def _check_length(name: str, value: str | None, limit: int) -> None:
    # SQLite would store an over-long value; PostgreSQL would refuse it. Refuse it everywhere.
    if value is not None and len(value) > limit:
        raise ValueError(f"{name} must be at most {limit} characters, got {len(value)}: {value[:40]!r}...")


def _violation_record(row: ViolationRow, evidence: Sequence[EvidenceRow]) -> ViolationRecord:
    return ViolationRecord(
        id=row.id,
        public_id=row.public_id,
        dedup_key=row.dedup_key,
        camera_id=row.camera_id,
        run_id=row.run_id,
        rule=row.rule,
        where=row.where_id,
        track_id=row.track_id,
        label=row.label,
        frame_index=row.frame_index,
        time_s=row.time_s,
        occurred_at=row.occurred_at,
        box=Box(row.x1, row.y1, row.x2, row.y2),
        confidence=row.confidence,
        status=ViolationStatus(row.status),
        signal_id=row.signal_id,
        signal_colour=row.signal_colour,
        seconds_into_colour=row.seconds_into_colour,
        plate_text=row.plate_text,
        evidence={EvidenceKind(e.kind).value: EvidenceRef(e.path, e.sha256) for e in evidence},
        time_source=row.time_source,
        colour_onset_seen=row.colour_onset_seen,
    )


def _run_record(run: RunRow) -> RunRecord:
    return RunRecord(
        id=run.id,
        camera_id=run.camera_id,
        source=run.source,
        source_sha256=run.source_sha256,
        status=RunStatus(run.status),
        started_at=run.started_at,
        finished_at=run.finished_at,
        model_name=run.model_name,
        model_sha256=run.model_sha256,
        scene_sha256=run.scene_sha256,
        settings_hash=run.settings_hash,
        software_version=run.software_version,
        frames_read=run.frames_read,
        frames_analysed=run.frames_analysed,
        frames_dropped=run.frames_dropped,
        frames_expected=run.frames_expected,
    )
