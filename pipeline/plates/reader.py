"""Read a vehicle's plate: find it in the vehicle crop, read it with offline OCR, vote over frames.

The plate region is found by the OCR's own text detector (PP-OCRv4 via `rapidocr-onnxruntime`,
whose wheel ships the ONNX models: nothing is downloaded) run on the lower part of the vehicle
box, enlarged so plate glyphs are tall enough to detect. Text lines stacked one above the other
(a square car plate, a motorbike plate) are joined, and every candidate is parsed against the
Vietnamese formats (`pipeline.plates.formats`). Readings of several frames of the track are then
voted character by character, so a glyph misread in one frame is outvoted by the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from detector.types import Box, Observation, Track
from pipeline.plates.formats import PlateKind, PlateText, parse

log = logging.getLogger(__name__)

PLATE_FRAMES = 3
"""Frames of a track read and voted per violation (cost grows linearly; see README, Plates)."""
SEARCH_FROM = 0.3  # the plate is below this fraction of the vehicle box's height
TARGET_WIDTH = 480  # the search region is scaled to about this width before text detection
MAX_UPSCALE = 4.0
MIN_TEXT_SCORE = 0.4
SURE_SCORE = 0.9  # a valid first-pass reading at least this sure is not read a second time
PLATE_HEIGHT = 160  # the second pass enlarges the area around the plate to this height


@dataclass(frozen=True)
class FrameReading:
    """The plate as read in one frame: its text, the OCR's mean score and where it is (pixels)."""

    frame_index: int
    plate: PlateText
    score: float
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 in the frame


@dataclass
class PlateReading:
    """The track's plate: voted text, confidence in [0, 1], and the best frame's plate image."""

    text: str | None
    kind: PlateKind | None
    valid: bool
    confidence: float
    frames_tried: int
    frames_read: int
    frames_agreeing: int
    elapsed_s: float
    crop: np.ndarray | None = field(default=None, repr=False)
    best: FrameReading | None = None


class PlateReader:
    """One OCR engine, loaded on first use (about 0.7 s), shared by the calls of one thread at a time.

    Args:
        threads: ONNX Runtime threads; 1 keeps it off the cores the frame loop needs.
    """

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._engine: Any = None
        self._lock = threading.Lock()

    def _ocr(self, image: np.ndarray) -> list[tuple[np.ndarray, str, float]]:
        with self._lock:
            if self._engine is None:
                self._engine = _load_engine(self.threads)
            result, _ = self._engine(image, use_cls=False)
        return [(np.asarray(q, dtype=np.float32), str(t), float(s)) for q, t, s in (result or [])]

    def read_frame(
        self, image: np.ndarray, box: Box, frame_index: int = 0, kind: PlateKind | None = None
    ) -> FrameReading | None:
        """The plate in one frame's vehicle box, or None when no text there looks like a plate.

        Two passes: text detection on the lower part of the vehicle finds plate-like lines; when
        they do not already read as a confident valid plate, the area around the best of them is
        cut out, enlarged and read again (a plate 30 px wide in the frame is found in the first
        pass but read only in the second). `kind` (from the vehicle's class) limits the layouts.
        """
        x1, y1, x2, y2 = _search_region(image.shape, box)
        if x2 - x1 < 8 or y2 - y1 < 8:
            return None
        first = self._read_region(image, (x1, y1, x2, y2), TARGET_WIDTH / (x2 - x1), kind, frame_index)
        if first is None or (first.plate.valid and first.score >= SURE_SCORE):
            return first
        px1, py1, px2, py2 = first.box
        w, h = px2 - px1, py2 - py1
        around = (max(0, px1 - int(0.4 * w)), max(0, py1 - int(1.4 * h)),
                  min(image.shape[1], px2 + int(0.4 * w)), min(image.shape[0], py2 + int(1.4 * h)))  # fmt: skip
        second = self._read_region(image, around, PLATE_HEIGHT / max(1, around[3] - around[1]), kind, frame_index)
        candidates = [r for r in (first, second) if r is not None]
        return max(candidates, key=_rank)

    def _read_region(
        self,
        image: np.ndarray,
        region: tuple[int, int, int, int],
        scale: float,
        kind: PlateKind | None,
        frame_index: int,
    ) -> FrameReading | None:
        x1, y1, x2, y2 = region
        crop = image[y1:y2, x1:x2]
        scale = min(MAX_UPSCALE, scale)
        if abs(scale - 1.0) > 0.05:
            interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=interp)
        best: FrameReading | None = None
        for lines in _candidates(self._ocr(crop)):
            plate = parse([t for _, t, _ in lines], kind)
            points = np.vstack([q for q, _, _ in lines]) / scale
            (px1, py1), (px2, py2) = points.min(axis=0), points.max(axis=0)
            where = (int(x1 + px1), int(y1 + py1), int(np.ceil(x1 + px2)), int(np.ceil(y1 + py2)))
            found = FrameReading(frame_index, plate, float(np.mean([s for _, _, s in lines])), where)
            if best is None or _rank(found) > _rank(best):
                best = found
        return best

    def read_track(self, frames: Sequence[tuple[int, np.ndarray, Box]], kind: PlateKind | None = None) -> PlateReading:
        """Read every (frame index, image, vehicle box) and vote; the plate crop is cut from the
        frame whose own reading agrees with the vote and scored highest."""
        t0 = time.perf_counter()
        readings = [r for i, image, box in frames if (r := self.read_frame(image, box, i, kind)) is not None]
        images = {i: image for i, image, _ in frames}
        out = vote(readings, tried=len(frames))
        if out.best is not None:
            out.crop = plate_crop(images[out.best.frame_index], out.best.box)
        out.elapsed_s = time.perf_counter() - t0
        return out


