"""The scene a daemon camera enforces now: its newest saved version, picked up while running,
and the camera-moved guard built on that version's reference frame.

A camera of `cameras.yaml` starts from its scene file. The file becomes a saved version when the
camera has none yet, or when the file was edited after the newest version was saved (an operator
who edits YAML and sends SIGHUP still wins); otherwise the newest version, saved from the web
editor or rolled back, is what the camera enforces. The worker polls for a newer version every
`poll_s`, so a save takes effect within seconds, without a restart.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from pipeline.scene import Scene, scene_hash
from pipeline.scenes.guard import GuardSettings, ViewCheck, ViewGuard, read_reference, reference_path
from pipeline.scenes.versions import LoadedVersion, load_version, save_scene
from pipeline.store.db import Database
from pipeline.store.scene_versions import SceneVersion, get_scene_version, link_run

log = logging.getLogger("pipeline.daemon")

FRAMES_DIR = "frames"
SNAPSHOT_EVERY_S = 10.0
"""How often a camera's newest frame is written for the scene editor."""


def latest_frame_path(data_dir: Path, camera_id: str) -> Path:
    """Where the daemon leaves each camera's newest frame (for the editor to draw on)."""
    return data_dir / FRAMES_DIR / f"{camera_id}.jpg"


class LiveScene:
    """One camera's scene version, its guard, and the frame snapshots for the editor."""

    def __init__(self, db: Database, data_dir: Path, camera_id: str, scene_path: Path, file_scene: Scene,
                 guard: GuardSettings, poll_s: float = 3.0):  # fmt: skip
        self.db, self.data_dir, self.camera_id = db, data_dir, camera_id
        self.scene_path, self.file_scene = scene_path, file_scene
        self.guard_settings, self.poll_s = guard, poll_s
        self.loaded: LoadedVersion | None = None
        self.guard: ViewGuard | None = None
        self._last_poll = self._last_snapshot = float("-inf")

    @property
    def scene(self) -> Scene:
        return self.loaded.scene if self.loaded else self.file_scene

    @property
    def version(self) -> SceneVersion | None:
        return self.loaded.version if self.loaded else None

    def load(self) -> None:
        """Import the scene file when it is new or newer than the saved versions; load the newest."""
        latest = get_scene_version(self.db, self.camera_id)
        if latest is None or (latest.sha256 != scene_hash(self.file_scene) and self._file_is_newer(latest)):
            reference = read_reference(reference_path(self.scene_path))
            latest = save_scene(self.db, self.data_dir, self.camera_id, self.scene_path.read_text(encoding="utf-8"),
                                "file", note=f"from {self.scene_path}", reference=reference,
                                same_camera=False)  # fmt: skip
            log.info("camera %s: scene file %s saved as version %d", self.camera_id, self.scene_path, latest.version)
        self._use(latest)

    def _file_is_newer(self, latest: SceneVersion) -> bool:
        try:
            return datetime.fromtimestamp(self.scene_path.stat().st_mtime, UTC) > latest.created_at
        except OSError:
            return False

    def _use(self, version: SceneVersion) -> None:
        same_frame = self.version is not None and self.version.reference_path == version.reference_path
        self.loaded = load_version(self.data_dir, version)
        if same_frame and self.guard is not None:
            self.guard.retarget(self.loaded.scene)  # drawn on the same frame: a moved camera stays moved
        elif self.loaded.reference is None:
            self.guard = None
            log.warning("camera %s: scene version %d has no reference frame; the camera-moved guard is off "
                        "(save the scene from the editor, or put %s beside the scene file)", self.camera_id,
                        version.version, reference_path(self.scene_path).name)  # fmt: skip
        else:
            self.guard = ViewGuard(self.loaded.reference, self.loaded.scene, self.guard_settings)

    def poll(self) -> bool:
        """Every `poll_s`: load a newer saved version; True when the scene changed."""
        now = time.monotonic()
        if now - self._last_poll < self.poll_s:
            return False
        self._last_poll = now
        newest = get_scene_version(self.db, self.camera_id)
        if newest is None or (self.version is not None and newest.id == self.version.id):
            return False
        old = self.version.version if self.version else None
        self._use(newest)
        log.warning("camera %s: scene version %d picked up (was %s)%s", self.camera_id, newest.version, old,
                    f": {newest.note}" if newest.note else "")  # fmt: skip
        return True

    def link(self, run_id: int) -> None:
        """Record in the run row which version it judges by."""
        if self.version is not None:
            link_run(self.db, run_id, self.version.id)

    def offer(self, image: np.ndarray, timestamp: float) -> ViewCheck | None:
        """Give the guard a frame; log when the view moves away or returns."""
        self._snapshot(image)
        guard = self.guard
        if guard is None:
            return None
        was = guard.moved
        check = guard.offer(image, timestamp)
        if check is not None:
            log.debug("camera %s: view check at %.1f: shift %s px, %d inliers", self.camera_id, check.at,
                      check.shift_px, check.inliers)  # fmt: skip
        if check is not None and check.moved != was:
            if check.moved:
                log.error("camera %s: CAMERA MOVED: %s; not enforcing until the view returns or the scene is "
                          "redrawn", self.camera_id, guard.describe())  # fmt: skip
            else:
                log.warning("camera %s: view back in place (%s)", self.camera_id, guard.describe())
        return check

    @property
    def moved(self) -> bool:
        return self.guard is not None and self.guard.moved

    def _snapshot(self, image: np.ndarray) -> None:
        now = time.monotonic()
        if now - self._last_snapshot < SNAPSHOT_EVERY_S:
            return
        self._last_snapshot = now
        path = latest_frame_path(self.data_dir, self.camera_id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
            if ok:
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_bytes(data.tobytes())
                tmp.replace(path)
        except OSError as exc:
            log.debug("camera %s: newest frame not written: %s", self.camera_id, exc)
