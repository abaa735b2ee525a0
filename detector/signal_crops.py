"""Labelled signal-head crops: the YOLO-labelled CCTV images in `../shared/images`, and the crop
sets the repository keeps (`eval/signals/`: arrow heads, far heads, heads beside a countdown,
checked by eye). The repository keeps only the labels: each crop is cut from its clip's video in
`../shared/clips` when loaded (nothing from ../shared is copied in), or read from a PNG of that
name where one lies beside `crops.yaml`.

A crop set is a folder with a `crops.yaml`:

    crops:
      - {file: a.png, colour: green, arrow: right, clip: vn_junction_rightarrow, frame: 100,
         box: [1548, 115, 1582, 152], note: "..."}

`colour` is the lit lamp's colour (`dark`: an arrow head with nothing lit; `unknown`: can't be
told by eye); `arrow` the way the head's arrow lamp points, `unknown` where it can't be told by eye,
absent for round lamps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from detector.checkset import clip_video, frames_at
from detector.types import Colour

YOLO_COLOURS = {1: Colour.GREEN, 3: Colour.RED, 5: Colour.YELLOW}
"""Class ids of lit signals in the vn_cctv_labels set (its data.yaml)."""


@dataclass(frozen=True)
class SignalCrop:
    name: str
    image: np.ndarray
    colour: Colour
    arrow: str | None = None  # left / right / straight / unknown; None: round lamps
    note: str = ""


def load_crop_set(folder: Path, clips: Path | None = None) -> list[SignalCrop]:
    """The crops of a crop set folder, in the order of its `crops.yaml`: a PNG beside it, else cut
    from frame `frame`, box `box` of the video in `clips/<clip>/`.

    Raises:
        FileNotFoundError: a crop has no PNG and its clip's video is not under `clips`.
    """
    entries = yaml.safe_load((folder / "crops.yaml").read_text(encoding="utf-8"))["crops"]
    crops = []
    for entry in entries:
        png = folder / entry["file"]
        image = cv2.imread(str(png), cv2.IMREAD_COLOR) if png.is_file() else _cut(entry, clips)
        if image is None:
            raise FileNotFoundError(f"{png}: listed in crops.yaml but not a readable image")
        crops.append(SignalCrop(entry["file"], image, Colour(entry["colour"]), entry.get("arrow"),
                                entry.get("note", "")))
    return crops


def _cut(entry: dict, clips: Path | None) -> np.ndarray | None:
    video = clip_video(clips / entry["clip"]) if clips is not None else None
    if video is None:
        raise FileNotFoundError(f"crop {entry['file']}: no video of clip {entry['clip']!r} under {clips}")
    got = next(frames_at(video, lambda fps, frames: [int(entry["frame"])]), None)
    if got is None:
        return None
    x1, y1, x2, y2 = (int(v) for v in entry["box"])
    return got[1][y1:y2, x1:x2].copy()


def yolo_signal_crops(root: Path, grow: int = 2) -> Iterator[tuple[np.ndarray, Colour]]:
    """(crop, colour) for every lit-signal label row of a YOLO set (`images/`, `labels/`); polygon
    rows are taken by their bounding box, grown by `grow` px."""
    for label_file in sorted((root / "labels").glob("*.txt")):
        rows = [line.split() for line in label_file.read_text().splitlines() if line.strip()]
        rows = [r for r in rows if int(r[0]) in YOLO_COLOURS]
        images = list((root / "images").glob(label_file.stem + ".*"))
        if not rows or not images:
            continue
        image = cv2.imread(str(images[0]))
        height, width = image.shape[:2]
        for row in rows:
            values = [float(v) for v in row[1:]]
            if len(values) == 4:
                cx, cy, w, h = values
                xs, ys = (cx - w / 2, cx + w / 2), (cy - h / 2, cy + h / 2)
            else:
                xs, ys = values[0::2], values[1::2]
            x1, x2 = max(0, int(min(xs) * width) - grow), min(width, int(np.ceil(max(xs) * width)) + grow)
            y1, y2 = max(0, int(min(ys) * height) - grow), min(height, int(np.ceil(max(ys) * height)) + grow)
            yield image[y1:y2, x1:x2], YOLO_COLOURS[int(row[0])]
