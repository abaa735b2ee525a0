"""What the review app reads: the queue with filters and keyset paging, one violation in full,
and evidence files by id.

Paging is by key (occurred_at, id), newest first, so page 500 of a queue of 50,000 costs what
page 1 does: each page asks for the rows just older (or newer) than a violation id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from pipeline.store.db import Database
from pipeline.store.models import CameraRow, EvidenceRow, PlateReadingRow, RunRow, SceneVersionRow, ViolationRow
from pipeline.store.records import EvidenceKind, PlateSuggestion, ReviewDecision, ViolationStatus
from pipeline.store.review_repo import ReviewRecord, reviews_of

MAX_PAGE = 200
_THUMB_KINDS = (EvidenceKind.VEHICLE, EvidenceKind.DURING)


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """Which violations a queue shows; None means any. Times are UTC-aware, `until` exclusive."""

    status: ViolationStatus | None = ViolationStatus.PENDING
    camera: str | None = None
    rule: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[Any]:
        """The WHERE conditions on violations."""
        out: list[Any] = []
        if self.status is not None:
            out.append(ViolationRow.status == self.status)
        if self.camera:
            out.append(ViolationRow.camera_id == self.camera)
        if self.rule:
            out.append(ViolationRow.rule == self.rule)
        if self.since is not None:
            out.append(ViolationRow.occurred_at >= self.since)
        if self.until is not None:
            out.append(ViolationRow.occurred_at < self.until)
        return out


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One row of the queue."""

    id: int
    public_id: str
    camera_id: str
    rule: str
    where: str
    label: str
    occurred_at: datetime
    status: ViolationStatus
    confidence: float
    signal_colour: str | None
    seconds_into_colour: float | None
    plate_text: str | None
    thumb_evidence_id: int | None
    time_source: str = "operator"
    colour_onset_seen: bool | None = None


@dataclass(frozen=True, slots=True)
class QueuePage:
    """A page of the queue; `older` / `newer` are the cursors (violation ids) for the next pages."""

    items: list[QueueItem]
    total: int
    older: int | None
    newer: int | None


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """An evidence file as the app serves it; `path` is relative to the data dir."""

    id: int
    violation_id: int
    public_id: str
    kind: str
    path: str
    sha256: str
    bytes: int
    mime: str


@dataclass(frozen=True, slots=True)
class ViolationDetail:
    """Everything a reviewer sees about one violation."""

    item: QueueItem
    frame_index: int
    time_s: float
    track_id: int
    box: tuple[float, float, float, float]
    signal_id: str | None
    details: dict[str, Any]
    run_id: int
    source: str
    model_name: str
    model_sha256: str
    scene_sha256: str
    settings_hash: str
    software_version: str
    evidence_removed_at: datetime | None
    evidence: dict[str, EvidenceItem] = field(default_factory=dict)
    reviews: list[ReviewRecord] = field(default_factory=list)
    timezone: str | None = None
    source_sha256: str | None = None
    plate_reading: PlateSuggestion | None = None
    scene_version: int | None = None
    """The saved scene version the run judged by (None: a scene file that matches no version)."""
    scene_version_sha256: str | None = None

    @property
    def parked(self) -> bool:
        """Pending with the plate marked unreadable (the latest entry is a park)."""
        last = self.last_review
        return last is not None and last.decision is ReviewDecision.PARK

    @property
    def last_review(self) -> ReviewRecord | None:
        """The latest log entry, or None while undecided."""
        return self.reviews[-1] if self.reviews else None


