"""What the daemon and its camera workers both read: the watch settings and the disk guard."""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchSettings:
    """How the daemon runs; the detector settings are hashed into each run row."""

    weights: str | None = None
    imgsz: int | None = None
    conf: float = 0.25
    pre_s: float = 3.0
    post_s: float = 3.0
    http: str | None = "127.0.0.1:9100"
    keep_days: float | None = None
    keep_confirmed: bool = False
    min_free_mb: float = 500.0
    stop_timeout_s: float = 30.0
    queue_frames: int = 8
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    retention_every_s: float = 3600.0
    pid_file: Path | None = None
    shared_detector: bool = False
    """One detector pool (`detector_workers` inference threads) for every camera instead of a detector
    per camera. Off by default: on the shared 2-core machine it gave fewer analysed frames a second
    than a detector per camera (BENCHMARKS.md, "Cameras per machine")."""
    detector_workers: int | None = None
    """Inference threads of the shared detector, each with its own sessions (None: one per core)."""
    lease_ttl_s: float = 15.0
    """A camera's lease lapses this long after its holder's last renewal; renewed every third of it.
    A dead instance's cameras are taken over within about this plus one renewal period."""


class DiskGuard:
    """Pauses evidence writing while the data dir's disk has less than `min_free_mb` free."""

    def __init__(self, data_dir: Path, min_free_mb: float):
        self.data_dir, self.min_free_mb = data_dir, min_free_mb
        self.paused = False
        self.free_mb: float | None = None
        self._last_warning = 0.0

    def check(self) -> None:
        try:
            self.free_mb = shutil.disk_usage(self.data_dir).free / 1e6
        except OSError as exc:
            log.error("cannot read free space of %s: %s", self.data_dir, exc)
            return
        if not self.paused and self.free_mb < self.min_free_mb:
            self.paused = True
            self._last_warning = 0.0
        elif self.paused and self.free_mb >= self.min_free_mb * 1.1:  # hysteresis: no flapping at the edge
            self.paused = False
            log.warning("disk space recovered (%.0f MB free under %s): evidence writing resumes", self.free_mb,
                        self.data_dir)  # fmt: skip
        if self.paused and time.monotonic() - self._last_warning > 300:
            self._last_warning = time.monotonic()
            log.error(
                "DISK NEARLY FULL: %.0f MB free under %s (--min-free-mb %.0f). Violations are NOT being "
                "recorded until space is freed (lower --keep-days or add disk).",
                self.free_mb, self.data_dir, self.min_free_mb,
            )  # fmt: skip

    def storage_failed(self, exc: Exception) -> None:
        """Writing failed (ENOSPC and the like): pause now, the next check decides when to resume."""
        log.error("evidence or database write failed: %s; pausing evidence writing", exc)
        self.paused = True
