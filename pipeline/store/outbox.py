"""The outbox: events for MQTT and webhooks, written in the transaction of what they describe.

The `add_*_event` functions take the caller's open session, so an event exists exactly when the
violation, review decision or coverage change it describes was committed. The relay
(`pipeline.events.relay`) reads them with `claim_pending` and marks them sent only after every
sink acknowledged them; each carries an `id` (a uuid hex) that receivers deduplicate by, since a
relay that crashes between the send and the mark sends that event again.

Evidence is referenced, never copied: an event holds the review app's paths (`/violations/<id>`,
`/evidence/<id>`) and each file's sha256; the relay makes them absolute with its `public_url`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from pipeline.store.columns import utc_now
from pipeline.store.db import Database
from pipeline.store.models import EvidenceRow, OutboxRow, ReviewRow, ViolationRow
from pipeline.store.records import ReviewDecision, ViolationStatus

VIOLATION_CREATED = "violation.created"
REVIEW_DECIDED = "review.decided"
CAMERA_COVERAGE = "camera.coverage"


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One stored event: `body` is the JSON text that goes out unchanged (but for URLs)."""

    seq: int
    event_id: str
    type: str
    camera_id: str | None
    body: str
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    pending: int
    sent: int
    oldest_pending: datetime | None


def add_event(s: Session, type_: str, camera_id: str | None, data: dict[str, Any]) -> str:
    """Add one event to the outbox in session `s` (the caller's transaction); return its id."""
    now = utc_now()
    event_id = uuid4().hex
    body = {"id": event_id, "type": type_, "time": _iso(now), "camera": camera_id, **data}
    s.add(
        OutboxRow(
            event_id=event_id, type=type_, camera_id=camera_id, created_at=now,
            payload=json.dumps(body, sort_keys=True), sent_at=None, attempts=0,
        )
    )  # fmt: skip
    return event_id


def add_violation_event(s: Session, row: ViolationRow, evidence: Sequence[EvidenceRow]) -> str:
    """The `violation.created` event of a violation just flushed in `s`."""
    return add_event(s, VIOLATION_CREATED, row.camera_id, {"violation": _violation_ref(row, evidence)})


def add_review_event(s: Session, review: ReviewRow, public_id: str) -> str:
    """The `review.decided` event of a review entry just flushed in `s`."""
    violation = s.scalars(select(ViolationRow).where(ViolationRow.public_id == public_id)).one()
    data = {
        "review": {
            "id": review.id, "decision": ReviewDecision(review.decision).value, "reason": review.reason,
            "reviewer": review.reviewer, "plate_text": review.plate_text, "decided_at": _iso(review.decided_at),
            "entry_hash": review.entry_hash,
        },
        "violation": {
            "id": public_id, "status": ViolationStatus(violation.status).value, "rule": violation.rule,
            "url": f"/violations/{public_id}",
        },
    }  # fmt: skip
    return add_event(s, REVIEW_DECIDED, violation.camera_id, data)


def add_coverage_event(
    s: Session, camera_id: str, reason: str, at: datetime, *, previous: str | None, detail: str | None, instance: str
) -> str:
    """The `camera.coverage` event: camera `camera_id` is now in state `reason` (or "unwatched")."""
    data = {
        "coverage": {
            "state": reason, "previous": previous, "enforcing": reason == "enforcing",
            "up": reason not in ("stream_down", "unwatched"), "since": _iso(at), "detail": detail,
            "instance": instance,
        }
    }  # fmt: skip
    return add_event(s, CAMERA_COVERAGE, camera_id, data)


class Claim:
    """Events held by one relay pass; `sent` / `failed` record what became of each."""

    def __init__(self, db: Database, session: Session | None, events: list[OutboxEvent]) -> None:
        self.db = db
        self.events = events
        self._session = session

    def sent(self, seq: int) -> None:
        """Event `seq` reached every sink."""
        self._execute(update(OutboxRow).where(OutboxRow.id == seq).values(sent_at=utc_now()))

    def failed(self, seq: int, error: str) -> None:
        """One more failed attempt at event `seq`; it stays pending."""
        stmt = update(OutboxRow).where(OutboxRow.id == seq)
        self._execute(stmt.values(attempts=OutboxRow.attempts + 1, last_error=error[:2000]))

    def _execute(self, stmt: Any) -> None:
        if self._session is not None:
            self._session.execute(stmt)
            return
        with self.db.session() as s:
            s.execute(stmt)


