"""`trafficcam process`: does a recorded file show the view its scene was drawn on?

The scene's reference frame is the file beside the scene (`<stem>.reference.jpg`, written by
`trafficcam scene reference`) or, failing that, the reference of the saved scene version with
the same hash. A few frames from the start of the file are compared with it the way the daemon's
guard compares a live view; a mismatch is a warning (the file is still processed), since
recordings are often processed long after the fact and the operator decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.scene import Scene, scene_hash
from pipeline.scenes.guard import GuardSettings, read_reference, reference_path, view_matches
from pipeline.store.db import Database
from pipeline.store.scene_versions import SceneVersion, find_scene_version

SAMPLES = 5
SPACING_S = 1.0


@dataclass(frozen=True)
class FileViewCheck:
    version: SceneVersion | None
    """The saved version with this scene's hash, if any (the run is linked to it)."""
    warning: str | None


def check_file_view(
    video: Path, scene: Scene, scene_path: Path, db: Database, data_dir: Path, settings: GuardSettings | None = None
) -> FileViewCheck:
    """Compare the start of `video` with the scene's reference frame; a warning when they differ."""
    settings = settings or GuardSettings()
    version = find_scene_version(db, scene.camera, scene_hash(scene))
    reference = read_reference(reference_path(scene_path))
    if reference is None and version is not None and version.reference_path:
        reference = read_reference(data_dir / version.reference_path)
    if reference is None:
        return FileViewCheck(version, None)
    frames = _sample_frames(video)
    if not frames:
        return FileViewCheck(version, None)
    check = view_matches(reference, frames, scene, settings)
    if check.shift_px is None:
        warning = (f"{video.name}: the view could not be matched with the reference frame of scene "
                   f"{scene_path.name} at all: is this the camera the scene was drawn for?")  # fmt: skip
    elif check.moved:
        warning = (f"{video.name}: the view does not match scene {scene_path.name}: its stop line(s) lie "
                   f"{check.shift_px:.0f} px from where the scene's reference frame has them (limit "
                   f"{settings.max_shift_px:g} px). The camera moved: redraw the scene before trusting the "
                   "reports.")  # fmt: skip
    else:
        warning = None
    return FileViewCheck(version, warning)


def _sample_frames(video: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        step = max(1, round(fps * SPACING_S))
        frames: list[np.ndarray] = []
        index = 0
        while len(frames) < SAMPLES:
            ok, frame = cap.read()
            if not ok:
                break
            if index % step == 0:
                frames.append(frame)
            index += 1
        return frames
    finally:
        cap.release()
