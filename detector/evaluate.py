"""Detection recall and precision per class at IoU 0.5 on a YOLO-format labelled image set.

Dataset class names and model class names both go through detector/labels.py, so `motobike`
boxes are compared with `motorcycle` predictions. Classes trafficcam does not use keep their own
name (`red_light`, `stop_line`, ...); a `signal` row counts any lit signal head whatever its
colour, so COCO's colour-blind `traffic light` can be compared with a model that reads colours,
a `car+bus+truck` row pools those classes (the dataset labels trucks `car` and has no bus), and a
`motorcycle+person` row counts a rider as the motorbike it sits on. With `merge_riders` the
predictions go through `detector.riders.merge_riders` first, as the pipeline's detections do.
Polygon label rows (class then x y pairs) count as their bounding box.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import yaml

from detector.labels import normalise
from detector.tiling import Window, detection_windows
from detector.types import LABELS

if TYPE_CHECKING:
    from detector.weights import ResolvedWeights

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
SIGNAL_ROW = "signal"
VEHICLE_ROW = "car+bus+truck"
RIDER_ROW = "motorcycle+person"
GROUPS: dict[str, frozenset[str]] = {
    # any lit signal head whatever its colour: COCO's `traffic light` has none
    SIGNAL_ROW: frozenset({"red_light", "green_light", "yellow_light", "traffic light"}),
    # the Vietnamese dataset labels trucks (and has no bus class) as `car`
    VEHICLE_ROW: frozenset({"car", "bus", "truck"}),
    # the dataset boxes rider and motorbike together; a COCO model often sees only the rider, and
    # the pipeline checks a person left over after rider merging as a rider whose bike was missed
    RIDER_ROW: frozenset({"motorcycle", "person"}),
}


# labelled classes a scene file would also draw (stop lines, signal heads): `--roi` bounds them
SCENE_CLASSES = frozenset({"stop_line", "red_light", "green_light", "yellow_light", "traffic light"})


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


def label_roi(truths: Sequence[LabelledBox], width: int, height: int, margin: float) -> Window | None:
    """The region of interest a scene file would give this image: the bounding box of its labelled
    stop lines and signal heads, grown by `margin` of the image size; None when it has neither."""
    scene_like = [b for b in truths if b.cls in SCENE_CLASSES]
    if not scene_like:
        return None
    mx, my = margin * width, margin * height
    return (
        max(0, int(min(b.x1 for b in scene_like) - mx)),
        max(0, int(min(b.y1 for b in scene_like) - my)),
        min(width, int(max(b.x2 for b in scene_like) + mx + 1)),
        min(height, int(max(b.y2 for b in scene_like) + my + 1)),
    )


def evaluate_detector(
    weights: str | ResolvedWeights,
    images: Path,
    imgsz: int = 320,
    conf: float = 0.25,
    names: Mapping[int, str] | None = None,
    overrides: Mapping[str, str | None] | None = None,
    iou: float = 0.5,
    tiles: tuple[int, int] = (1, 1),
    overlap: float = 0.2,
    whole_region: bool = False,
    roi_margin: float | None = None,
    merge_riders: bool = False,
    nms_iou: float = 0.7,
) -> DetectionScores:
    """Run `weights` on every labelled image and score recall / precision per class at `iou`.

    Args:
        weights: a path ultralytics can load (.pt, .onnx), or resolved weights (a fused entry runs
            through the pipeline's detector and scores trafficcam labels only).
        images: folder of images with a sibling `labels/` folder, or a .txt list of image paths.
        names: dataset class names (default: from data.yaml beside the images).
        overrides: the manifest's class map for the model (class name -> trafficcam label).
        tiles, overlap, whole_region: run on overlapping tiles (columns, rows), merged as the
            pipeline merges them, optionally with the whole region as well (see detector/tiling.py).
        roi_margin: when set, detect only inside each image's region of interest (`label_roi`);
            every labelled vehicle still counts, inside it or not.
        merge_riders: fold each person sitting on a predicted two-wheeler into it, as the pipeline does.
        nms_iou: non-maximum suppression IoU (ultralytics' default 0.7; the pipeline runs each
            weights at its manifest's `nms_iou`, else `detector.yolo.NMS_IOU`).
    """
    paths = list_images(images)
    root = images if images.is_dir() else paths[0].parent
    names = names or dataset_names(root.parent if root.name == "images" else root)
    predict = _fused_predictor(weights, imgsz, conf) if not isinstance(weights, str) else _predictor(weights, overrides)
    name = weights if isinstance(weights, str) else weights.name
    settings: dict[str, object] = {"weights": name, "imgsz": imgsz, "conf": conf, "nms_iou": nms_iou}
    if tiles != (1, 1):
        settings.update(tiles=f"{tiles[0]}x{tiles[1]}", overlap=overlap, whole_region=whole_region)
    if roi_margin is not None:
        settings.update(roi_margin=roi_margin)
    if merge_riders:
        settings.update(merge_riders=True)
    scores = DetectionScores(iou=iou, settings=settings)
    inference_s, windows_run, with_roi, queue_boxes, vehicle_boxes = 0.0, 0, 0, 0, 0
    for path in paths:
        image = cv2.imread(str(path))
        if image is None:
            raise EvaluationError(f"{path}: not an image OpenCV can read")
        h, w = image.shape[:2]
        truths = read_label_file(label_path(path), names, w, h)
        region = label_roi(truths, w, h, roi_margin) if roi_margin is not None else None
        with_roi += region is not None
        windows = detection_windows((w, h), region, tiles, overlap, whole_region)
        start = time.perf_counter()
        preds = predict(image, windows, imgsz, conf, nms_iou)
        inference_s += time.perf_counter() - start
        windows_run += len(windows)
        preds = _merged_riders(preds) if merge_riders else preds
        score_image(scores, truths, preds)
        covering = queue_box_counts(truths, preds)
        vehicle_boxes += len(covering)
        queue_boxes += sum(n >= 2 for n in covering)
    scores.settings.update(
        ms_per_image=round(1000 * inference_s / max(1, len(paths)), 1),
        windows_per_image=round(windows_run / max(1, len(paths)), 2),
        queue_boxes=queue_boxes,
        queue_box_share=round(queue_boxes / vehicle_boxes, 4) if vehicle_boxes else None,
    )
    if roi_margin is not None:
        scores.settings.update(images_with_roi=with_roi)
    return scores


Predict = Callable[[np.ndarray, Sequence[Window], int, float, float], list[LabelledBox]]


def _predictor(weights: str, overrides: Mapping[str, str | None] | None) -> Predict:
    """Predictions of one ultralytics model, every class kept under its evaluation name."""
    from ultralytics import YOLO

    from detector.yolo import predict_windows

    model: Any = YOLO(weights, task="detect")
    model_names = {int(k): eval_class(v, overrides) for k, v in model.names.items()}

    def predict(
        image: np.ndarray, windows: Sequence[Window], imgsz: int, conf: float, nms_iou: float
    ) -> list[LabelledBox]:
        xyxy, confs, classes = predict_windows(model, image, windows, imgsz, conf, nms_iou=nms_iou)
        return [
            LabelledBox(model_names[int(c)], float(x1), float(y1), float(x2), float(y2), float(s))
            for (x1, y1, x2, y2), c, s in zip(xyxy.tolist(), classes.tolist(), confs.tolist(), strict=True)
        ]

    return predict


def _fused_predictor(weights: ResolvedWeights, imgsz: int, conf: float) -> Predict:
    """Predictions of a fused manifest entry, through the pipeline's detector (trafficcam labels only)."""
    from detector.yolo import YoloDetector

    detector = YoloDetector(weights, imgsz=imgsz, conf=conf)

    def predict(
        image: np.ndarray, windows: Sequence[Window], _imgsz: int, _conf: float, _nms: float
    ) -> list[LabelledBox]:
        detector.windows = list(windows)
        found = detector.detect(image)
        return [LabelledBox(d.label, d.box.x1, d.box.y1, d.box.x2, d.box.y2, d.confidence) for d in found]

    return predict


VEHICLE_CLASSES = frozenset({"car", "bus", "truck", "motorcycle", "bicycle"})


def queue_box_counts(truths: Sequence[LabelledBox], preds: Sequence[LabelledBox], inside: float = 0.7) -> list[int]:
    """For each predicted vehicle box, how many labelled vehicles lie in it (each at least `inside`
    of its area): one box per vehicle gives 1; a box drawn around a queue, 2 or more."""
    t = [b for b in truths if b.cls in VEHICLE_CLASSES]
    p = [b for b in preds if b.cls in VEHICLE_CLASSES]
    if not p:
        return []
    if not t:
        return [0] * len(p)
    pa = np.array([[b.x1, b.y1, b.x2, b.y2] for b in p])
    ta = np.array([[b.x1, b.y1, b.x2, b.y2] for b in t])
    lt = np.maximum(pa[:, None, :2], ta[None, :, :2])
    rb = np.minimum(pa[:, None, 2:], ta[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_t = np.maximum((ta[:, 2:] - ta[:, :2]).prod(-1), 1e-9)
    return [int(n) for n in ((inter / area_t[None, :]) >= inside).sum(1)]


def _merged_riders(preds: list[LabelledBox]) -> list[LabelledBox]:
    from detector.riders import merge_riders
    from detector.types import Box, Detection

    detections = [Detection(Box(p.x1, p.y1, p.x2, p.y2), p.cls, min(p.conf, 1.0)) for p in preds if p.cls in LABELS]
    rest = [p for p in preds if p.cls not in LABELS]
    merged = merge_riders(detections)
    return [LabelledBox(d.label, d.box.x1, d.box.y1, d.box.x2, d.box.y2, d.confidence) for d in merged] + rest
