"""Sealing violations as they are stored, and reading the seals back for the audit.

A violation's seal is written in the same transaction as the violation and its evidence rows:
its content (`pipeline.seal.content.SEALED_FIELDS`) is built from those rows and its run, chained
to the previous seal and signed with the service key. After the commit the new head of the chain
goes to the checkpoint file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from pipeline.seal import checkpoints
from pipeline.seal.content import GENESIS, canonical, seal_hash
from pipeline.seal.keys import SigningKey
from pipeline.store.columns import utc_now
from pipeline.store.db import Database
from pipeline.store.models import EvidenceRow, RunRow, SealRow, ViolationRow
from pipeline.store.records import EvidenceKind

log = logging.getLogger(__name__)
_SEAL_LOCK_KEY = 0x7365_616C  # "seal": PostgreSQL advisory lock held while appending a seal


def _utc(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="microseconds")


def seal_content(v: ViolationRow, run: RunRow, evidence: Sequence[EvidenceRow]) -> dict[str, Any]:
    """What the seal of `v` covers, as plain JSON values."""
    return {
        "violation": v.public_id, "dedup_key": v.dedup_key, "camera": v.camera_id, "run": v.run_id,
        "rule": v.rule, "where": v.where_id, "track": v.track_id, "label": v.label, "frame": v.frame_index,
        "time_s": v.time_s, "occurred_at": _utc(v.occurred_at), "time_source": v.time_source,
        "recorded_at": _utc(run.recorded_at), "signal_id": v.signal_id, "signal_colour": v.signal_colour,
        "seconds_into_colour": v.seconds_into_colour, "colour_onset_seen": v.colour_onset_seen,
        "box": [v.x1, v.y1, v.x2, v.y2], "confidence": v.confidence, "plate_text": v.plate_text,
        "model_sha256": run.model_sha256, "scene_sha256": run.scene_sha256, "settings_hash": run.settings_hash,
        "source_sha256": run.source_sha256,
        "evidence": {EvidenceKind(e.kind).value: e.sha256 for e in evidence},
    }  # fmt: skip


def add_seal(s: Session, v: ViolationRow, evidence: Sequence[EvidenceRow], key: SigningKey) -> SealRow:
    """Seal `v` (flushed, with its evidence rows) inside the caller's transaction."""
    if s.get_bind().dialect.name == "postgresql":
        # one sealer at a time; on SQLite the violation's INSERT already holds the write lock
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SEAL_LOCK_KEY})
    run = s.get(RunRow, v.run_id)
    assert run is not None, f"run {v.run_id} of violation {v.public_id} is missing"
    content = canonical(seal_content(v, run, evidence))
    prev = s.scalars(select(SealRow.seal_hash).order_by(SealRow.id.desc()).limit(1)).first() or GENESIS
    digest = seal_hash(content, prev)
    row = SealRow(
        violation_id=v.id, content_json=content, prev_hash=prev, seal_hash=digest, key_id=key.id,
        signature=key.sign(digest), sealed_at=utc_now(),
    )  # fmt: skip
    s.add(row)
    s.flush()
    return row


def checkpoint(db: Database, key: SigningKey, chain: str, entry_id: int, entry_hash: str) -> None:
    """Write the new head of a chain to the checkpoint file (after its transaction committed).

    The record is already committed (and a seal signed): a checkpoint that cannot be written is
    logged as an error, and the next one written covers this entry's chain position too.
    """
    try:
        checkpoints.append(db.data_dir, key, chain, entry_id, entry_hash)
    except OSError as exc:
        log.error("could not write the audit checkpoint for %s #%d: %s", chain, entry_id, exc)


def current_content(s: Session, violation_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The seal content rebuilt from today's rows, per violation id."""
    rows = s.execute(
        select(ViolationRow, RunRow).join(RunRow, RunRow.id == ViolationRow.run_id).where(
            ViolationRow.id.in_(list(violation_ids))
        )
    ).tuples()
    pairs = list(rows)
    evidence: dict[int, list[EvidenceRow]] = {}
    for e in s.scalars(select(EvidenceRow).where(EvidenceRow.violation_id.in_(list(violation_ids)))):
        evidence.setdefault(e.violation_id, []).append(e)
    return {v.id: seal_content(v, run, evidence.get(v.id, [])) for v, run in pairs}


def parse_content(content_json: str) -> dict[str, Any]:
    """A seal's stored content (an empty mapping when it is not JSON any more)."""
    try:
        value = json.loads(content_json)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
