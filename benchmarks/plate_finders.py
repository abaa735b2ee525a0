"""Which plate finder: OCR text detection on the vehicle crop (what `pipeline.plates` uses) against
a classical one (bright rectangles of plate shape found by thresholding and contours), each
followed by the same OCR read and Vietnamese format parsing, on the labels in eval/plates/.

    PYTHONPATH=. python benchmarks/plate_finders.py [--clips ../shared/clips]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np

from detector.types import Box
from pipeline.plates import PlateKind, PlateReader
from pipeline.plates.formats import PlateText, parse
from pipeline.plates.labels import char_accuracy, frames_of, load_labels
from pipeline.plates.reader import PLATE_HEIGHT, _candidates, _search_region

REPO = Path(__file__).resolve().parent.parent


def classical_regions(image: np.ndarray, box: Box, keep: int = 3) -> list[tuple[int, int, int, int]]:
    """Bright, solid rectangles of a plate's shape (one-line 2.5-5.5:1, square 1.0-1.8:1) and size
    (8-45% of the vehicle's width) in the lower part of the vehicle box, largest first."""
    x1, y1, x2, y2 = _search_region(image.shape, box)
    gray = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
    _, bright = cv2.threshold(cv2.GaussianBlur(gray, (3, 3), 0), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    contours, _ = cv2.findContours(bright, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    found = []
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        ratio, rel = w / max(h, 1), w / max(box.width, 1)
        solid = cv2.contourArea(c) / max(w * h, 1)
        if (1.0 <= ratio <= 1.8 or 2.5 <= ratio <= 5.5) and 0.08 <= rel <= 0.45 and solid > 0.6:
            found.append((w * h, (x1 + x, y1 + y, x1 + x + w, y1 + y + h)))
    return [r for _, r in sorted(found, reverse=True)[:keep]]


def read_classical(reader: PlateReader, image: np.ndarray, box: Box, kind: PlateKind | None) -> PlateText | None:
    best: tuple[float, PlateText] | None = None
    for x1, y1, x2, y2 in classical_regions(image, box):
        pad = max(2, (y2 - y1) // 6)
        crop = image[max(0, y1 - pad) : y2 + pad, max(0, x1 - pad) : x2 + pad]
        scale = PLATE_HEIGHT / crop.shape[0]
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        for lines in _candidates(reader._ocr(crop)):
            plate = parse([t for _, t, _ in lines], kind)
            rank = (2.0 if plate.valid else 0.0) + float(np.mean([s for _, _, s in lines]))
            if best is None or rank > best[0]:
                best = (rank, plate)
    return best[1] if best else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = Path(os.environ.get("TRAFFICCAM_SHARED", REPO.parent / "shared"))
    ap.add_argument("--clips", type=Path, default=shared / "clips")
    args = ap.parse_args()
    reader = PlateReader()
    reader.read_frame(np.full((64, 64, 3), 255, np.uint8), Box(0, 0, 64, 64))
    totals: dict[str, list[tuple[bool, float, float]]] = {"ocr-detector": [], "classical": []}
    for path in sorted((REPO / "eval" / "plates").glob("*.yaml")):
        labels = load_labels(path)
        images = frames_of(args.clips / labels[0].clip / labels[0].video, {lb.frame for lb in labels})
        for lb in labels:
            kind = PlateKind.of_label(lb.label)
            t = time.perf_counter()
            r = reader.read_frame(images[lb.frame], lb.box, lb.frame, kind)
            ocr = (r.plate.text if r else None, (time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            c = read_classical(reader, images[lb.frame], lb.box, kind)
            classical = (c.text if c else None, (time.perf_counter() - t) * 1000)
            for name, (text, ms) in (("ocr-detector", ocr), ("classical", classical)):
                totals[name].append((text == lb.text, char_accuracy(lb.text, text), ms))
            print(f"  {lb.clip[:14]:14} {lb.frame:4} {lb.text:14} ocr-detector {ocr[0]!s:14}"
                  f" classical {classical[0]!s:14}")  # fmt: skip
    for name, rows in totals.items():
        n = len(rows)
        print(f"{name:13} exact {sum(r[0] for r in rows)}/{n}  chars {sum(r[1] for r in rows) / n:.1%}"
              f"  median ms {sorted(r[2] for r in rows)[n // 2]:.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
