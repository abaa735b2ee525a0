"""Signal reading, measured apart from the detector: per head on every clip with truth, and on the
labelled signal crops.

Per head, every frame: the reader's filtered state (what the rules read) against the truth's
timeline: agreement, wrong colour (a colour that is not the truth's, the error that makes false
reports or hides real ones) and UNKNOWN. On the crops: raw readings of each labelled crop, per
colour, and for arrow crops the direction read.

    PYTHONPATH=. .venv/bin/python benchmarks/signal_heads.py \
        --clips ../shared/clips --clips eval/clips --labels ../shared/images/vn_cctv_labels
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detector.arrow import read_arrow  # noqa: E402
from detector.light import SignalReader, read_colour, read_head  # noqa: E402
from detector.signal_crops import load_crop_set, yolo_signal_crops  # noqa: E402

SHARED_CLIPS = ROOT.parent / "shared" / "clips"  # the videos the repository's crop sets are cut from
from detector.types import Colour  # noqa: E402
from pipeline.clipsets.discovery import discover_clips  # noqa: E402
from pipeline.scene import load_scene  # noqa: E402
from pipeline.signals import SignalBoard  # noqa: E402


def truth_colours(timeline: list[dict], frames: int) -> list[Colour | None]:
    colours: list[Colour | None] = [None] * frames
    for change in sorted(timeline, key=lambda c: c["start_frame"]):
        start = int(change["start_frame"])
        colours[start:] = [Colour(change["colour"])] * max(0, frames - start)
    return colours


def measure_clip(scene_path: Path, truth_path: Path, video: Path) -> list[tuple[str, str, Counter, Counter]]:
    """(head, size, timeline counts, live counts) per head the truth lists; counts of agree /
    wrong / unknown frames. The timeline is what the report and the rules' look-ups see at the
    end (a change confirmed late is dated back); live is the state as read at each frame."""
    truth = yaml.safe_load(truth_path.read_text(encoding="utf-8"))
    capture = cv2.VideoCapture(str(video))
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    scene = load_scene(scene_path).scaled_to(width, height)
    heads = [s for s in scene.signals if s.id in (truth.get("signals") or {})]
    if not heads:
        capture.release()
        return []
    reader = SignalReader([(s.id, s.box) for s in heads], arrows={s.id: s.arrow for s in heads if s.arrow})
    board = SignalBoard([s.id for s in heads])
    fps = float(truth.get("fps") or capture.get(cv2.CAP_PROP_FPS) or 30.0)
    frames = int(truth["frames"])
    expected = {s.id: truth_colours(truth["signals"][s.id], frames) for s in heads}
    live: dict[str, list[Colour]] = {s.id: [] for s in heads}
    for index in range(frames):
        ok, frame = capture.read()
        if not ok:
            break
        states = reader.update(frame, index, index / fps)
        board.record(states)
        for sid, state in states.items():
            live[sid].append(state.colour)
    capture.release()
    rows = []
    for s in heads:
        final = [board.state_at(s.id, i / fps) for i in range(len(live[s.id]))]
        timeline = [Colour.UNKNOWN if st is None else st.colour for st in final]
        x1, y1, x2, y2 = s.box
        rows.append((s.id, f"{round(x2 - x1)}x{round(y2 - y1)}", _count(timeline, expected[s.id]),
                     _count(live[s.id], expected[s.id])))
    return rows


def _count(read: list[Colour], expected: list[Colour | None]) -> Counter:
    counts: Counter = Counter()
    for got, want in zip(read, expected, strict=False):
        if want is None:
            continue
        counts["agree" if got == want else "unknown" if got == Colour.UNKNOWN else "wrong"] += 1
    return counts


def measure_crops(labels: Path | None, crop_sets: list[Path]) -> None:
    results: dict[str, Counter] = {}
    crops = [(image, colour, None) for image, colour in yolo_signal_crops(labels)] if labels else []
    for folder in crop_sets:
        crops += [(c.image, c.colour, c.arrow if c.arrow in ("left", "right", "straight") else None)
                  for c in load_crop_set(folder, SHARED_CLIPS)]
    for crop, colour, arrow in crops:  # an arrow head is read as the reader reads it in a scene
        results.setdefault(colour.value, Counter())[read_head(crop, arrow)[0].value] += 1
    total = sum(sum(c.values()) for c in results.values())
    wrong = sum(n for truth, c in results.items() for got, n in c.items() if got not in (truth, "unknown"))
    unknown = sum(c["unknown"] for truth, c in results.items() if truth != "unknown")
    print(f"\ncrops: {total}; wrong colour {wrong} ({wrong / max(total, 1):.2%}), unknown {unknown} "
          f"({unknown / max(total, 1):.2%})")
    for colour, counts in sorted(results.items()):
        n = sum(counts.values())
        print(f"  {colour}: {counts[colour] / n:.3f} right of {n}; readings {dict(counts)}")
    for folder in crop_sets:
        arrows = Counter()
        for crop in load_crop_set(folder, SHARED_CLIPS):
            got = read_arrow(crop.image) if read_colour(crop.image)[0] is not Colour.UNKNOWN else None
            arrows[(crop.arrow, got)] += 1
        print(f"  directions in {folder} (label, read): {dict(arrows)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, action="append", default=[])
    parser.add_argument("--labels", type=Path, help="YOLO-labelled images (vn_cctv_labels)")
    parser.add_argument("--crops", type=Path, action="append", default=[], help="a crop set folder (crops.yaml)")
    parser.add_argument("--only", action="append", default=[], help="clip names to measure (default: all)")
    args = parser.parse_args()
    if args.clips:
        print("| clip | head | px | frames | agree / wrong / unknown | live wrong |\n|---|---|---|---|---|---|")
    for clip in discover_clips(args.clips) if args.clips else []:
        if clip.video is None or (args.only and clip.name not in args.only):
            continue
        for head, size, c, live in measure_clip(clip.scene, clip.truth, clip.video):
            n = max(1, sum(c.values()))
            print(f"| {clip.name} | {head} | {size} | {n} | {c['agree'] / n:.3f} / {c['wrong'] / n:.3f} / "
                  f"{c['unknown'] / n:.3f} | {live['wrong'] / n:.3f} |", flush=True)
    if args.labels or args.crops:
        measure_crops(args.labels, args.crops)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
