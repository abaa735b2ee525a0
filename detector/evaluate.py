"""Detection recall and precision per class at IoU 0.5 on a YOLO-format labelled image set.

Dataset class names and model class names both go through detector/labels.py, so `motobike`
boxes are compared with `motorcycle` predictions. Classes trafficcam does not use keep their own
name (`red_light`, `stop_line`, ...); a `signal` row counts any lit signal head whatever its
colour, so COCO's colour-blind `traffic light` can be compared with a model that reads colours,
and a `car+bus+truck` row pools those classes (the dataset labels trucks `car` and has no bus).
Polygon label rows (class then x y pairs) count as their bounding box.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from detector.labels import normalise

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
SIGNAL_ROW = "signal"
VEHICLE_ROW = "car+bus+truck"
GROUPS: dict[str, frozenset[str]] = {
    # any lit signal head whatever its colour: COCO's `traffic light` has none
    SIGNAL_ROW: frozenset({"red_light", "green_light", "yellow_light", "traffic light"}),
    # the Vietnamese dataset labels trucks (and has no bus class) as `car`
    VEHICLE_ROW: frozenset({"car", "bus", "truck"}),
}


class EvaluationError(Exception):
    """A labelled image set that cannot be read; the message says what is missing."""


@dataclass(frozen=True, slots=True)
class LabelledBox:
    """One box in pixels with its evaluation class and (for predictions) confidence."""

    cls: str
    x1: float
    y1: float
    x2: float
    y2: float
    conf: float = 1.0


@dataclass
class ClassScore:
    """Counts for one class; recall and precision are None where undefined."""

    name: str
    truths: int = 0
    predictions: int = 0
    matched_truths: int = 0
    matched_predictions: int = 0

    @property
    def recall(self) -> float | None:
        return self.matched_truths / self.truths if self.truths else None

    @property
    def precision(self) -> float | None:
        return self.matched_predictions / self.predictions if self.predictions else None

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["recall"] = None if self.recall is None else round(self.recall, 4)
        d["precision"] = None if self.precision is None else round(self.precision, 4)
        return d


@dataclass
class DetectionScores:
    """Per-class scores over an image set, and how it was measured."""

    classes: dict[str, ClassScore] = field(default_factory=dict)
    images: int = 0
    iou: float = 0.5
    settings: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "images": self.images,
            "iou": self.iou,
            **self.settings,
            "classes": {k: v.as_dict() for k, v in self.classes.items()},
        }


def eval_class(name: str, overrides: Mapping[str, str | None] | None = None) -> str:
    """Class name -> evaluation class: a trafficcam label where one applies, else the name itself."""
    key = name.strip().lower()
    try:
        label = normalise(key, overrides)
    except ValueError:
        label = None
    if label is None and overrides is not None and key in overrides:
        label = normalise(key)  # the manifest drops it from the pipeline, but we still score it
    return label or key.replace("traffic_light", "traffic light")


def read_label_file(path: Path, names: Mapping[int, str], width: int, height: int) -> list[LabelledBox]:
    """Boxes of one YOLO label file in pixels; polygon rows become their bounding box."""
    out: list[LabelledBox] = []
    if not path.is_file():
        return out
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 5 or len(parts) % 2 == 0:
            raise EvaluationError(f"{path}:{n}: expected 'class cx cy w h' or 'class x y x y ...', got {line!r}")
        cls_id, values = int(parts[0]), [float(v) for v in parts[1:]]
        if cls_id not in names:
            raise EvaluationError(f"{path}:{n}: class id {cls_id} is not in the dataset names {dict(names)}")
        if len(values) == 4:
            cx, cy, w, h = values
            x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        else:
            xs, ys = values[0::2], values[1::2]
            x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
        out.append(LabelledBox(eval_class(names[cls_id]), x1 * width, y1 * height, x2 * width, y2 * height))
    return out


def iou_matrix(a: Sequence[LabelledBox], b: Sequence[LabelledBox]) -> np.ndarray:
    """IoU of every box in `a` with every box in `b` (len(a) x len(b))."""
    if not a or not b:
        return np.zeros((len(a), len(b)))
    aa = np.array([[x.x1, x.y1, x.x2, x.y2] for x in a])
    bb = np.array([[x.x1, x.y1, x.x2, x.y2] for x in b])
    lt = np.maximum(aa[:, None, :2], bb[None, :, :2])
    rb = np.minimum(aa[:, None, 2:], bb[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = (aa[:, 2:] - aa[:, :2]).prod(-1)
    area_b = (bb[:, 2:] - bb[:, :2]).prod(-1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def match(truths: Sequence[LabelledBox], preds: Sequence[LabelledBox], iou: float = 0.5) -> tuple[int, int]:
    """Greedy one-to-one matching, most confident prediction first; (matched truths, matched preds)."""
    order = sorted(range(len(preds)), key=lambda i: -preds[i].conf)
    ious = iou_matrix([preds[i] for i in order], truths)
    taken: set[int] = set()
    hits = 0
    for row in ious:
        best, best_iou = -1, iou
        for j, v in enumerate(row):
            if j not in taken and v >= best_iou:
                best, best_iou = j, v
        if best >= 0:
            taken.add(best)
            hits += 1
    return hits, hits


def _rows(boxes: Iterable[LabelledBox]) -> dict[str, list[LabelledBox]]:
    out: dict[str, list[LabelledBox]] = {}
    for b in boxes:
        out.setdefault(b.cls, []).append(b)
        for row, members in GROUPS.items():
            if b.cls in members:
                out.setdefault(row, []).append(b)
    return out


def score_image(scores: DetectionScores, truths: Sequence[LabelledBox], preds: Sequence[LabelledBox]) -> None:
    """Add one image's truths and predictions to `scores` (per class, and the `signal` row)."""
    t_rows, p_rows = _rows(truths), _rows(preds)
    for cls in set(t_rows) | set(p_rows):
        s = scores.classes.setdefault(cls, ClassScore(cls))
        t, p = t_rows.get(cls, []), p_rows.get(cls, [])
        mt, mp = match(t, p, scores.iou)
        s.truths += len(t)
        s.predictions += len(p)
        s.matched_truths += mt
        s.matched_predictions += mp
    scores.images += 1


