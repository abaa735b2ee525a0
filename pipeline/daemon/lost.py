"""Cameras this daemon should be watching but is not: they stay visible until they come back.

When a camera's lease cannot be renewed (the database unreachable, its disk full) the daemon
must stop processing it, since another instance may take it. Before, the camera then vanished
from /health and /metrics, so an alert on ``trafficcam_enforcing == 0`` never fired. Now it is
kept here with its reason, shown as not enforcing, written to the coverage ledger as soon as
the ledger can be written, and the exit code says a camera was lost.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from pipeline.daemon.health import CameraHealth
from pipeline.errors import StorageError
from pipeline.store.coverage import CoverageReason, record_unwatched, touch_coverage
from pipeline.store.db import Database

log = logging.getLogger("pipeline.daemon")

TOUCH_EVERY_S = 5.0


@dataclass
class LostCamera:
    camera_id: str
    source: str
    reason: CoverageReason
    detail: str
    since: float
    """Wall-clock time it stopped being watched."""
    ledger_written: bool = False
    last_touch: float = 0.0


class LostCameras:
    """The cameras lost by this daemon, by id."""

    def __init__(self) -> None:
        self.cameras: dict[str, LostCamera] = {}
        self.ever: dict[str, str] = {}
        """Every camera lost during this run, with its first reason (for the exit report)."""

    def lose(self, camera_id: str, source: str, reason: CoverageReason, detail: str) -> None:
        if camera_id not in self.cameras:
            self.cameras[camera_id] = LostCamera(camera_id, source, reason, detail, time.time())
            self.ever.setdefault(camera_id, f"{reason.value}: {detail}")

    def found(self, camera_id: str) -> None:
        """Watched again (here, or by another instance), or no longer wanted."""
        self.cameras.pop(camera_id, None)

    def keep_ledger(self, db: Database) -> None:
        """Write each lost camera's period once the database takes writes; refresh it now and then."""
        now = time.time()
        for lost in list(self.cameras.values()):
            try:
                if not lost.ledger_written:
                    at = datetime.fromtimestamp(lost.since, UTC)
                    if not record_unwatched(db, lost.camera_id, lost.reason, at, lost.detail):
                        self.found(lost.camera_id)  # another instance holds it: watched there
                        continue
                    lost.ledger_written, lost.last_touch = True, now
                elif now - lost.last_touch >= TOUCH_EVERY_S:
                    touch_coverage(db, lost.camera_id, datetime.fromtimestamp(now, UTC))
                    lost.last_touch = now
            except StorageError as exc:
                log.debug("camera %s: coverage ledger still not writable: %s", lost.camera_id, exc)

    def health(self) -> list[CameraHealth]:
        now = time.time()
        return [
            CameraHealth(
                id=c.camera_id, source=c.source, connected=False, enforcing=False, reason=c.reason.value,
                last_frame_age_s=None, analysed_fps=0.0, reconnects=0, frames_read=0, frames_analysed=0,
                frames_dropped=0, last_error=f"{c.detail} (for {now - c.since:.0f} s)",
            )  # fmt: skip
            for c in self.cameras.values()
        ]