def clearest(track: Track, available: set[int], n: int = PLATE_FRAMES) -> list[Observation]:
    """Up to `n` observations to read the plate from: the largest confident boxes, at least a few
    frames apart (neighbouring frames would repeat one reading instead of voting)."""
    ranked = sorted((o for o in track.observations if o.frame_index in available),
                    key=lambda o: o.box.area * o.confidence, reverse=True)  # fmt: skip
    picked: list[Observation] = []
    for o in ranked:
        if all(abs(o.frame_index - p.frame_index) >= 3 for p in picked):
            picked.append(o)
        if len(picked) == n:
            break
    return picked


def vote(readings: Sequence[FrameReading], tried: int) -> PlateReading:
    """Character-wise vote among the valid readings of the most supported layout.

    Valid readings are grouped by their compact length and kind; the group with the largest sum
    of scores wins, and each position takes the glyph with the largest summed score. Confidence is
    the mean, over positions, of the winning glyph's share of all frames tried, so two agreeing
    frames out of five give less than five out of five.
    """
    valid = [r for r in readings if r.plate.valid]
    if not valid:
        best = max(readings, key=lambda r: r.score, default=None)
        text = best.plate.text if best else None
        return PlateReading(text, None, False, 0.0, tried, len(readings), 0, 0.0, None, best)
    groups: dict[tuple[int, PlateKind | None], list[FrameReading]] = defaultdict(list)
    for r in valid:
        groups[(len(r.plate.compact), r.plate.kind)].append(r)
    group = max(groups.values(), key=lambda g: sum(r.score for r in g))
    chars: list[str] = []
    shares: list[float] = []
    for pos in range(len(group[0].plate.compact)):
        tally: defaultdict[str, float] = defaultdict(float)
        for r in group:
            tally[r.plate.compact[pos]] += r.score
        ch, weight = max(tally.items(), key=lambda kv: kv[1])
        chars.append(ch)
        shares.append(weight / max(tried, 1))
    voted = parse("".join(chars), group[0].plate.kind)
    agreeing = [r for r in group if r.plate.compact == voted.compact]
    best = max(agreeing or group, key=lambda r: r.score)
    # no frame read exactly the voted glyphs: take them if they form a plate, else the best frame's
    text = best.plate.text if agreeing or not voted.valid else voted.text
    confidence = round(min(1.0, float(np.mean(shares))), 3)
    return PlateReading(text, best.plate.kind, True, confidence, tried, len(readings), len(agreeing), 0.0, None, best)


def _rank(r: FrameReading) -> float:
    return (2.0 if r.plate.valid else 0.0) + r.score - 0.1 * r.plate.repairs


def plate_crop(image: np.ndarray, box: tuple[int, int, int, int], height: int = 120) -> np.ndarray:
    """The plate with a margin, enlarged to `height` pixels so a reviewer can read it."""
    x1, y1, x2, y2 = box
    mx, my = max(2, (x2 - x1) // 6), max(2, (y2 - y1) // 4)
    h, w = image.shape[:2]
    crop = image[max(0, y1 - my) : min(h, y2 + my), max(0, x1 - mx) : min(w, x2 + mx)]
    if crop.size == 0:
        return crop
    if crop.shape[0] < height:
        scale = height / crop.shape[0]
        crop = cv2.resize(crop, (max(1, int(crop.shape[1] * scale)), height), interpolation=cv2.INTER_CUBIC)
    return crop


def _search_region(shape: tuple[int, ...], box: Box) -> tuple[int, int, int, int]:
    """The lower part of the vehicle box, a little wider, inside the frame."""
    h, w = shape[:2]
    mx = box.width * 0.05
    top = box.y1 + box.height * SEARCH_FROM
    return (max(0, int(box.x1 - mx)), max(0, int(top)), min(w, int(box.x2 + mx) + 1),
            min(h, int(box.y2 + box.height * 0.05) + 1))  # fmt: skip


def _candidates(found: list[tuple[np.ndarray, str, float]]) -> list[list[tuple[np.ndarray, str, float]]]:
    """Each text line alone, and each pair of lines stacked as a plate's two lines."""
    lines = [f for f in found if f[2] >= MIN_TEXT_SCORE and sum(c.isdigit() for c in f[1]) >= 1]
    out = [[line] for line in lines]
    for top in lines:
        for bottom in lines:
            if top is not bottom and _stacked(top[0], bottom[0]):
                out.append([top, bottom])
    return out


def _stacked(a: np.ndarray, b: np.ndarray) -> bool:
    """`b` sits right under `a`, overlapping it across most of the narrower one's width."""
    ax1, ay1 = a.min(axis=0)
    ax2, ay2 = a.max(axis=0)
    bx1, by1 = b.min(axis=0)
    bx2, by2 = b.max(axis=0)
    overlap = min(ax2, bx2) - max(ax1, bx1)
    narrower = min(ax2 - ax1, bx2 - bx1)
    gap = by1 - ay2
    height = max(ay2 - ay1, by2 - by1)
    return bool(overlap > 0.5 * narrower and -0.5 * height < gap < 0.8 * height and by1 > ay1)


def _load_engine(threads: int) -> Any:
    from rapidocr_onnxruntime import RapidOCR  # heavy import, kept out of module import time

    for name in ("RapidOCR", "rapidocr_onnxruntime"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return RapidOCR(
        use_cls=False,  # plates stand upright; the angle classifier turned "044.88" into "88.770"
        det_limit_side_len=TARGET_WIDTH, det_limit_type="max", text_score=MIN_TEXT_SCORE,
        intra_op_num_threads=threads, inter_op_num_threads=1,
    )  # fmt: skip
