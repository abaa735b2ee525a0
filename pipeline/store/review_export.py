"""Violations as flat rows for export: each with its latest review entry and evidence hashes, and
what a notice needs (local time with its zone, time source, camera location, offence code, the
hashes of the source file, settings and model, software version).

One offence found by two runs (other weights or settings, the same footage) is one row: rows of
different runs match when camera, rule and place agree, their times are within `SAME_OFFENCE_S`
and the vehicles' anchor points are within a box width of each other (`one_per_offence`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from detector.types import Box
from pipeline.store.db import Database
from pipeline.store.models import EvidenceRow, ReviewRow, RunRow, SealRow, ViolationRow
from pipeline.store.records import EvidenceKind, ViolationStatus
from pipeline.store.review_queries import QueueFilter
from pipeline.store.review_repo import ReviewRecord, review_record

EXPORT_FIELDS = (
    "public_id", "plate_text", "offence_code", "rule", "local_time", "timezone", "time_source", "occurred_at",
    "camera", "address", "gps_lat", "gps_lon", "direction", "where", "label", "track_id", "video_time_s", "frame",
    "signal_id", "signal_colour", "seconds_into_colour", "seconds_into_colour_is_minimum", "confidence", "status",
    "decided_by", "decided_at", "decision", "reason", "note", "review_entry_hash", "seal_hash",
    "source", "source_sha256", "settings_hash", "model_name", "model_sha256", "scene_sha256", "software_version",
    "also_recorded_as", "evidence_sha256",
)  # fmt: skip

SAME_OFFENCE_S = 1.0
"""Two runs' records of one camera, rule and place this close in time may be one offence."""


def export_rows(
    db: Database,
    flt: QueueFilter,
    public_ids: Sequence[str] | None = None,
    batch: int = 1000,
    offence_codes: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Violations matching `flt` (and `public_ids` when given), oldest first, one row per offence
    (`one_per_offence`), as flat dicts (`EXPORT_FIELDS`). `offence_codes` (rule -> code) replaces
    the codes the scenes gave."""
    rows = one_per_offence(_rows(db, flt, public_ids, batch))
    for row in rows:
        if offence_codes is not None:
            row["offence_code"] = offence_codes.get(row["rule"])
        row.pop("_box", None)
        row.pop("_run", None)
        row.pop("_at", None)
    return rows


def one_per_offence(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with the records of one offence by several runs folded into the first one (its
    `also_recorded_as` lists the others' public ids). Rows of the same run never fold: one run
    reports a vehicle once per rule and place."""
    kept: list[dict[str, Any]] = []
    by_place: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        same = by_place.setdefault((row["camera"], row["rule"], row["where"]), [])
        match = next((k for k in same if _same_offence(k, row)), None)
        if match is None:
            row["also_recorded_as"] = []
            same.append(row)
            kept.append(row)
        else:
            match["also_recorded_as"].append(row["public_id"])
    return kept


def _same_offence(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a["_run"] == b["_run"] or abs((a["_at"] - b["_at"]).total_seconds()) > SAME_OFFENCE_S:
        return False
    (ax, ay), (bx, by) = a["_box"].anchor, b["_box"].anchor
    reach = max(a["_box"].width, b["_box"].width)
    return math.hypot(ax - bx, ay - by) <= reach


def _rows(db: Database, flt: QueueFilter, public_ids: Sequence[str] | None, batch: int) -> Iterator[dict[str, Any]]:
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
            seals = dict(s.execute(select(SealRow.violation_id, SealRow.seal_hash).where(
                SealRow.violation_id.in_(ids))).tuples().all())  # fmt: skip
            rows = [
                {**_export_row(v, run, latest.get(v.id), hashes.get(v.id, {})), **_notice(v, run, seals.get(v.id))}
                for v, run in pairs
            ]
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


def _notice(v: ViolationRow, run: RunRow, seal: str | None) -> dict[str, Any]:
    """What a notice adds to a row: local time and zone, the site, the offence code, the hashes."""
    site = json.loads(run.site_json) if run.site_json else {}
    location = site.get("location", {})
    gps = location.get("gps") or (None, None)
    zone = run.timezone or "UTC"
    return {
        "local_time": v.occurred_at.astimezone(ZoneInfo(zone)).isoformat(timespec="milliseconds"),
        "timezone": zone, "time_source": v.time_source, "offence_code": site.get("offence_codes", {}).get(v.rule),
        "address": location.get("address"), "gps_lat": gps[0], "gps_lon": gps[1],
        "direction": location.get("direction"), "seconds_into_colour_is_minimum": v.colour_onset_seen is False,
        "seal_hash": seal, "source_sha256": run.source_sha256, "settings_hash": run.settings_hash,
        "software_version": run.software_version,
        "_box": Box(v.x1, v.y1, v.x2, v.y2), "_run": v.run_id, "_at": v.occurred_at,
    }  # fmt: skip


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
