"""Labelled training frames from the renderer (YOLO format), and the demo weights trained on them.

`write_dataset` renders clips of its own seeds (never the sample's default seed), by day and by
night, and keeps every `step`-th frame as a JPEG with a label file of exact boxes: class 0 car,
1 motorcycle, 2 bus (names that detector/labels.py maps as they are). A road user is labelled when
enough of it is in view; one mostly hidden behind nearer road users or too small to see is left out.

`train_demo_weights` trains on such a dataset with the project's own training job
(detector/training.py: ultralytics, fixed seed, ONNX export, int8 where it keeps accuracy) and
records the weights in models/manifest.yaml as demo weights for the synthetic scene only.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from pipeline.sample.render import Renderer, SampleSpec, UserBox

log = logging.getLogger(__name__)

CLASSES = ("car", "motorcycle", "bus")
MIN_SIDE_PX = 7.0  # at 640 px wide: smaller road users are too small to label at the detector's 320 px
MIN_VISIBLE = 0.4  # share of a road user's pixels that must show for it to be labelled
DEMO_NAME = "demo-synthetic"

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class DatasetSpec:
    """Which frames to render for training. Seeds start at `first_seed`, away from the sample's."""

    clips: int = 12
    seconds: float = 32.0
    step: int = 7  # keep every 7th frame at 10 fps
    night_every: int = 3  # every third clip is a night clip
    width: int = 640
    height: int = 360
    first_seed: int = 1000

    @property
    def images(self) -> int:
        per_clip = len(range(0, int(round(self.seconds * 10)), self.step))
        return self.clips * per_clip


def yolo_labels(users: tuple[UserBox, ...], width: int, height: int) -> list[str]:
    """YOLO label lines (class cx cy w h, normalised) for the road users worth labelling."""
    lines = []
    scale = width / 640.0
    for u in users:
        x1, y1, x2, y2 = u.box
        if u.visible < MIN_VISIBLE or min(x2 - x1, y2 - y1) < MIN_SIDE_PX * scale:
            continue
        cls = CLASSES.index(u.label)
        cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
        lines.append(f"{cls} {cx:.6f} {cy:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")
    return lines


def write_dataset(spec: DatasetSpec, root: Path, progress: ProgressFn | None = None) -> Path:
    """Render the frames of `spec` into `root/images`, `root/labels` and `root/data.yaml`; return root."""
    images, labels = root / "images", root / "labels"
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    for old in [*images.glob("s*_[dn]_*.jpg"), *labels.glob("s*_[dn]_*.txt")]:  # frames of an earlier run
        old.unlink()
    done = 0
    for clip in range(spec.clips):
        seed = spec.first_seed + clip
        night = spec.night_every > 0 and clip % spec.night_every == spec.night_every - 1
        sample = SampleSpec(seconds=spec.seconds, fps=10.0, width=spec.width, height=spec.height, night=night,
                            seed=seed)
        rng = np.random.default_rng([seed, 3])
        for frame in Renderer(sample).frames(step=spec.step):
            name = f"s{seed}_{'n' if night else 'd'}_{frame.index:04d}"
            quality = int(rng.integers(70, 96))
            cv2.imwrite(str(images / f"{name}.jpg"), frame.image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            lines = yolo_labels(frame.users, spec.width, spec.height)
            (labels / f"{name}.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            done += 1
            if progress is not None:
                progress(done, spec.images)
    data = {"names": list(CLASSES), "nc": len(CLASSES),
            "rendered_by": {"clips": spec.clips, "seconds": spec.seconds, "step": spec.step,
                            "night_every": spec.night_every, "size": [spec.width, spec.height],
                            "first_seed": spec.first_seed}}
    (root / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return root


DEMO_NOTES = (
    "DEMO WEIGHTS for the synthetic junction of `trafficcam sample render` only: trained on frames of "
    "that renderer (cars, motorbikes with riders, buses; day and night). They know nothing of real "
    "footage: use coco-n (or vn) on real video."
)
DEMO_LICENCE = (
    "AGPL-3.0: fine-tuned from Ultralytics YOLOv8n (COCO, AGPL-3.0) on images rendered by trafficcam itself"
)


def train_demo_weights(
    dataset: Path,
    output: Path,
    *,
    epochs: int,
    start: str = "coco-n",
    seed: int = 0,
    batch: int = 16,
    run_dir: Path = Path("runs/train-demo"),
    command: str = "",
):  # type: ignore[no-untyped-def]
    """Train, export and record the demo weights with detector/training.py; return its TrainingResult."""
    from detector.training import train_detector, write_manifest_entry

    started = time.perf_counter()
    result = train_detector(dataset, output, epochs=epochs, imgsz=320, start=start, seed=seed, batch=batch,
                            workers=2, val_fraction=0.1, run_dir=run_dir, command=command, close_mosaic=2)
    source = (f"Trained by trafficcam from {start} on {_count(dataset)} frames rendered by pipeline/sample: "
              f"`{command or 'trafficcam sample train'}` (coco-n is found through TRAFFICCAM_MODEL_PATH, "
              "e.g. ../shared/models).")
    training = {**(result.entry.training or {}), "wall_min": round((time.perf_counter() - started) / 60, 1),
                "cpu_threads": os.cpu_count()}
    entry = result.entry.model_copy(
        update={"source": source, "licence": DEMO_LICENCE, "notes": DEMO_NOTES, "training": training}
    )
    write_manifest_entry(entry, result.weights.parent / "manifest.yaml")
    result.entry = entry
    return result


def _count(dataset: Path) -> int:
    return sum(1 for _ in (dataset / "images").glob("*.jpg"))
