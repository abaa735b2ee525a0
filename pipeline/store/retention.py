"""What evidence retention asks of the database: old packages to delete, and the note that they were.

Records are never deleted: a violation whose files retention removed keeps its row, its
evidence rows (paths and SHA-256s) and gets `evidence_removed_at` plus a note saying why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from pipeline.store.db import Database
from pipeline.store.models import ViolationRow
from pipeline.store.records import ViolationStatus, require_aware


@dataclass(frozen=True, slots=True)
class ExpiredEvidence:
    violation_id: int
    public_id: str
    camera_id: str
    status: ViolationStatus
    paths: tuple[str, ...]
    """Evidence file paths, relative to the data dir."""


def expired_evidence(
    db: Database,
    older_than: datetime,
    statuses: Sequence[ViolationStatus | str],
    *,
    camera_id: str | None = None,
    exclude_cameras: Sequence[str] = (),
    limit: int = 500,
) -> list[ExpiredEvidence]:
    """Violations that occurred before `older_than`, in one of `statuses`, whose files are still kept."""
    require_aware(older_than, "older_than")
    query = (
        select(ViolationRow)
        .where(
            ViolationRow.occurred_at < older_than,
            ViolationRow.evidence_removed_at.is_(None),
            ViolationRow.status.in_([ViolationStatus(s) for s in statuses]),
        )
        .options(selectinload(ViolationRow.evidence))
        .order_by(ViolationRow.occurred_at, ViolationRow.id)
        .limit(limit)
    )
    if camera_id is not None:
        query = query.where(ViolationRow.camera_id == camera_id)
    if exclude_cameras:
        query = query.where(ViolationRow.camera_id.not_in(list(exclude_cameras)))
    with db.session() as s:
        return [
            ExpiredEvidence(row.id, row.public_id, row.camera_id, ViolationStatus(row.status),
                            tuple(e.path for e in row.evidence))
            for row in s.scalars(query)
        ]  # fmt: skip


def mark_evidence_removed(db: Database, violation_ids: Sequence[int], at: datetime, note: str) -> None:
    """Record that the evidence files of these violations were removed at `at`, and why."""
    require_aware(at, "at")
    if not violation_ids:
        return
    with db.session() as s:
        s.execute(
            update(ViolationRow)
            .where(ViolationRow.id.in_(list(violation_ids)), ViolationRow.evidence_removed_at.is_(None))
            .values(evidence_removed_at=at, evidence_note=note)
        )