@contextmanager
def claim_pending(db: Database, limit: int = 100) -> Iterator[Claim]:
    """The oldest unsent events, held for one relay while the block runs.

    On PostgreSQL the rows stay locked (``FOR UPDATE SKIP LOCKED``) and the marks are committed
    when the block ends, so two relays never send the same event at once. SQLite has no row
    locks (and a long write transaction would stall the pipeline): each mark commits at once,
    and only one relay should run on it.
    """
    query = select(OutboxRow).where(OutboxRow.sent_at.is_(None)).order_by(OutboxRow.id).limit(limit)
    if db.dialect != "postgresql":
        with db.session() as s:
            events = [_event(r) for r in s.scalars(query)]
        yield Claim(db, None, events)
        return
    with db.session() as s:
        yield Claim(db, s, [_event(r) for r in s.scalars(query.with_for_update(skip_locked=True))])


def outbox_counts(db: Database) -> OutboxCounts:
    """How many events wait and how many went out, and when the oldest waiting one was written."""
    with db.session() as s:
        pending, oldest = s.execute(
            select(func.count(), func.min(OutboxRow.created_at)).where(OutboxRow.sent_at.is_(None))
        ).one()
        sent = s.scalars(select(func.count()).select_from(OutboxRow).where(OutboxRow.sent_at.is_not(None))).one()
    if oldest is not None and oldest.tzinfo is None:  # min() over SQLite bypasses the column type
        oldest = datetime.fromisoformat(str(oldest)).replace(tzinfo=UTC)
    return OutboxCounts(pending, sent, oldest)


def prune_sent(db: Database, before: datetime, batch: int = 5000, *, pending_too: bool = False) -> int:
    """Delete the events sent before `before`, `batch` rows a transaction; how many went.

    An event still pending (a sink down, or no relay configured) is kept unless `pending_too`,
    then one written before `before` goes as well. The records they described stay."""
    sent_old = OutboxRow.sent_at.is_not(None) & (OutboxRow.sent_at < before)
    where = sent_old | (OutboxRow.sent_at.is_(None) & (OutboxRow.created_at < before)) if pending_too else sent_old
    total = 0
    while True:
        with db.session() as s:
            ids = list(s.scalars(select(OutboxRow.id).where(where).order_by(OutboxRow.id).limit(batch)))
            if ids:
                s.execute(delete(OutboxRow).where(OutboxRow.id.in_(ids)))
        total += len(ids)
        if len(ids) < batch:
            return total


def list_events(db: Database, *, type_: str | None = None, limit: int = 1000) -> list[OutboxEvent]:
    """Stored events, oldest first (sent or not)."""
    query = select(OutboxRow).order_by(OutboxRow.id).limit(limit)
    if type_ is not None:
        query = query.where(OutboxRow.type == type_)
    with db.session() as s:
        return [_event(r) for r in s.scalars(query)]


def _violation_ref(row: ViolationRow, evidence: Sequence[EvidenceRow]) -> dict[str, Any]:
    return {
        "id": row.public_id, "rule": row.rule, "where": row.where_id, "label": row.label, "track_id": row.track_id,
        "occurred_at": _iso(row.occurred_at), "signal_colour": row.signal_colour,
        "seconds_into_colour": row.seconds_into_colour, "confidence": round(row.confidence, 4),
        "box": [row.x1, row.y1, row.x2, row.y2], "status": ViolationStatus(row.status).value, "run_id": row.run_id,
        "url": f"/violations/{row.public_id}",
        "evidence": [
            {"kind": str(e.kind), "id": e.id, "sha256": e.sha256, "mime": e.mime, "url": f"/evidence/{e.id}"}
            for e in evidence
        ],
    }  # fmt: skip


def _event(row: OutboxRow) -> OutboxEvent:
    return OutboxEvent(row.id, row.event_id, row.type, row.camera_id, row.payload, row.attempts)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
