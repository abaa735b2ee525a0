"""Violations as flat rows for export: each with its latest review entry and evidence hashes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, select

from pipeline.store.db import Database
from pipeline.store.models import EvidenceRow, ReviewRow, RunRow, ViolationRow
from pipeline.store.records import EvidenceKind, ViolationStatus
from pipeline.store.review_queries import QueueFilter
from pipeline.store.review_repo import ReviewRecord, review_record

EXPORT_FIELDS = (
    "public_id", "camera", "rule", "where", "label", "track_id", "occurred_at", "video_time_s", "frame",
    "signal_id", "signal_colour", "seconds_into_colour", "confidence", "plate_text", "status",
    "decided_by", "decided_at", "decision", "reason", "note", "review_entry_hash",
    "source", "model_name", "model_sha256", "scene_sha256", "evidence_sha256",
)  # fmt: skip


def export_rows(
    db: Database, flt: QueueFilter, public_ids: Sequence[str] | None = None, batch: int = 1000
) -> Iterator[dict[str, Any]]:
    """Violations matching `flt` (and `public_ids` when given), oldest first, as flat dicts
    with the latest review entry and the SHA-256 of every evidence file (`EXPORT_FIELDS`)."""
    last_id = 0
    while True:
        with db.session() as s:
            query = (
                select(ViolationRow, RunRow)
                .join(RunRow, RunRow.id == ViolationRow.run_id)
                .where(*flt.conditions(), ViolationRow.id > last_id)
                .order_by(ViolationRow.id)
                .limit(batch)
            )
            if public_ids is not None:
                query = query.where(ViolationRow.public_id.in_(list(public_ids)))
            pairs = [p.tuple() for p in s.execute(query)]
            if not pairs:
                return
            ids = [v.id for v, _ in pairs]
            latest = _latest_reviews(s, ids)
            hashes = _evidence_hashes(s, ids)
            rows = [_export_row(v, run, latest.get(v.id), hashes.get(v.id, {})) for v, run in pairs]
        yield from rows
        last_id = ids[-1]


def _export_row(v: ViolationRow, run: RunRow, review: ReviewRecord | None, hashes: dict[str, str]) -> dict[str, Any]:
    return {
        "public_id": v.public_id,
        "camera": v.camera_id,
        "rule": v.rule,
        "where": v.where_id,
        "label": v.label,
        "track_id": v.track_id,
        "occurred_at": v.occurred_at.isoformat(),
        "video_time_s": round(v.time_s, 3),
        "frame": v.frame_index,
        "signal_id": v.signal_id,
        "signal_colour": v.signal_colour,
        "seconds_into_colour": v.seconds_into_colour,
        "confidence": round(v.confidence, 4),
        "plate_text": v.plate_text,
        "status": ViolationStatus(v.status).value,
        "decided_by": review.reviewer if review else None,
        "decided_at": review.decided_at.isoformat() if review else None,
        "decision": review.decision.value if review else None,
        "reason": review.reason if review else None,
        "note": review.note if review else None,
        "review_entry_hash": review.entry_hash if review else None,
        "source": run.source,
        "model_name": run.model_name,
        "model_sha256": run.model_sha256,
        "scene_sha256": run.scene_sha256,
        "evidence_sha256": hashes,
    }


def _latest_reviews(s: Any, violation_ids: list[int]) -> dict[int, ReviewRecord]:
    newest = (
        select(func.max(ReviewRow.id))
        .where(ReviewRow.violation_id.in_(violation_ids))
        .group_by(ReviewRow.violation_id)
        .scalar_subquery()
    )
    query = select(ReviewRow, ViolationRow.public_id).join(ViolationRow, ViolationRow.id == ReviewRow.violation_id)
    rows = s.execute(query.where(ReviewRow.id.in_(newest))).tuples()
    return {r.violation_id: review_record(r, pid) for r, pid in rows}


def _evidence_hashes(s: Any, violation_ids: list[int]) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {}
    query = select(EvidenceRow.violation_id, EvidenceRow.kind, EvidenceRow.sha256)
    for vid, kind, sha in s.execute(query.where(EvidenceRow.violation_id.in_(violation_ids))).tuples():
        out.setdefault(vid, {})[EvidenceKind(kind).value] = sha
    return out
