"""The kept score: how much of what the COCO weights find a candidate still finds.

A detector fine-tuned on Vietnamese CCTV can forget what COCO knew: at night, on other roads,
pedestrians. The check set (`detector.checkset`) holds frames of non-Vietnamese clips, the same
frames darkened and glared like night footage, and night frames of the synthetic renderer.
`coco-n-f16` (the reference) is run on each at confidence >= 0.5; a candidate *keeps* a reference
box when one of its own boxes (at the pipeline's confidence) of the same class group overlaps it
by IoU >= 0.5. Both sides go through rider merging first, as the pipeline's detections do, so a
COCO rider + motorbike pair and a fine-tune's single rider-and-bike box compare as one road user.

`gate` is the rule a default must pass: kept >= 0.95 overall, and no worse than the current
default on the labelled Vietnamese images (motorcycle and car rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from detector.evaluate import LabelledBox, _merged_riders, iou_matrix
from detector.weights import ResolvedWeights

REFERENCE = "coco-n-f16"
REFERENCE_CONF = 0.5
CANDIDATE_CONF = 0.25  # what the pipeline keeps a detection at (`--conf`)
MIN_KEPT = 0.95
# the Vietnamese rows a default must not lose to the current default, and the slack allowed
VN_ROWS = ("motorcycle+person", "car+bus+truck")
VN_SLACK = 0.01
GROUPS: dict[str, str] = {
    "car": "vehicle", "bus": "vehicle", "truck": "vehicle",
    "motorcycle": "two-wheeler", "bicycle": "two-wheeler",
    "person": "person",
}  # fmt: skip


@dataclass
class KeptScore:
    """Reference boxes per (image style, class group) and how many of them the candidate found."""

    reference: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    images: int = 0

    def add(self, key: str, reference: int, kept: int) -> None:
        self.reference[key] = self.reference.get(key, 0) + reference
        self.kept[key] = self.kept.get(key, 0) + kept

    def share(self, prefix: str = "") -> float | None:
        """Kept share over the keys starting with `prefix` (all of them by default)."""
        ref = sum(v for k, v in self.reference.items() if k.startswith(prefix))
        got = sum(v for k, v in self.kept.items() if k.startswith(prefix))
        return got / ref if ref else None

    @property
    def overall(self) -> float | None:
        return self.share()

    def as_dict(self) -> dict[str, object]:
        rows: dict[str, object] = {}
        for key in sorted(self.reference):
            share = self.kept[key] / self.reference[key] if self.reference[key] else None
            rows[key] = {"reference": self.reference[key], "kept": self.kept[key],
                         "share": None if share is None else round(share, 4)}  # fmt: skip
        styles = sorted({k.split("/")[0] for k in self.reference})
        by_style = {s: _round(self.share(s + "/")) for s in styles}
        return {"images": self.images, "kept": _round(self.overall), "by_style": by_style, "rows": rows}


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def kept_boxes(reference: Sequence[LabelledBox], candidate: Sequence[LabelledBox], iou: float = 0.5) -> list[bool]:
    """For each reference box, whether a candidate box of its class group overlaps it by >= `iou`
    (one-to-one, the reference's most confident boxes matched first)."""
    out = [False] * len(reference)
    order = sorted(range(len(reference)), key=lambda i: -reference[i].conf)
    ious = iou_matrix([reference[i] for i in order], candidate)
    taken: set[int] = set()
    for row_index, row in zip(order, ious, strict=True):
        group = GROUPS.get(reference[row_index].cls)
        best, best_iou = -1, iou
        for j, v in enumerate(row):
            if j not in taken and v >= best_iou and GROUPS.get(candidate[j].cls) == group:
                best, best_iou = j, v
        if best >= 0:
            taken.add(best)
            out[row_index] = True
    return out


class Predictor:
    """Whole-frame predictions of one set of weights as trafficcam labels, riders merged."""

    def __init__(self, weights: ResolvedWeights, conf: float):
        from detector.yolo import YoloDetector

        self.detector = YoloDetector(weights, conf=conf)

    def __call__(self, image: np.ndarray) -> list[LabelledBox]:
        boxes = [
            LabelledBox(d.label, d.box.x1, d.box.y1, d.box.x2, d.box.y2, d.confidence)
            for d in self.detector.detect(image)
        ]
        return _merged_riders(boxes)


def kept_score(
    candidate: ResolvedWeights,
    images: Iterable[tuple[str, Path]],
    reference: ResolvedWeights,
    iou: float = 0.5,
    candidate_conf: float = CANDIDATE_CONF,
) -> KeptScore:
    """Score `candidate` against `reference` on (style, image path) pairs of a check set."""
    ref, cand = Predictor(reference, REFERENCE_CONF), Predictor(candidate, candidate_conf)
    score = KeptScore()
    for style, path in images:
        image = cv2.imread(str(path))
        if image is None:
            raise ValueError(f"{path}: not an image OpenCV can read")
        truth, got = ref(image), cand(image)
        found = kept_boxes(truth, got, iou)
        for group in sorted({GROUPS[b.cls] for b in truth if b.cls in GROUPS}):
            members = [f for b, f in zip(truth, found, strict=True) if GROUPS.get(b.cls) == group]
            score.add(f"{style}/{group}", len(members), sum(members))
        score.images += 1
    return score


def gate(
    kept: float | None, vn_candidate: Mapping[str, float | None], vn_default: Mapping[str, float | None]
) -> list[str]:
    """Why a candidate may not become the default (an empty list: it may).

    Args:
        kept: the candidate's kept score on the check set.
        vn_candidate / vn_default: recall per row (`VN_ROWS`) on the labelled Vietnamese images,
            of the candidate and of the current default.
    """
    reasons = []
    if kept is None or kept < MIN_KEPT:
        reasons.append(f"kept {kept if kept is None else round(kept, 3)} < {MIN_KEPT}: it forgets what "
                       f"{REFERENCE} finds on non-Vietnamese and night frames")  # fmt: skip
    for row in VN_ROWS:
        have, need = vn_candidate.get(row), vn_default.get(row)
        if need is not None and (have is None or have < need - VN_SLACK):
            reasons.append(f"{row} recall {have} on the Vietnamese labels is below the current default's {need}")
    return reasons


def vn_rows(scores: Mapping[str, Any]) -> dict[str, float | None]:
    """Recall of the `VN_ROWS` from `DetectionScores.as_dict()["classes"]`-shaped scores."""
    return {row: (scores.get(row) or {}).get("recall") for row in VN_ROWS}


def check_set_index(clips_root: Path, cache: Path) -> Path:
    """The check set's index under `cache`, built from `clips_root` the first time."""
    from detector.checkset import build_checkset

    index = cache / "index.txt"
    return index if index.is_file() else build_checkset(clips_root, cache)


def set_default(name: str, manifest: Path | None = None) -> Path:
    """Make `name` the manifest's `default:` (the text of the rest of the manifest is kept)."""
    from detector.weights import load_manifest, models_dir

    manifest = manifest or models_dir() / "manifest.yaml"
    if name not in {e.name for e in load_manifest(manifest)}:
        raise ValueError(f"no weights named {name!r} in {manifest}")
    lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
    line = f"default: {name}   # chosen by `trafficcam models set-default` (the gate in detector/kept.py)\n"
    at = next((i for i, ln in enumerate(lines) if ln.startswith("default:")), None)
    if at is None:
        at = next(i for i, ln in enumerate(lines) if ln.startswith("models:"))
        lines.insert(at, line)
    else:
        lines[at] = line
    manifest.write_text("".join(lines), encoding="utf-8")
    return manifest
