"""Reading the camera's burnt-in clock with an offline OCR (RapidOCR on ONNX Runtime; its wheel
ships the models, nothing is downloaded).

Only the digits of the scene's `osd_clock` box are used, in the order its `format` gives. A single
reading can be wrong (a digit lost on a bright sky, a 2 read as 1), so frames are sampled every
`every_s` seconds and each complete reading becomes an estimate of frame 0's time; the answer is
the median of the largest group of estimates within `OSD_AGREE_S` of each other, once `need`
readings agree.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline.timing.site import OsdClock

log = logging.getLogger(__name__)

OSD_AGREE_S = 2.0
_CONFUSED = str.maketrans({"O": "0", "o": "0", "D": "0", "I": "1", "l": "1", "|": "1", "Z": "2", "S": "5", "B": "8"})


@lru_cache(maxsize=1)
def _engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def read_text(image: np.ndarray, box: tuple[float, float, float, float]) -> str:
    """The text OCR reads in `box` of a BGR frame (one line; recognition only, no detection)."""
    h, w = image.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(w, int(round(box[2]))), min(h, int(round(box[3])))
    crop = image[y1:y2, x1:x2]
    if crop.size == 0:
        return ""
    scale = max(3.0, 48.0 / crop.shape[0])  # the recogniser works on 48 px lines; OSD text is small and soft
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    result, _ = _engine()(crop, use_det=False, use_cls=False)
    return str(result[0][0]) if result else ""


def parse_clock(text: str, clock: OsdClock) -> datetime | None:
    """The naive local time in an OCR reading, or None unless it holds exactly the format's digits."""
    digits = re.sub(r"\D", "", text.translate(_CONFUSED))
    fields = clock.digit_fields()
    if len(digits) != sum(n for _, n in fields):
        return None
    values: dict[str, int] = {}
    pos = 0
    for name, n in fields:
        values[name] = int(digits[pos : pos + n])
        pos += n
    year = values.get("%Y", 2000 + values.get("%y", 0))
    try:
        return datetime(year, values["%m"], values["%d"], values["%H"], values["%M"], values["%S"])
    except ValueError:
        return None


def read_frame_clock(image: np.ndarray, clock: OsdClock) -> datetime | None:
    """The on-screen time of one frame, or None when it is not fully readable."""
    return parse_clock(read_text(image, clock.box), clock)


def read_start_time(
    path: Path, clock: OsdClock, *, every_s: float = 2.0, max_reads: int = 40, need: int = 3
) -> datetime | None:
    """Frame 0's on-screen (local, naive) time, from frames sampled every `every_s` seconds.

    Returns None when fewer than 2 readings agree (within `OSD_AGREE_S`) after `max_reads` frames.
    """
    estimates: list[datetime] = []
    for t, image in _sampled(path, every_s, max_reads):
        shown = read_frame_clock(image, clock)
        if shown is None:
            continue
        estimates.append(shown - timedelta(seconds=t))
        best = _largest_group(estimates)
        if len(best) >= need:
            break
    best = _largest_group(estimates)
    log.debug("on-screen clock: %d readings, %d agree", len(estimates), len(best))
    if len(best) < 2:
        return None
    return _median(best)


def _median(values: list[datetime]) -> datetime:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _largest_group(estimates: list[datetime]) -> list[datetime]:
    best: list[datetime] = []
    for e in estimates:
        group = [o for o in estimates if abs((o - e).total_seconds()) <= OSD_AGREE_S]
        if len(group) > len(best):
            best = group
    return best


def _sampled(path: Path, every_s: float, max_reads: int) -> Iterator[tuple[float, np.ndarray]]:
    """(seconds, frame) every `every_s` seconds from the start, decoding in order."""
    cap = cv2.VideoCapture(str(path))
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        step = max(1, round(every_s * fps))
        index = reads = 0
        while reads < max_reads:
            ok, image = cap.read()
            if not ok:
                return
            if index % step == 0:
                reads += 1
                yield index / fps, image
            index += 1
    finally:
        cap.release()