def queue_page(
    db: Database, flt: QueueFilter, *, older: int | None = None, newer: int | None = None, per_page: int = 50
) -> QueuePage:
    """A page of violations matching `flt`, newest first.

    Args:
        older: show the violations just older than this violation id (the "next page").
        newer: show the violations just newer than this violation id (the "previous page").
        per_page: rows per page, at most `MAX_PAGE`.
    """
    per_page = max(1, min(per_page, MAX_PAGE))
    conditions = flt.conditions()
    order = (ViolationRow.occurred_at.desc(), ViolationRow.id.desc())
    with db.session() as s:
        total = s.scalars(select(func.count()).select_from(ViolationRow).where(*conditions)).one()
        query = select(ViolationRow).where(*conditions)
        cursor = _cursor(s, newer if newer is not None else older)
        if newer is not None and cursor is not None:
            rows = list(s.scalars(query.where(_after(cursor)).order_by(*_asc()).limit(per_page + 1)))
            more_newer, rows = len(rows) > per_page, rows[:per_page][::-1]
            more_older = True
        else:
            if cursor is not None:
                query = query.where(_before(cursor))
            rows = list(s.scalars(query.order_by(*order).limit(per_page + 1)))
            more_older, rows = len(rows) > per_page, rows[:per_page]
            more_newer = cursor is not None and bool(rows) and _exists(s, conditions, _after(_key(rows[0])))
        thumbs = _thumbnails(s, [r.id for r in rows])
        items = [_queue_item(r, thumbs.get(r.id)) for r in rows]
    return QueuePage(
        items=items,
        total=total,
        older=items[-1].id if items and more_older else None,
        newer=items[0].id if items and more_newer else None,
    )


def next_in_queue(db: Database, flt: QueueFilter, after_public_id: str | None) -> str | None:
    """The public id of the violation after `after_public_id` in the queue (or its first), or None.

    When nothing is older it starts again from the newest, skipping `after_public_id` itself.
    """
    conditions = flt.conditions()
    order = (ViolationRow.occurred_at.desc(), ViolationRow.id.desc())
    with db.session() as s:
        key = None
        if after_public_id:
            row = s.execute(
                select(ViolationRow.occurred_at, ViolationRow.id).where(ViolationRow.public_id == after_public_id)
            ).first()
            key = (row[0], row[1]) if row is not None else None
        base = select(ViolationRow.public_id).where(*conditions)
        if key is not None:
            found = s.scalars(base.where(_before(key)).order_by(*order).limit(1)).first()
            if found is not None:
                return found
            base = base.where(ViolationRow.public_id != after_public_id)
        return s.scalars(base.order_by(*order).limit(1)).first()


def filter_choices(db: Database) -> tuple[list[str], list[str]]:
    """The camera ids and rule names there are, for the queue's filter lists."""
    with db.session() as s:
        cameras = list(s.scalars(select(CameraRow.id).order_by(CameraRow.id)))
        rules = list(s.scalars(select(ViolationRow.rule).distinct().order_by(ViolationRow.rule)))
    return cameras, rules


def violation_detail(db: Database, public_id: str) -> ViolationDetail | None:
    """One violation with its run, evidence files and review log, or None."""
    with db.session() as s:
        found = s.execute(
            select(ViolationRow, RunRow)
            .join(RunRow, RunRow.id == ViolationRow.run_id)
            .where(ViolationRow.public_id == public_id)
        ).first()
        if found is None:
            return None
        v, run = found.tuple()
        files = s.scalars(select(EvidenceRow).where(EvidenceRow.violation_id == v.id).order_by(EvidenceRow.id))
        evidence = {EvidenceKind(e.kind).value: _evidence_item(e, public_id) for e in files}
        thumb = evidence.get("vehicle") or evidence.get("during")
        reading = s.scalars(select(PlateReadingRow).where(PlateReadingRow.violation_id == v.id)).first()
        version = s.get(SceneVersionRow, run.scene_version_id) if run.scene_version_id is not None else None
        detail = ViolationDetail(
            item=_queue_item(v, thumb.id if thumb else None),
            frame_index=v.frame_index,
            time_s=v.time_s,
            track_id=v.track_id,
            box=(v.x1, v.y1, v.x2, v.y2),
            signal_id=v.signal_id,
            details=_details(v.details_json),
            run_id=run.id,
            source=run.source,
            model_name=run.model_name,
            model_sha256=run.model_sha256,
            scene_sha256=run.scene_sha256,
            settings_hash=run.settings_hash,
            software_version=run.software_version,
            evidence_removed_at=v.evidence_removed_at,
            evidence=evidence,
            timezone=run.timezone,
            source_sha256=run.source_sha256,
            plate_reading=reading.suggestion() if reading is not None else None,
            scene_version=version.version if version is not None else None,
            scene_version_sha256=version.sha256 if version is not None else None,
        )
    detail.reviews.extend(reviews_of(db, public_id))
    return detail


