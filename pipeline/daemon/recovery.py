"""What a crash leaves behind for one camera, tidied when a worker takes the camera on.

A kill (or a full disk, or a lost database) can leave three things: run rows still `running`,
`.partial` evidence folders half written, and complete evidence folders whose record was never
stored (the folder is renamed into place first, the record follows). Only the holder of a
camera's lease writes its evidence, so the worker that has just taken the lease may tidy the
camera's leftovers: runs are marked `interrupted`, `.partial` folders removed, and unrecorded
folders moved to ``DATA_DIR/unrecorded/`` (kept for a person to look at, never deleted, and out
of the evidence tree that audits and retention read).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, update

from pipeline.store.db import Database
from pipeline.store.models import RunRow, ViolationRow
from pipeline.store.records import RunStatus

log = logging.getLogger("pipeline.daemon")

STREAM_RUN_MARK = '"stream_fps"'
"""Only a `watch` stream session writes this into its run's settings: a `process` of a file that
runs under the same camera id at the same time is not a leftover of a crash."""
UNRECORDED_DIR = "unrecorded"


@dataclass
class Recovery:
    """What was tidied for one camera."""

    runs_interrupted: list[int] = field(default_factory=list)
    partial_removed: list[str] = field(default_factory=list)
    unrecorded_moved: list[str] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(self.runs_interrupted or self.partial_removed or self.unrecorded_moved)


def recover_camera(db: Database, data_dir: Path, camera_id: str) -> Recovery:
    """Close the camera's stale stream runs and tidy its evidence folders; say what was done.

    Raises:
        StorageError: the database cannot be read or written.
    """
    result = Recovery(runs_interrupted=interrupt_stale_runs(db, camera_id))
    root = data_dir / "evidence" / camera_id
    if not root.is_dir():
        return result
    complete: dict[str, Path] = {}
    for folder in sorted(p for day in root.iterdir() if day.is_dir() for p in day.iterdir() if p.is_dir()):
        if folder.name.endswith(".partial"):
            shutil.rmtree(folder, ignore_errors=True)
            result.partial_removed.append(str(folder.relative_to(data_dir)))
        else:
            complete[folder.name] = folder
    recorded = _recorded(db, list(complete))
    for public_id, folder in complete.items():
        if public_id in recorded:
            continue
        target = data_dir / UNRECORDED_DIR / folder.relative_to(data_dir / "evidence")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(folder, target)
        result.unrecorded_moved.append(str(target.relative_to(data_dir)))
    for day in root.iterdir():
        if day.is_dir() and not any(day.iterdir()):
            day.rmdir()
    return result


def interrupt_stale_runs(db: Database, camera_id: str) -> list[int]:
    """Mark the camera's stream runs still `running` as `interrupted`; their ids.

    Called by the lease holder before it starts a run: any other running stream run of the
    camera belongs to a process that died or was taken over."""
    with db.session() as s:
        ids = list(
            s.scalars(
                select(RunRow.id).where(RunRow.camera_id == camera_id, RunRow.status == RunStatus.RUNNING,
                                        RunRow.settings_json.contains(STREAM_RUN_MARK))
            )
        )  # fmt: skip
        if ids:
            s.execute(
                update(RunRow).where(RunRow.id.in_(ids)).values(status=RunStatus.INTERRUPTED,
                                                                finished_at=datetime.now(UTC))
            )  # fmt: skip
    return ids


def _recorded(db: Database, public_ids: list[str], batch: int = 500) -> set[str]:
    found: set[str] = set()
    with db.session() as s:
        for i in range(0, len(public_ids), batch):
            chunk = public_ids[i : i + batch]
            found.update(s.scalars(select(ViolationRow.public_id).where(ViolationRow.public_id.in_(chunk))))
    return found


def log_recovery(camera_id: str, result: Recovery) -> None:
    if result.runs_interrupted:
        log.warning("camera %s: run(s) %s were left running by a daemon that stopped without finishing them; "
                    "marked interrupted", camera_id, ", ".join(map(str, result.runs_interrupted)))  # fmt: skip
    if result.partial_removed:
        log.warning("camera %s: removed %d half-written evidence folder(s) left by a crash: %s", camera_id,
                    len(result.partial_removed), ", ".join(result.partial_removed))  # fmt: skip
    if result.unrecorded_moved:
        log.warning("camera %s: %d evidence folder(s) were written but never recorded (the daemon stopped "
                    "in between); moved aside for review: %s", camera_id, len(result.unrecorded_moved),
                    ", ".join(result.unrecorded_moved))  # fmt: skip
