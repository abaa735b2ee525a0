"""How far could COCO weights go on Vietnamese motorbikes? The ceiling of any box-level fix.

A labelled `motobike` box holds rider and bike together. COCO weights rarely call it a motorcycle;
they may see the rider as a `person`. Rider merging, growing a rider's box down over the bike, or
any other rule that turns COCO boxes into motorbike boxes can only find a motorbike where some
COCO box lies on it. This counts, per detection setting, the share of labelled motorbikes that have
a COCO `person`, `motorcycle` or `bicycle` box mostly inside them (at least `--inside` of its area):
no box-level rule can reach a higher recall.

    .venv/bin/python benchmarks/coco_riders.py --images ../shared/images/vn_cctv_labels \
        --weights models/coco-n-f16_yolov8n_320.onnx
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("YOLO_OFFLINE", "1")

SETTINGS = {"whole frame": ((1, 1), False), "2x2 tiles + whole frame": ((2, 2), True)}
PARTS = ("person", "motorcycle", "bicycle")


def main() -> None:
    import cv2
    from ultralytics import YOLO

    from detector.evaluate import dataset_names, label_path, list_images, read_label_file
    from detector.tiling import detection_windows
    from detector.yolo import predict_windows

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "images" / "vn_cctv_labels")
    parser.add_argument("--weights", default=str(ROOT / "models" / "coco-n-f16_yolov8n_320.onnx"))
    parser.add_argument("--conf", type=float, default=0.25)
    parser.add_argument("--inside", type=float, default=0.6, help="share of a COCO box inside the label")
    args = parser.parse_args()

    paths = list_images(args.images / "images" if (args.images / "images").is_dir() else args.images)
    names = dataset_names(args.images)
    model = YOLO(args.weights, task="detect")
    print(f"{args.images} ({len(paths)} images), {Path(args.weights).name} at 320 px, conf {args.conf}, "
          f"a COCO box counts when {args.inside:.0%} of it lies inside the labelled motorbike")
    print("| setting | labelled motorbikes | with a person inside | with a motorcycle/bicycle inside | with any |")
    print("|---|---:|---:|---:|---:|")
    for setting, (tiles, whole) in SETTINGS.items():
        total = person = bike = anything = 0
        for path in paths:
            image = cv2.imread(str(path))
            h, w = image.shape[:2]
            bikes = [t for t in read_label_file(label_path(path), names, w, h) if t.cls in ("motobike", "motorcycle")]
            if not bikes:
                continue
            windows = detection_windows((w, h), None, tiles, 0.2, whole)
            xyxy, _, classes = predict_windows(model, image, windows, 320, args.conf)
            boxes = [(model.names[int(c)], b) for b, c in zip(xyxy.tolist(), classes.tolist(), strict=True)]
            for t in bikes:
                hits = {cls for cls, b in boxes if cls in PARTS and _inside(b, (t.x1, t.y1, t.x2, t.y2)) >= args.inside}
                total += 1
                person += "person" in hits
                bike += bool(hits & {"motorcycle", "bicycle"})
                anything += bool(hits)
        print(f"| {setting} | {total} | {person / total:.3f} | {bike / total:.3f} | {anything / total:.3f} |")


def _inside(box: list[float], label: tuple[float, float, float, float]) -> float:
    """Share of `box`'s area inside `label`."""
    w = min(box[2], label[2]) - max(box[0], label[0])
    h = min(box[3], label[3]) - max(box[1], label[1])
    area = (box[2] - box[0]) * (box[3] - box[1])
    return 0.0 if w <= 0 or h <= 0 or area <= 0 else w * h / area


if __name__ == "__main__":
    main()