def get_evidence(db: Database, evidence_id: int) -> EvidenceItem | None:
    """The evidence file with database id `evidence_id`, or None (also when its files were removed)."""
    with db.session() as s:
        found = s.execute(
            select(EvidenceRow, ViolationRow.public_id, ViolationRow.evidence_removed_at)
            .join(ViolationRow, ViolationRow.id == EvidenceRow.violation_id)
            .where(EvidenceRow.id == evidence_id)
        ).first()
        if found is None or found[2] is not None:
            return None
        return _evidence_item(found[0], found[1])


def evidence_of(db: Database, public_ids: Sequence[str]) -> list[EvidenceItem]:
    """Every evidence file of the given violations (those whose files were not removed)."""
    out: list[EvidenceItem] = []
    with db.session() as s:
        for start in range(0, len(public_ids), 500):
            chunk = list(public_ids[start : start + 500])
            query = (
                select(EvidenceRow, ViolationRow.public_id)
                .join(ViolationRow, ViolationRow.id == EvidenceRow.violation_id)
                .where(ViolationRow.public_id.in_(chunk), ViolationRow.evidence_removed_at.is_(None))
                .order_by(ViolationRow.id, EvidenceRow.id)
            )
            out.extend(_evidence_item(e, pid) for e, pid in s.execute(query).tuples())
    return out


def _cursor(s: Any, violation_id: int | None) -> tuple[datetime, int] | None:
    if violation_id is None:
        return None
    row = s.execute(select(ViolationRow.occurred_at, ViolationRow.id).where(ViolationRow.id == violation_id)).first()
    return (row[0], row[1]) if row is not None else None


def _key(row: ViolationRow) -> tuple[datetime, int]:
    return row.occurred_at, row.id


def _before(key: tuple[datetime, int]) -> Any:
    """Rows older than `key` in queue order (occurred_at, id descending)."""
    at, vid = key
    return or_(ViolationRow.occurred_at < at, and_(ViolationRow.occurred_at == at, ViolationRow.id < vid))


def _after(key: tuple[datetime, int]) -> Any:
    at, vid = key
    return or_(ViolationRow.occurred_at > at, and_(ViolationRow.occurred_at == at, ViolationRow.id > vid))


def _asc() -> tuple[Any, Any]:
    return ViolationRow.occurred_at.asc(), ViolationRow.id.asc()


def _exists(s: Any, conditions: list[Any], extra: Any) -> bool:
    return s.scalars(select(ViolationRow.id).where(*conditions, extra).limit(1)).first() is not None


def _thumbnails(s: Any, violation_ids: list[int]) -> dict[int, int]:
    """Evidence id of each violation's thumbnail: the vehicle crop, else the during frame."""
    if not violation_ids:
        return {}
    query = select(EvidenceRow.violation_id, EvidenceRow.kind, EvidenceRow.id).where(
        EvidenceRow.violation_id.in_(violation_ids), EvidenceRow.kind.in_(_THUMB_KINDS)
    )
    found: dict[int, dict[str, int]] = {}
    for vid, kind, eid in s.execute(query).tuples():
        found.setdefault(vid, {})[EvidenceKind(kind).value] = eid
    return {vid: kinds.get("vehicle") or kinds["during"] for vid, kinds in found.items()}


def _queue_item(v: ViolationRow, thumb: int | None) -> QueueItem:
    return QueueItem(
        id=v.id,
        public_id=v.public_id,
        camera_id=v.camera_id,
        rule=v.rule,
        where=v.where_id,
        label=v.label,
        occurred_at=v.occurred_at,
        status=ViolationStatus(v.status),
        confidence=v.confidence,
        signal_colour=v.signal_colour,
        seconds_into_colour=v.seconds_into_colour,
        plate_text=v.plate_text,
        thumb_evidence_id=thumb if v.evidence_removed_at is None else None,
        time_source=v.time_source,
        colour_onset_seen=v.colour_onset_seen,
    )


def _evidence_item(e: EvidenceRow, public_id: str) -> EvidenceItem:
    return EvidenceItem(
        id=e.id,
        violation_id=e.violation_id,
        public_id=public_id,
        kind=EvidenceKind(e.kind).value,
        path=e.path,
        sha256=e.sha256,
        bytes=e.bytes,
        mime=e.mime,
    )


def _details(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {"unreadable": raw}
    return value if isinstance(value, dict) else {"value": value}
