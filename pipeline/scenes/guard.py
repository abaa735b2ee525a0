"""Camera-moved guard: does the live view still match the view its scene was drawn on?

A knocked camera, or a PTZ camera left pointing elsewhere, puts every stop line of its scene
across the wrong part of the road, and every report from it is then wrong. The guard keeps the
scene version's reference frame and, every `interval_s`, aligns a picture of the *static* scene
with it:

- the static picture is the per-pixel median of the last `samples` frames taken `interval_s`
  apart, so moving traffic mostly vanishes; pixels that changed a lot between those frames are
  masked out of feature detection as well;
- both pictures are contrast-equalised (CLAHE) before ORB features are found, so a darker
  evening or a wet road still matches; matches are filtered with Lowe's ratio test and a
  similarity transform (shift, rotation, zoom) is fitted with RANSAC;
- the transform is applied to the scene's key points (the stop lines' ends, or every element's
  points when there are no stop lines), and the largest move, in pixels of the scene's
  `frame_size`, is the view's shift.

The view counts as moved after `confirm` checks in a row over `max_shift_px`, and as back after
`confirm` checks under `return_ratio * max_shift_px` (hysteresis, so one bad alignment never
flips it). A check that cannot align (too few inliers: night against a day reference, fog) says
nothing either way; to follow light that changes through the day, a background that aligned
clearly in place becomes a second reference, with its transform to the first one, so later
checks that fail against the first can align through it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.scene import Point, Scene

REFERENCE_SUFFIX = ".reference.jpg"


@dataclass(frozen=True)
class GuardSettings:
    """How the guard samples and decides; `max_shift_px` is in pixels of the scene's frame size."""

    max_shift_px: float = 12.0
    interval_s: float = 1.0
    samples: int = 5
    confirm: int = 2
    return_ratio: float = 0.6
    work_width: int = 640
    features: int = 2000
    min_inliers: int = 20
    ransac_px: float = 3.0

    def __post_init__(self) -> None:
        if self.max_shift_px <= 0 or self.interval_s <= 0 or self.samples < 1 or self.confirm < 1:
            raise ValueError(
                "guard settings: max_shift_px and interval_s must be > 0, samples and confirm >= 1, got "
                f"{self.max_shift_px}, {self.interval_s}, {self.samples}, {self.confirm}"
            )


@dataclass(frozen=True)
class ViewCheck:
    """One comparison of the live view with the reference."""

    at: float
    shift_px: float | None
    """Largest move of a key point, in scene pixels; None when the views could not be aligned."""
    inliers: int
    moved: bool
    """The guard's state after this check (hysteresis applied)."""


def key_points(scene: Scene) -> list[Point]:
    """The points whose move matters: the stop lines' ends, else every element's points, else the
    frame's corners (a scene with nothing drawn yet still has a view to keep)."""
    points = [p for s in scene.stop_lines for p in s.line]
    if points:
        return points
    for s in scene.solid_lines:
        points += s.line
    for lane in scene.lanes:
        points += lane.polygon
    for sig in scene.signals:
        points += [(sig.box[0], sig.box[1]), (sig.box[2], sig.box[3])]
    w, h = scene.frame_size
    return points or [(0, 0), (w, 0), (w, h), (0, h)]


def reference_path(scene_path: Path) -> Path:
    """Where the reference frame of a scene file lives: beside it, `<stem>.reference.jpg`."""
    return scene_path.with_name(scene_path.stem + REFERENCE_SUFFIX)


def read_reference(path: Path) -> np.ndarray | None:
    """The reference frame (BGR) at `path`, or None when there is none or it cannot be read."""
    if not path.is_file():
        return None
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return image if image is not None and image.size else None


