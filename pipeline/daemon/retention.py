"""Evidence retention (`watch --keep-days N`): delete old evidence files, keep the records.

Rejected violations lose their files after N days; confirmed ones only when asked explicitly
(`--keep-confirmed-too`, since a confirmed fine may still be contested); pending ones never, as
no one has looked at them yet. The record is marked first and the files deleted after, so a
crash in between leaves files nobody points at, never a record that silently points at nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.store.records import ViolationStatus
from pipeline.store.retention import ExpiredEvidence, expired_evidence, mark_evidence_removed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionPolicy:
    """`keep_days` for every camera (None: keep for ever), overridden per camera id."""

    keep_days: float | None
    include_confirmed: bool = False
    per_camera: dict[str, float] = field(default_factory=dict)

    @property
    def statuses(self) -> tuple[ViolationStatus, ...]:
        if self.include_confirmed:
            return (ViolationStatus.REJECTED, ViolationStatus.CONFIRMED)
        return (ViolationStatus.REJECTED,)


@dataclass
class RetentionResult:
    removed: int = 0
    files: int = 0
    bytes_freed: int = 0
    failures: list[str] = field(default_factory=list)


def apply_retention(db, data_dir: Path, policy: RetentionPolicy, now: datetime | None = None,  # type: ignore[no-untyped-def]
                    batch: int = 500) -> RetentionResult:  # fmt: skip
    """Delete the evidence files that `policy` no longer keeps and note it on their records."""
    now = now or datetime.now(UTC)
    result = RetentionResult()
    rounds: list[tuple[float, str | None, tuple[str, ...]]] = [
        (days, camera, ()) for camera, days in sorted(policy.per_camera.items())
    ]
    if policy.keep_days is not None:
        rounds.append((policy.keep_days, None, tuple(policy.per_camera)))
    for days, camera, exclude in rounds:
        cutoff = now - timedelta(days=days)
        note = f"evidence files removed by retention on {now:%Y-%m-%d} (kept {days:g} days)"
        while True:
            expired = expired_evidence(db, cutoff, policy.statuses, camera_id=camera, exclude_cameras=exclude,
                                       limit=batch)  # fmt: skip
            if not expired:
                break
            mark_evidence_removed(db, [e.violation_id for e in expired], now, note)
            for item in expired:
                _delete_files(Path(data_dir), item, result)
            result.removed += len(expired)
            if len(expired) < batch:
                break
    return result


def _delete_files(data_dir: Path, item: ExpiredEvidence, result: RetentionResult) -> None:
    root = (data_dir / "evidence").resolve()
    folders: set[Path] = set()
    for rel in item.paths:
        path = (data_dir / rel).resolve()
        if not path.is_relative_to(root):  # only ever delete inside the evidence tree
            result.failures.append(f"{item.public_id}: {rel} is outside {root}; left alone")
            continue
        try:
            size = path.stat().st_size
            path.unlink()
            result.files += 1
            result.bytes_freed += size
        except FileNotFoundError:
            pass
        except OSError as exc:
            result.failures.append(f"{item.public_id}: {rel}: {exc.strerror or exc}")
            log.warning("retention: cannot delete %s: %s", path, exc)
        folders.add(path.parent)
    for folder in folders:
        try:
            folder.rmdir()  # only when empty: anything else in it is not ours to delete
        except OSError:
            pass
