"""The jobs table: what `trafficcam submit` queued and where each file stands.

The broker (RabbitMQ) carries only a job id and decides who works on what; this table is what
people read (`trafficcam jobs`): status, attempts, which worker, progress, the run it made. A job
whose worker died shows as running with an old heartbeat until the broker hands it to another
worker, which starts it again (`start_job`) and marks the dead worker's run interrupted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from pipeline.store.columns import utc_now
from pipeline.store.db import Database
from pipeline.store.models import JobRow, RunRow
from pipeline.store.records import JobStatus, RunStatus


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One file to process, as submitted."""

    camera_id: str
    video: str
    scene: str
    settings: dict[str, Any]


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: int
    job_id: str
    batch: str
    camera_id: str
    video: str
    scene: str
    settings: dict[str, Any]
    status: JobStatus
    attempts: int
    worker: str | None
    run_id: int | None
    frames_done: int
    frames_total: int | None
    violations: int | None
    error: str | None
    submitted_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None

    @property
    def progress(self) -> float | None:
        """Share of the file's frames done (None when its length is unknown)."""
        if self.status is JobStatus.DONE:
            return 1.0
        return min(1.0, self.frames_done / self.frames_total) if self.frames_total else None


def add_jobs(db: Database, batch: str, job_ids: Sequence[str], specs: Sequence[JobSpec]) -> list[JobRecord]:
    """Record queued jobs (one per spec, with the given ids) in one transaction."""
    now = utc_now()
    rows = [
        JobRow(
            job_id=job_id, batch=batch, camera_id=spec.camera_id, video=spec.video, scene=spec.scene,
            settings_json=json.dumps(spec.settings, sort_keys=True), status=JobStatus.QUEUED, attempts=0,
            frames_done=0, submitted_at=now,
        )
        for job_id, spec in zip(job_ids, specs, strict=True)
    ]  # fmt: skip
    with db.session() as s:
        s.add_all(rows)
        s.flush()
        return [_record(r) for r in rows]


def get_job(db: Database, job_id: str) -> JobRecord | None:
    with db.session() as s:
        row = s.scalars(select(JobRow).where(JobRow.job_id == job_id)).one_or_none()
        return _record(row) if row is not None else None


def start_job(db: Database, job_id: str, worker: str) -> JobRecord | None:
    """Worker `worker` takes job `job_id`: running, one more attempt. None when it is already done
    (a redelivery of a message whose work finished just before its acknowledgement was lost).

    A run left by an earlier attempt (its worker killed mid-file) is marked interrupted: the
    violations it recorded stay, each whole, and the new attempt finds them again by dedup key.
    """
    now = utc_now()
    with db.session() as s:
        row = s.scalars(select(JobRow).where(JobRow.job_id == job_id).with_for_update()).one_or_none()
        if row is None:
            raise LookupError(f"no job {job_id!r} in the jobs table (submitted to another database?)")
        if row.status is JobStatus.DONE:
            return None
        if row.run_id is not None:
            s.execute(
                update(RunRow)
                .where(RunRow.id == row.run_id, RunRow.status == RunStatus.RUNNING)
                .values(status=RunStatus.INTERRUPTED, finished_at=now)
            )
        row.status, row.worker, row.attempts = JobStatus.RUNNING, worker, row.attempts + 1
        row.started_at = row.heartbeat_at = now
        row.run_id, row.frames_done, row.error, row.finished_at = None, 0, None, None
        return _record(row)


def job_run_started(db: Database, job_id: str, run_id: int) -> None:
    _set(db, job_id, run_id=run_id, heartbeat_at=utc_now())


def job_progress(db: Database, job_id: str, frames_done: int, frames_total: int | None) -> None:
    _set(db, job_id, frames_done=frames_done, frames_total=frames_total, heartbeat_at=utc_now())


def finish_job(
    db: Database, job_id: str, status: JobStatus, *, violations: int | None = None, error: str | None = None
) -> None:
    """Done (with how many violations) or failed (with why), or back to queued for a retry."""
    now = utc_now()
    values: dict[str, Any] = {"status": status, "error": error[:4000] if error else None, "heartbeat_at": now}
    if status is not JobStatus.QUEUED:
        values["finished_at"] = now
    if violations is not None:
        values["violations"] = violations
    _set(db, job_id, **values)


def list_jobs(
    db: Database, *, batch: str | None = None, status: JobStatus | None = None, limit: int = 200
) -> list[JobRecord]:
    """Jobs, newest submission last."""
    query = select(JobRow).order_by(JobRow.id.desc()).limit(limit)
    if batch is not None:
        query = query.where(JobRow.batch == batch)
    if status is not None:
        query = query.where(JobRow.status == status)
    with db.session() as s:
        return [_record(r) for r in reversed(s.scalars(query).all())]


def job_counts(db: Database, batch: str | None = None) -> dict[JobStatus, int]:
    """How many jobs are in each status (every status present, 0 where none)."""
    query = select(JobRow.status, func.count()).group_by(JobRow.status)
    if batch is not None:
        query = query.where(JobRow.batch == batch)
    with db.session() as s:
        found = {JobStatus(status): n for status, n in s.execute(query).tuples()}
    return {status: found.get(status, 0) for status in JobStatus}


def _set(db: Database, job_id: str, **values: Any) -> None:
    with db.session() as s:
        s.execute(update(JobRow).where(JobRow.job_id == job_id).values(**values))


def _record(row: JobRow) -> JobRecord:
    return JobRecord(
        id=row.id, job_id=row.job_id, batch=row.batch, camera_id=row.camera_id, video=row.video, scene=row.scene,
        settings=json.loads(row.settings_json), status=JobStatus(row.status), attempts=row.attempts,
        worker=row.worker, run_id=row.run_id, frames_done=row.frames_done, frames_total=row.frames_total,
        violations=row.violations, error=row.error, submitted_at=row.submitted_at, started_at=row.started_at,
        heartbeat_at=row.heartbeat_at, finished_at=row.finished_at,
    )  # fmt: skip
