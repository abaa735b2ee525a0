"""Hand-read plate labels (`eval/plates/<clip>.yaml`) and scoring a reader against them.

Shared by the benchmark (`benchmarks/plates.py`) and the tests that cut real crops from the clips.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from detector.types import Box
from pipeline.plates.formats import compact


@dataclass(frozen=True)
class PlateLabel:
    clip: str
    video: str
    frame: int
    box: Box
    label: str
    text: str
    legible: str = "yes"  # "partly": read by eye only in part; scored per character, not in tests


def load_labels(path: Path) -> list[PlateLabel]:
    doc = yaml.safe_load(path.read_text())
    return [
        PlateLabel(doc["clip"], doc["video"], int(p["frame"]), Box(*map(float, p["box"])), p["label"], p["text"],
                   str(p.get("legible", "yes")))  # fmt: skip
        for p in doc["plates"]
    ]


def frames_of(video: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    """The decoded frames `wanted` of `video` (read in order: seeking is not frame-exact)."""
    cap, i = cv2.VideoCapture(str(video)), 0
    out: dict[int, np.ndarray] = {}
    try:
        while len(out) < len(wanted):
            ok, image = cap.read()
            if not ok:
                break
            if i in wanted:
                out[i] = image
            i += 1
    finally:
        cap.release()
    return out


def char_accuracy(truth: str, read: str | None) -> float:
    """1 - edit distance / length, over letters and digits only (separators do not count)."""
    a, b = compact(truth), compact(read or "")
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return max(0.0, 1.0 - prev[-1] / max(1, len(a)))