def dataset_names(images_dir: Path) -> dict[int, str]:
    """Class names from the `data.yaml` next to (or above) the images folder."""
    for d in (images_dir, images_dir.parent):
        f = d / "data.yaml"
        if f.is_file():
            names = (yaml.safe_load(f.read_text(encoding="utf-8")) or {}).get("names")
            if isinstance(names, list):
                return dict(enumerate(names))
            if isinstance(names, dict):
                return {int(k): str(v) for k, v in names.items()}
    raise EvaluationError(f"no data.yaml with `names` in {images_dir} or {images_dir.parent}")


def label_path(image: Path) -> Path:
    """YOLO convention: .../images/x.jpg -> .../labels/x.txt."""
    parts = list(image.parts)
    if "images" in parts:
        i = len(parts) - 1 - parts[::-1].index("images")
        parts[i] = "labels"
    return Path(*parts).with_suffix(".txt")


def list_images(images: Path) -> list[Path]:
    """Images of a folder (or of its `images/` subfolder), or the paths listed in a .txt file."""
    if images.is_file() and images.suffix == ".txt":
        return [Path(p) for p in images.read_text(encoding="utf-8").split() if p]
    if (images / "images").is_dir():
        images = images / "images"
    if not images.is_dir():
        raise EvaluationError(f"{images}: expected a folder of images or a .txt list of image paths")
    found = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise EvaluationError(f"{images}: no images ({', '.join(IMAGE_SUFFIXES)})")
    return found


def evaluate_detector(
    weights: str,
    images: Path,
    imgsz: int = 320,
    conf: float = 0.25,
    names: Mapping[int, str] | None = None,
    overrides: Mapping[str, str | None] | None = None,
    iou: float = 0.5,
) -> DetectionScores:
    """Run `weights` on every labelled image and score recall / precision per class at `iou`.

    Args:
        weights: a path ultralytics can load (.pt, .onnx).
        images: folder of images with a sibling `labels/` folder, or a .txt list of image paths.
        names: dataset class names (default: from data.yaml beside the images).
        overrides: the manifest's class map for the model (class name -> trafficcam label).
    """
    from ultralytics import YOLO

    paths = list_images(images)
    root = images if images.is_dir() else paths[0].parent
    names = names or dataset_names(root.parent if root.name == "images" else root)
    model: Any = YOLO(weights, task="detect")
    model_names = {int(k): eval_class(v, overrides) for k, v in model.names.items()}
    scores = DetectionScores(iou=iou, settings={"weights": str(weights), "imgsz": imgsz, "conf": conf})
    for path in paths:
        result: Any = model.predict(str(path), imgsz=imgsz, conf=conf, verbose=False)[0]
        h, w = result.orig_shape
        truths = read_label_file(label_path(path), names, w, h)
        preds = [
            LabelledBox(model_names[int(c)], float(x1), float(y1), float(x2), float(y2), float(s))
            for (x1, y1, x2, y2), c, s in zip(
                result.boxes.xyxy.tolist(), result.boxes.cls.tolist(), result.boxes.conf.tolist(), strict=True
            )
        ]
        score_image(scores, truths, preds)
    return scores
