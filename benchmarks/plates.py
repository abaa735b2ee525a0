"""Plate reading accuracy and cost on the hand-read labels in eval/plates/.

    PYTHONPATH=. python benchmarks/plates.py [--clips ../shared/clips]

Per label: the reader on the labelled vehicle box of one frame (what the evidence writer does
for each of the frames it votes over). Per plate: the vote over all labelled frames of one plate.
Prints exact-plate and per-character accuracy and milliseconds per frame read.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import defaultdict
from pathlib import Path

from pipeline.plates import PlateKind, PlateReader, vote
from pipeline.plates.labels import PlateLabel, char_accuracy, frames_of, load_labels

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = Path(os.environ.get("TRAFFICCAM_SHARED", REPO.parent / "shared"))
    ap.add_argument("--clips", type=Path, default=shared / "clips")
    args = ap.parse_args()
    reader = PlateReader()
    reader.read_frame(*_warm())  # load the models outside the timing
    rows: list[str] = []
    for path in sorted((REPO / "eval" / "plates").glob("*.yaml")):
        labels = load_labels(path)
        video = args.clips / labels[0].clip / labels[0].video
        if not video.exists():
            raise SystemExit(f"{video} not found: pass --clips DIR (the shared clips)")
        images = frames_of(video, {lb.frame for lb in labels})
        by_plate: dict[str, list] = defaultdict(list)
        exact, chars, ms = [], [], []
        for lb in labels:
            t = time.perf_counter()
            r = reader.read_frame(images[lb.frame], lb.box, lb.frame, PlateKind.of_label(lb.label))
            ms.append((time.perf_counter() - t) * 1000)
            text = r.plate.text if r else None
            exact.append(text == lb.text)
            chars.append(char_accuracy(lb.text, text))
            if r is not None:
                by_plate[lb.text].append(r)
            print(f"  frame {lb.frame:4} {lb.text:14} read {text!s:16} {'ok' if text == lb.text else 'WRONG'}")
        plates = {lb.text for lb in labels}
        voted = sum(vote(by_plate[p], tried=_count(labels, p)).text == p for p in plates)
        per_violation = [_track_ms(reader, [lb for lb in labels if lb.text == p][:3], images) for p in plates]
        rows.append(f"{labels[0].clip:26} {len(labels):6} {sum(exact) / len(exact):7.0%} {statistics.mean(chars):7.1%}"
                    f" {statistics.median(ms):9.0f} {len(plates):6} {voted:>5}/{len(plates)}"
                    f" {statistics.median(per_violation):14.0f}")  # fmt: skip
    print(f"{'clip':26} {'frames':>6} {'exact':>7} {'chars':>7} {'ms/frame':>9} {'plates':>6} {'voted exact':>11}"
          f" {'ms/violation':>14}")  # fmt: skip
    print("\n".join(rows))


def _track_ms(reader: PlateReader, labels: list[PlateLabel], images: dict) -> float:  # type: ignore[type-arg]
    """Milliseconds of one violation's reading: up to 3 frames read and voted (as the evidence writer does)."""
    frames = [(lb.frame, images[lb.frame], lb.box) for lb in labels]
    t = time.perf_counter()
    reader.read_track(frames, PlateKind.of_label(labels[0].label))
    return (time.perf_counter() - t) * 1000


def _count(labels: list[PlateLabel], text: str) -> int:
    return sum(lb.text == text for lb in labels)


def _warm():  # type: ignore[no-untyped-def]
    import numpy as np

    from detector.types import Box

    return np.full((64, 64, 3), 255, np.uint8), Box(0, 0, 64, 64)


if __name__ == "__main__":
    main()
