"""The coverage ledger: when each watched camera was enforcing, and when not and why.

A camera's history is a sequence of periods; at most one per camera is open (`ended_at` is
None). The daemon calls `record_coverage` whenever a camera's state changes and
`touch_coverage` now and then while it holds, so "was this junction watched at 08:14?" has an
answer even after a crash (`coverage_at`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update

from pipeline.store import outbox
from pipeline.store.columns import utc_now
from pipeline.store.db import Database
from pipeline.store.leases import db_now, instance_id
from pipeline.store.models import CameraLeaseRow, CameraRow, CoverageRow
from pipeline.store.records import require_aware


class CoverageReason(StrEnum):
    """Why a camera is (or is not) enforcing."""

    ENFORCING = "enforcing"
    STARTING = "starting"  # connected, measuring the frame rate and reading the signals
    STREAM_DOWN = "stream_down"
    SIGNAL_UNREADABLE = "signal_unreadable"
    FPS_BELOW_FLOOR = "fps_below_floor"
    EVIDENCE_PAUSED = "evidence_paused"  # disk nearly full: violations could not be proven
    LEASE_LOST = "lease_lost"  # the lease could not be renewed (database unreachable, disk full): stopped here
    WORKER_FAILED = "worker_failed"  # the camera's worker died; the daemon restarts it
    SCENE_MOVED = "scene_moved"  # the view no longer matches the scene's reference frame


UNWATCHED = "unwatched"
"""The state a `camera.coverage` event reports when no daemon watches the camera any more."""


@dataclass(frozen=True, slots=True)
class CoveragePeriod:
    camera_id: str
    started_at: datetime
    ended_at: datetime | None
    last_seen_at: datetime
    reason: CoverageReason
    detail: str | None
    instance: str

    @property
    def enforcing(self) -> bool:
        return self.reason is CoverageReason.ENFORCING


def record_coverage(
    db: Database, camera_id: str, reason: CoverageReason | str, at: datetime, detail: str | None = None
) -> None:
    """From `at` on, camera `camera_id` is in state `reason`: close its open period (when the
    state differs) and open a new one. The camera row is added if new."""
    reason = CoverageReason(reason)
    require_aware(at, "at")
    with db.session() as s:
        if s.get(CameraRow, camera_id) is None:
            s.add(CameraRow(id=camera_id, name=camera_id, created_at=utc_now()))
            s.flush()
        current = s.scalars(
            select(CoverageRow).where(CoverageRow.camera_id == camera_id, CoverageRow.ended_at.is_(None))
        ).all()
        previous = None
        for row in current:
            if row.reason == reason.value and row.instance == instance_id():
                row.last_seen_at = at
                return
            row.ended_at = max(at, row.started_at)
            previous = row.reason
        outbox.add_coverage_event(s, camera_id, reason.value, at, previous=previous, detail=detail,
                                  instance=instance_id())
        s.add(
            CoverageRow(
                camera_id=camera_id, started_at=at, ended_at=None, last_seen_at=at,
                enforcing=reason is CoverageReason.ENFORCING, reason=reason.value, detail=detail,
                instance=instance_id(),
            )
        )  # fmt: skip


def touch_coverage(db: Database, camera_id: str, at: datetime) -> None:
    """Camera `camera_id` is still in the state of its open period at `at`."""
    require_aware(at, "at")
    with db.session() as s:
        s.execute(
            update(CoverageRow)
            .where(CoverageRow.camera_id == camera_id, CoverageRow.ended_at.is_(None))
            .values(last_seen_at=at)
        )


def close_coverage(db: Database, camera_id: str, at: datetime) -> None:
    """End the open period of `camera_id` at `at` (the daemon stops watching it)."""
    require_aware(at, "at")
    with db.session() as s:
        for row in s.scalars(
            select(CoverageRow).where(CoverageRow.camera_id == camera_id, CoverageRow.ended_at.is_(None))
        ):
            row.ended_at = max(at, row.started_at)
            row.last_seen_at = max(at, row.started_at)
            outbox.add_coverage_event(s, camera_id, UNWATCHED, row.ended_at, previous=row.reason, detail=None,
                                      instance=row.instance)


def record_unwatched(db: Database, camera_id: str, reason: CoverageReason, at: datetime, detail: str) -> bool:
    """Record that this instance stopped watching `camera_id` for `reason`, unless another
    instance holds the camera's lease now (its ledger is that instance's to keep); True if written."""
    with db.session() as s:
        lease = s.get(CameraLeaseRow, camera_id)
        if lease is not None and lease.instance != instance_id() and lease.expires_at >= db_now(s):
            return False
    record_coverage(db, camera_id, reason, at, detail)
    return True


def close_stale_coverage(db: Database, camera_id: str) -> int:
    """End periods left open by a daemon that died at their last sign of life; return how many."""
    with db.session() as s:
        rows = s.scalars(
            select(CoverageRow).where(CoverageRow.camera_id == camera_id, CoverageRow.ended_at.is_(None))
        ).all()
        for row in rows:
            row.ended_at = row.last_seen_at
            outbox.add_coverage_event(s, camera_id, UNWATCHED, row.ended_at, previous=row.reason,
                                      detail="the instance watching it stopped answering", instance=row.instance)
        return len(rows)


def coverage_at(db: Database, camera_id: str, when: datetime) -> CoveragePeriod | None:
    """The period covering `when`, or None when no daemon was watching the camera then."""
    require_aware(when, "when")
    query = (
        select(CoverageRow)
        .where(CoverageRow.camera_id == camera_id, CoverageRow.started_at <= when)
        .where((CoverageRow.ended_at.is_(None) & (CoverageRow.last_seen_at >= when)) | (CoverageRow.ended_at > when))
        .order_by(CoverageRow.started_at.desc())
        .limit(1)
    )
    with db.session() as s:
        row = s.scalars(query).one_or_none()
        return _period(row) if row is not None else None


def list_coverage(
    db: Database, camera_id: str | None = None, since: datetime | None = None, until: datetime | None = None
) -> list[CoveragePeriod]:
    """Periods overlapping [since, until], oldest first."""
    query = select(CoverageRow).order_by(CoverageRow.camera_id, CoverageRow.started_at, CoverageRow.id)
    if camera_id is not None:
        query = query.where(CoverageRow.camera_id == camera_id)
    if since is not None:
        query = query.where(CoverageRow.ended_at.is_(None) | (CoverageRow.ended_at >= require_aware(since, "since")))
    if until is not None:
        query = query.where(CoverageRow.started_at <= require_aware(until, "until"))
    with db.session() as s:
        return [_period(row) for row in s.scalars(query)]


def _period(row: CoverageRow) -> CoveragePeriod:
    return CoveragePeriod(
        camera_id=row.camera_id, started_at=row.started_at, ended_at=row.ended_at, last_seen_at=row.last_seen_at,
        reason=CoverageReason(row.reason), detail=row.detail, instance=row.instance,
    )  # fmt: skip
