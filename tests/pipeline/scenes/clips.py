"""Real clips for the camera-moved guard tests, moved at test time with OpenCV.

A clip shorter than the test needs is looped (as a camera would keep sending the same view);
`moved(image, kind)` applies a shift, rotation or zoom about the frame centre, the ways a knocked
or re-aimed camera changes its view."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from pipeline.scene import Scene, load_scene
from tests.conftest import SHARED

CLIPS = SHARED / "clips"
MOVING_VIEWS = {
    "vn_moto_plates_handheld": "a hand-held close-up for plate reading: its view moves all the time",
    "vn_twoway_divided_motorbikes": "filmed hand-held from an overpass: the view drifts about 30 px within the "
    "clip (the signs over the tunnel move), which the guard rightly reports",
}
"""Clips whose camera really moves while filming: not for the no-false-trip test."""

MOVES: dict[str, dict[str, float]] = {
    "shift": {"dx": 24.0},  # knocked sideways
    "rotate": {"degrees": 3.0},  # twisted on its mount
    "zoom": {"zoom": 1.07},  # PTZ left zoomed in
}


def clip_video(folder: Path) -> Path:
    return next(p for p in sorted(folder.glob("*.mp4")))


def clip_scene(folder: Path, width: int, height: int) -> Scene:
    """The clip's scene file, or an empty scene of its frame size (the guard then keeps the corners)."""
    path = folder / "scene.yaml"
    if path.exists():
        return load_scene(path)
    return Scene(camera=folder.name.replace("_", "-"), frame_size=(width, height))


@functools.lru_cache(maxsize=2)  # the moves of one clip run one after the other
def decode(video: Path, rate: float = 2.0) -> tuple[list[np.ndarray], float]:
    """About `rate` frames a second of `video` (the guard samples once a second), and their rate."""
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    step = max(1, round(fps / rate))
    frames: list[np.ndarray] = []
    index = 0
    while cap.grab():
        if index % step == 0:
            ok, frame = cap.retrieve()
            if ok:
                frames.append(frame)
        index += 1
    cap.release()
    return frames, fps / step


def looped(frames: list[np.ndarray], fps: float, seconds: float) -> Iterator[tuple[np.ndarray, float]]:
    """The clip played for at least `seconds` (and at least once), with stream timestamps."""
    total = max(len(frames), int(seconds * fps))
    for i in range(total):
        yield frames[i % len(frames)], i / fps


def moved(image: np.ndarray, dx: float = 0.0, dy: float = 0.0, degrees: float = 0.0, zoom: float = 1.0) -> np.ndarray:
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, zoom)
    m[0, 2] += dx
    m[1, 2] += dy
    return cv2.warpAffine(image, m, (w, h))
