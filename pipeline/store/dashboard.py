"""What the operations-room dashboard shows, read in a few queries.

Times are bucketed in the server's local time zone (as the queue's date filters are), in Python
rather than SQL, so SQLite and PostgreSQL give the same buckets. Only the columns needed are
read, over a bounded window (the last day by hour, the last week by day).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from pipeline.store.columns import utc_now
from pipeline.store.db import Database
from pipeline.store.models import CameraLeaseRow, CoverageRow, InstanceRow, JobRow, OutboxRow, ReviewRow, ViolationRow
from pipeline.store.records import JobStatus, ReviewDecision, ViolationStatus

UNWATCHED = "unwatched"
BACKLOG_AGES = (("under 1 h", timedelta(hours=1)), ("1–24 h", timedelta(days=1)), ("1–7 days", timedelta(days=7)),
                ("over 7 days", None))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Bucket:
    """Violations of one camera and rule in one hour or day (local time)."""

    start: datetime
    camera: str
    rule: str
    count: int


@dataclass(frozen=True, slots=True)
class CameraCoverage:
    """Seconds of the window a camera spent in each state (`unwatched`: no daemon on it)."""

    camera: str
    seconds: dict[str, float]
    spans: tuple[tuple[datetime, datetime, str], ...] = ()
    """The periods inside the window, in time order: (start, end, state)."""

    @property
    def enforcing_share(self) -> float:
        total = sum(self.seconds.values())
        return self.seconds.get("enforcing", 0.0) / total if total else 0.0


@dataclass(frozen=True, slots=True)
class InstanceHealth:
    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_age_s: float
    cameras: tuple[str, ...]
    alive: bool


@dataclass(frozen=True, slots=True)
class Dashboard:
    now: datetime
    hourly: list[Bucket]
    daily: list[Bucket]
    status_counts: dict[str, int]
    reject_reasons: dict[str, int]
    backlog_ages: list[tuple[str, int]]
    oldest_pending: datetime | None
    coverage: list[CameraCoverage]
    coverage_days: int
    coverage_since: datetime
    camera_states: dict[str, str]
    instances: list[InstanceHealth]
    outbox_pending: int
    jobs: dict[str, int] = field(default_factory=dict)


def load_dashboard(db: Database, *, now: datetime | None = None, days: int = 7, alive_s: float = 60.0) -> Dashboard:
    """Everything the dashboard draws, as of `now` (default: the current time)."""
    now = now or utc_now()
    day_start = _local_day(now) - timedelta(days=days - 1)
    hour_start = _local_hour(now) - timedelta(hours=23)
    with db.session() as s:
        rows = s.execute(
            select(ViolationRow.camera_id, ViolationRow.rule, ViolationRow.occurred_at)
            .where(ViolationRow.occurred_at >= min(day_start, hour_start))
        ).tuples().all()  # fmt: skip
        by_status = select(ViolationRow.status, func.count()).group_by(ViolationRow.status)
        statuses = dict(s.execute(by_status).tuples().all())
        reasons = dict(
            s.execute(
                select(ReviewRow.reason, func.count())
                .join(ViolationRow, ViolationRow.id == ReviewRow.violation_id)
                .where(ReviewRow.decision == ReviewDecision.REJECT, ViolationRow.status == ViolationStatus.REJECTED)
                .group_by(ReviewRow.reason)
            ).tuples().all()
        )
        pending = s.scalars(select(ViolationRow.created_at).where(ViolationRow.status == ViolationStatus.PENDING)).all()
        periods = s.scalars(
            select(CoverageRow).where(CoverageRow.ended_at.is_(None) | (CoverageRow.ended_at >= day_start))
        ).all()
        cameras = s.scalars(select(CoverageRow.camera_id).distinct()).all()
        open_rows = s.scalars(select(CoverageRow).where(CoverageRow.ended_at.is_(None)))
        open_states = {r.camera_id: r.reason for r in open_rows}
        instances = s.scalars(select(InstanceRow).order_by(InstanceRow.started_at)).all()
        leases = s.execute(select(CameraLeaseRow.instance, CameraLeaseRow.camera_id, CameraLeaseRow.expires_at)).all()
        outbox = s.scalars(select(func.count()).select_from(OutboxRow).where(OutboxRow.sent_at.is_(None))).one()
        jobs = dict(s.execute(select(JobRow.status, func.count()).group_by(JobRow.status)).tuples().all())
        coverage = [_coverage(c, [p for p in periods if p.camera_id == c], day_start, now) for c in sorted(cameras)]
        health = [_instance(i, leases, now, alive_s) for i in instances]
    return Dashboard(
        now=now,
        hourly=_buckets(rows, hour_start, _local_hour),
        daily=_buckets(rows, day_start, _local_day),
        status_counts={s.value: int(statuses.get(s, 0)) for s in ViolationStatus},
        reject_reasons={str(r or "unspecified"): int(n) for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])},
        backlog_ages=_ages(pending, now),
        oldest_pending=min(pending) if pending else None,
        coverage=coverage,
        coverage_days=days,
        coverage_since=day_start,
        camera_states=open_states,
        instances=health,
        outbox_pending=int(outbox),
        jobs={s.value: int(jobs.get(s, 0)) for s in JobStatus},
    )


def _local_hour(t: datetime) -> datetime:
    return t.astimezone().replace(minute=0, second=0, microsecond=0)


def _local_day(t: datetime) -> datetime:
    return t.astimezone().replace(hour=0, minute=0, second=0, microsecond=0)


def _buckets(
    rows: Sequence[tuple[str, str, datetime]], start: datetime, floor: Callable[[datetime], datetime]
) -> list[Bucket]:
    counts = Counter((floor(at), camera, rule) for camera, rule, at in rows if at >= start)
    return [Bucket(t, c, r, n) for (t, c, r), n in sorted(counts.items())]


def _ages(created: list[datetime], now: datetime) -> list[tuple[str, int]]:
    out, lower = [], timedelta(0)
    for label, upper in BACKLOG_AGES:
        n = sum(1 for t in created if now - t >= lower and (upper is None or now - t < upper))
        out.append((label, n))
        lower = upper or lower
    return out


def _coverage(camera: str, periods: list[CoverageRow], start: datetime, now: datetime) -> CameraCoverage:
    seconds: Counter[str] = Counter()
    spans = []
    for p in sorted(periods, key=lambda p: p.started_at):
        # an open period lasts as far as its daemon's last sign of life
        end = min(p.ended_at if p.ended_at is not None else p.last_seen_at, now)
        begin = max(p.started_at, start)
        if end > begin:
            seconds[p.reason] += (end - begin).total_seconds()
            spans.append((begin, end, p.reason))
    seconds[UNWATCHED] += max(0.0, (now - start).total_seconds() - sum(seconds.values()))
    return CameraCoverage(camera, dict(seconds), tuple(spans))


def _instance(
    row: InstanceRow, leases: Sequence[Any], now: datetime, alive_s: float
) -> InstanceHealth:
    age = (now - row.heartbeat_at).total_seconds()
    cameras = tuple(sorted(c for inst, c, expires in leases if inst == row.id and expires > now))
    return InstanceHealth(row.id, row.host, row.pid, row.started_at, age, cameras, age <= alive_s)