def write_reference(path: Path, image: np.ndarray) -> None:
    """Write a reference frame as a high-quality JPEG (atomically: a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise ValueError(f"cannot encode the reference frame for {path}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data.tobytes())
    tmp.replace(path)


class _Prepared:
    """A grey, equalised, downscaled picture with its ORB features."""

    def __init__(self, grey: np.ndarray, mask: np.ndarray | None, orb: cv2.ORB):
        self.grey = grey
        self.keypoints, self.descriptors = orb.detectAndCompute(grey, mask)


class ViewGuard:
    """Compares frames with one reference view; feed it every frame with `offer`."""

    def __init__(self, reference: np.ndarray, scene: Scene, settings: GuardSettings | None = None):
        self.settings = s = settings or GuardSettings()
        scale = s.work_width / float(reference.shape[1])
        self._work_size = (s.work_width, max(1, round(reference.shape[0] * scale)))
        self.retarget(scene)
        self._orb = cv2.ORB_create(nfeatures=s.features)
        self._clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
        self._matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
        self._reference = _Prepared(self._grey(reference), None, self._orb)
        self._second: tuple[_Prepared, np.ndarray] | None = None
        self._samples: deque[np.ndarray] = deque(maxlen=s.samples)
        self._last_sample = float("-inf")
        self._streak = 0
        self.moved = False
        self.last: ViewCheck | None = None
        self.checks = 0
        self.unaligned = 0

    def retarget(self, scene: Scene) -> None:
        """Measure moves at `scene`'s key points from now on (a scene redrawn on the same frame keeps
        the guard and what it has seen)."""
        self.scene_size = scene.frame_size
        # key points in working pixels; moves are measured there and reported in scene pixels
        rx, ry = self._work_size[0] / scene.frame_size[0], self._work_size[1] / scene.frame_size[1]
        self._points = np.array([[x * rx, y * ry] for x, y in key_points(scene)], dtype=np.float32)
        self._to_scene = scene.frame_size[0] / self._work_size[0]

    def _grey(self, image: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        grey = cv2.resize(grey, self._work_size, interpolation=cv2.INTER_AREA)
        return self._clahe.apply(grey)

    def offer(self, image: np.ndarray, timestamp: float) -> ViewCheck | None:
        """Take `image` as a sample when one is due; return a check when one was made."""
        if timestamp - self._last_sample < self.settings.interval_s:
            return None
        self._last_sample = timestamp
        self._samples.append(self._grey(image))
        if len(self._samples) < min(3, self.settings.samples):
            return None  # a median of one or two frames still holds the traffic
        return self.check(timestamp)

    def check(self, timestamp: float) -> ViewCheck:
        """Compare the static picture of the recent samples with the reference now."""
        ordered = _sorted(list(self._samples))
        background = ordered[len(ordered) // 2]
        static = ((ordered[-1] - ordered[0]) < 40).astype(np.uint8) * 255  # where something moved, features lie
        live = _Prepared(background, static if static.mean() > 255 * 0.3 else None, self._orb)
        shift, inliers, matrix = self._align(live, self._reference, None)
        if shift is None and self._second is not None:
            shift, inliers, matrix = self._align(live, self._second[0], self._second[1])
        if shift is not None and matrix is not None and shift < self.settings.max_shift_px * 0.25:
            self._second = (live, matrix)  # clearly in place: follows the light through the day
        return self._decide(timestamp, shift, inliers)

    def _align(
        self, live: _Prepared, ref: _Prepared, ref_to_reference: np.ndarray | None
    ) -> tuple[float | None, int, np.ndarray | None]:
        """Fit live -> `ref`; the shift of the key points in scene pixels, the inliers, and the
        live -> reference matrix (composed with `ref_to_reference` for the second reference)."""
        s = self.settings
        if live.descriptors is None or ref.descriptors is None or len(live.keypoints) < s.min_inliers:
            return None, 0, None
        pairs = self._matcher.knnMatch(ref.descriptors, live.descriptors, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
        if len(good) < s.min_inliers:
            return None, len(good), None
        src = np.float32([ref.keypoints[m.queryIdx].pt for m in good])
        dst = np.float32([live.keypoints[m.trainIdx].pt for m in good])
        matrix, inlier_mask = cv2.estimateAffinePartial2D(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=s.ransac_px, maxIters=2000, confidence=0.995
        )
        inliers = int(inlier_mask.sum()) if inlier_mask is not None else 0
        if matrix is None or inliers < s.min_inliers:
            return None, inliers, None
        if ref_to_reference is not None:  # reference -> second -> live
            matrix = _compose(matrix, ref_to_reference)
        moved = cv2.transform(self._points[None, :, :], matrix)[0]
        shift = float(np.max(np.linalg.norm(moved - self._points, axis=1))) * self._to_scene
        return shift, inliers, matrix

    def _decide(self, timestamp: float, shift: float | None, inliers: int) -> ViewCheck:
        s = self.settings
        self.checks += 1
        if shift is None:
            self.unaligned += 1
        else:
            if self.moved:
                wrong = shift >= s.max_shift_px * s.return_ratio
            else:
                wrong = shift > s.max_shift_px
            self._streak = 0 if wrong == self.moved else self._streak + 1
            if self._streak >= s.confirm:
                self.moved, self._streak = wrong, 0
        self.last = ViewCheck(timestamp, None if shift is None else round(shift, 1), inliers, self.moved)
        return self.last

    def describe(self) -> str:
        """One line for logs and the coverage ledger."""
        last = self.last
        if last is None or last.shift_px is None:
            return "view not aligned with the reference"
        state = "moved" if self.moved else "in place"
        return f"view {state}: stop line shifted {last.shift_px:.0f} px (limit {self.settings.max_shift_px:g} px)"


def _sorted(pictures: list[np.ndarray]) -> list[np.ndarray]:
    """Per-pixel sort of a few same-sized pictures (an odd-even network of minimum / maximum: far
    faster than `np.median` over a stack for the handful of samples the guard keeps)."""
    out = list(pictures)
    for rnd in range(len(out)):
        for i in range(rnd % 2, len(out) - 1, 2):
            out[i], out[i + 1] = np.minimum(out[i], out[i + 1]), np.maximum(out[i], out[i + 1])
    return out


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 affine matrix of `outer(inner(p))`."""
    a = np.vstack([outer, [0, 0, 1]])
    b = np.vstack([inner, [0, 0, 1]])
    return (a @ b)[:2]


def view_matches(reference: np.ndarray, frames: list[np.ndarray], scene: Scene, settings: GuardSettings) -> ViewCheck:
    """One check of a handful of frames against a reference, for files (`trafficcam process`)."""
    guard = ViewGuard(reference, scene, settings)
    for i, frame in enumerate(frames):
        guard._samples.append(guard._grey(frame))
        guard._last_sample = float(i)
    check = guard.check(float(len(frames)))
    moved = check.shift_px is not None and check.shift_px > settings.max_shift_px
    return ViewCheck(check.at, check.shift_px, check.inliers, moved)


