"""Where a detector's errors on one class come from, on a labelled image set.

Each prediction of the class that matches no label (at IoU 0.5, greedy by confidence, as
`trafficcam eval-detector` matches) is put in one bin: a second box on a label another box already
found (what non-maximum suppression should remove), a badly placed box (IoU 0.3-0.5 with a label),
a box touching a label (0.1-0.3), a box on a label of another class, or a box on nothing labelled.
Each missed label is binned by how close the nearest prediction came. Prints one table.

    .venv/bin/python benchmarks/detector_errors.py --weights models/vn2_yolov8n_320.onnx \
        --images ../shared/images/vn_cctv_labels [--class motorcycle] [--nms-iou 0.7]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("YOLO_OFFLINE", "1")


def main() -> None:
    import cv2
    import numpy as np
    from ultralytics import YOLO

    from detector.evaluate import (
        LabelledBox,
        dataset_names,
        eval_class,
        iou_matrix,
        label_path,
        list_images,
        read_label_file,
    )
    from detector.yolo import NMS_IOU, predict_windows

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=str(ROOT / "models" / "vn2_yolov8n_320.onnx"))
    parser.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "images" / "vn_cctv_labels")
    parser.add_argument("--class", dest="cls", default="motorcycle", help="evaluation class (eval-detector's names)")
    parser.add_argument("--conf", type=float, default=0.25)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--nms-iou", type=float, default=NMS_IOU)
    args = parser.parse_args()

    folder = args.images / "images" if (args.images / "images").is_dir() else args.images
    names = dataset_names(args.images)
    model = YOLO(args.weights, task="detect")
    model_names = {int(k): eval_class(v) for k, v in model.names.items()}
    bins: Counter[str] = Counter()
    for path in list_images(folder):
        image = cv2.imread(str(path))
        h, w = image.shape[:2]
        truths = read_label_file(label_path(path), names, w, h)
        xyxy, conf, cls = predict_windows(model, image, [(0, 0, w, h)], args.imgsz, args.conf, nms_iou=args.nms_iou)
        preds = [
            LabelledBox(model_names[int(c)], *map(float, box), float(s))
            for box, c, s in zip(xyxy.tolist(), cls.tolist(), conf.tolist(), strict=True)
        ]
        labels = [t for t in truths if t.cls == args.cls]
        others = [t for t in truths if t.cls != args.cls]
        found = sorted((p for p in preds if p.cls == args.cls), key=lambda p: -p.conf)
        iou = iou_matrix(found, labels) if found and labels else np.zeros((len(found), len(labels)))
        taken: set[int] = set()
        for i, pred in enumerate(found):
            free = [j for j in range(len(labels)) if j not in taken and iou[i, j] >= 0.5]
            if free:
                taken.add(max(free, key=lambda j: iou[i, j]))
                bins["found (true positive)"] += 1
                continue
            best = iou[i].max() if labels else 0.0
            if best >= 0.5:
                bins["false: a second box on a label already found"] += 1
            elif best >= 0.3:
                bins["false: badly placed (IoU 0.3-0.5 with a label)"] += 1
            elif best >= 0.1:
                bins["false: touching a label (IoU 0.1-0.3)"] += 1
            elif others and iou_matrix([pred], others).max() >= 0.3:
                bins["false: on a label of another class"] += 1
            else:
                bins["false: on nothing labelled"] += 1
        for j in range(len(labels)):
            if j in taken:
                continue
            best = iou[:, j].max() if found else 0.0
            near = "IoU 0.3-0.5" if best >= 0.3 else "IoU 0.1-0.3" if best >= 0.1 else "nothing near"
            bins[f"missed: nearest prediction {near}"] += 1
    print(f"{Path(args.weights).name} on {args.images}, class {args.cls}, conf {args.conf}, "
          f"{args.imgsz} px, NMS IoU {args.nms_iou}")  # fmt: skip
    print("| outcome | boxes |\n|---|---:|")
    for outcome, count in sorted(bins.items()):
        print(f"| {outcome} | {count} |")


if __name__ == "__main__":
    main()
