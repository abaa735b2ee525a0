"""A training set that teaches Vietnamese motorbikes without forgetting what COCO knew.

Issue 17's recipe for a default that does not forget: the Vietnamese labels, plus the COCO
weights' own confident boxes (pseudo-labels of `coco-n-f16`, confidence >= 0.5) on frames of the
shared clips and on night-styled copies of them, all in trafficcam's six labels:

- **Vietnamese images** (`../shared/datasets/vn_cctv_train`): their `car` and `motobike` boxes
  (a rider and their bike as one box, the dataset's convention) become `car` / `motorcycle`;
  signal classes are dropped. The dataset labels no pedestrians, buses, trucks or bicycles, so
  the teacher's boxes of those labels are added where no labelled box is (a pedestrian on the
  pavement stays a person; a teacher `person` on a labelled motobike is its rider and is not).
- **Clip frames**: the teacher's boxes, riders folded into their bikes (`detector.riders`), so
  the convention is the Vietnamese one. Vietnamese clips are left out: the teacher sees most
  motorbikes there only as riders, and its misses would teach the student to miss them too.
  Frames of the kept score's check set, and frames within `margin_s` of one, are never used
  (`detector.checkset`), so the gate still measures frames no model was trained on.
- **Night copies** of the clip frames (`checkset.night_style`, another seed), same boxes.

`build_mix` writes a YOLO dataset (images/{train,val}, labels/{train,val}, data.yaml with the six
labels) whose `data.yaml` `trafficcam train-detector --data` takes; `mix.json` beside it records
what went in. Images of the Vietnamese set are linked, not copied.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml

from detector.checkset import CheckSetSpec, check_frames, clip_video, frames_at, night_style
from detector.evaluate import LabelledBox, iou_matrix
from detector.labels import normalise
from detector.types import LABELS

log = logging.getLogger(__name__)

TEACHER = "coco-n-f16"
TEACHER_CONF = 0.5
# labels the Vietnamese set never labels: the teacher's boxes of these are added to its images
UNLABELLED_IN_VN = frozenset({"person", "bus", "truck", "bicycle"})

Teacher = Callable[[np.ndarray], list[LabelledBox]]


class MixError(ValueError):
    """The mix cannot be built from what was given."""


@dataclass(frozen=True)
class MixSpec:
    every_s: float = 1.0
    """Take a clip frame every this many seconds..."""
    margin_s: float = 0.5
    """...that is at least this far from every check-set frame."""
    night: bool = True
    night_seed: int = 23
    vn_limit: int | None = None
    """Use at most this many Vietnamese images (None: all)."""
    frames_per_clip: int | None = None
    clip_repeat: int = 1
    """Write each clip frame (and its night copy) this many times: the clips have far fewer frames
    than the Vietnamese set, and mosaic augmentation crops each copy differently."""
    val_fraction: float = 0.05
    teacher_conf: float = TEACHER_CONF
    check: CheckSetSpec = field(default_factory=CheckSetSpec)


@dataclass
class MixSummary:
    vn_images: int = 0
    vn_boxes_added: int = 0
    clip_frames: int = 0
    night_frames: int = 0
    boxes: dict[str, int] = field(default_factory=dict)
    clips: list[str] = field(default_factory=list)
    skipped_clips: dict[str, str] = field(default_factory=dict)


def training_frames(fps: float, frames: int, spec: MixSpec) -> list[int]:
    """Frame indices to pseudo-label: every `every_s`, none within `margin_s` of a check frame."""
    if fps <= 0 or frames <= 0:
        return []
    checks = np.array(check_frames(fps, frames, spec.check), dtype=np.float64) / fps
    out = []
    t = 0.0
    while t * fps < frames:
        if not len(checks) or np.min(np.abs(checks - t)) >= spec.margin_s - 1e-9:
            out.append(int(round(t * fps)))
        t += spec.every_s
    return [i for i in out if i < frames]


def is_vietnamese(clip_dir: Path) -> bool:
    """A clip whose PROVENANCE.md says it was filmed in Vietnam (or, without one, a vn_/hanoi_ name)."""
    provenance = clip_dir / "PROVENANCE.md"
    if provenance.is_file():
        for line in provenance.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().lstrip("- ").startswith("country:"):
                return "vietnam" in line.lower()
    return clip_dir.name.lower().startswith(("vn_", "hanoi"))


def _yolo_lines(boxes: Sequence[LabelledBox], width: int, height: int) -> list[str]:
    lines = []
    for b in boxes:
        x1, y1 = max(0.0, b.x1), max(0.0, b.y1)
        x2, y2 = min(float(width), b.x2), min(float(height), b.y2)
        if x2 - x1 < 2 or y2 - y1 < 2 or b.cls not in LABELS:
            continue
        cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
        lines.append(f"{LABELS.index(b.cls)} {cx:.6f} {cy:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")
    return lines


def _split(key: str, val_fraction: float) -> str:
    h = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if h < val_fraction else "train"


def read_vn_labels(label_file: Path, names: Sequence[str], width: int, height: int) -> list[LabelledBox]:
    """A Vietnamese label file's boxes as trafficcam labels (signal and other classes dropped)."""
    boxes = []
    text = label_file.read_text(encoding="utf-8") if label_file.is_file() else ""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 5:
            continue
        cls = int(float(parts[0]))
        label = normalise(names[cls]) if 0 <= cls < len(names) else None
        if label is None:
            continue
        cx, cy, w, h = (float(v) for v in parts[1:])
        boxes.append(LabelledBox(label, (cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width,
                                 (cy + h / 2) * height))  # fmt: skip
    return boxes


def add_unlabelled(labelled: list[LabelledBox], teacher: Sequence[LabelledBox]) -> list[LabelledBox]:
    """The teacher's boxes of labels the Vietnamese set never labels, where no labelled box is.

    A teacher box overlapping a labelled one (IoU >= 0.3, or half of it inside) is that road user
    (a rider on a labelled motobike, a bus labelled `car`), not a new one."""
    extra = [b for b in teacher if b.cls in UNLABELLED_IN_VN]
    if not extra or not labelled:
        return extra
    iou = iou_matrix(extra, labelled)
    inside = np.array([[_inside_share(e, lab) for lab in labelled] for e in extra])
    return [e for e, ious, shares in zip(extra, iou, inside, strict=True) if ious.max() < 0.3 and shares.max() < 0.5]


def _inside_share(a: LabelledBox, b: LabelledBox) -> float:
    w = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    h = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    area = max(1e-9, (a.x2 - a.x1) * (a.y2 - a.y1))
    return w * h / area


def _clip_frames(video: Path, spec: MixSpec) -> Iterator[tuple[int, np.ndarray]]:
    def pick(fps: float, frames: int) -> list[int]:
        wanted = training_frames(fps, frames, spec)
        return wanted if spec.frames_per_clip is None else wanted[: spec.frames_per_clip]

    return frames_at(video, pick)


def build_mix(
    out: Path,
    teacher: Teacher,
    *,
    vn_data: Path | None = None,
    clips_root: Path | None = None,
    spec: MixSpec = MixSpec(),
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write the mixed dataset under `out`; return its data.yaml.

    Args:
        teacher: image -> the teacher's boxes (trafficcam labels, riders merged), e.g.
            `detector.kept.Predictor(resolve("coco-n-f16"), 0.5)`.
        vn_data: a YOLO dataset folder with images/, labels/ and data.yaml (the Vietnamese set).
        clips_root: a folder of clip folders (../shared/clips).
    """
    if vn_data is None and clips_root is None:
        raise MixError("give the Vietnamese dataset, a clips folder, or both")
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    summary = MixSummary()
    say = progress or (lambda _: None)

    def write(key: str, boxes: Sequence[LabelledBox], width: int, height: int, image: np.ndarray | None,
              link: Path | None = None) -> None:  # fmt: skip
        split = _split(key, spec.val_fraction)
        suffix = link.suffix if link is not None else ".jpg"
        dest = out / "images" / split / f"{key}{suffix}"
        if link is not None:
            dest.unlink(missing_ok=True)
            dest.symlink_to(link.resolve())
        else:
            assert image is not None
            cv2.imwrite(str(dest), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        lines = _yolo_lines(boxes, width, height)
        (out / "labels" / split / f"{key}.txt").write_text("\n".join(lines) + ("\n" if lines else ""), "utf-8")
        for b in boxes:
            summary.boxes[b.cls] = summary.boxes.get(b.cls, 0) + 1

    if vn_data is not None:
        names = _dataset_names(vn_data)
        images = sorted(p for p in (vn_data / "images").iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if spec.vn_limit is not None:
            images = images[: spec.vn_limit]
        for n, path in enumerate(images):
            image = cv2.imread(str(path))
            if image is None:
                log.warning("mix: %s is not an image OpenCV can read; left out", path)
                continue
            h, w = image.shape[:2]
            labelled = read_vn_labels(vn_data / "labels" / f"{path.stem}.txt", names, w, h)
            added = add_unlabelled(labelled, teacher(image))
            summary.vn_boxes_added += len(added)
            write(f"vn_{path.stem}", labelled + added, w, h, None, link=path)
            summary.vn_images += 1
            if n % 250 == 0:
                say(f"Vietnamese images: {n + 1}/{len(images)}")
    if clips_root is not None:
        rng = np.random.default_rng(spec.night_seed)
        for clip_dir in sorted(p for p in clips_root.iterdir() if p.is_dir()):
            video = clip_video(clip_dir)
            if video is None:
                continue
            if is_vietnamese(clip_dir):
                summary.skipped_clips[clip_dir.name] = "Vietnamese: the teacher misses motorbikes seen from behind"
                continue
            summary.clips.append(clip_dir.name)
            for index, frame in _clip_frames(video, spec):
                h, w = frame.shape[:2]
                boxes = [b for b in teacher(frame) if b.cls in LABELS]
                night = night_style(frame, rng) if spec.night else None
                for copy in range(spec.clip_repeat):
                    tag = f"_{copy}" if copy else ""
                    write(f"clip_{clip_dir.name}_{index:05d}{tag}", boxes, w, h, frame)
                    if night is not None:
                        write(f"night_{clip_dir.name}_{index:05d}{tag}", boxes, w, h, night)
                summary.clip_frames += 1
                if night is not None:
                    summary.night_frames += 1
            say(f"clip {clip_dir.name}: {summary.clip_frames} frames so far")
    if summary.vn_images + summary.clip_frames == 0:
        raise MixError(f"nothing to train on: no images under {vn_data} and no usable clip under {clips_root}")
    _at_least_one_val(out)
    data_yaml = out / "data.yaml"
    root = out.resolve()
    spec_yaml = {"train": str(root / "images" / "train"), "val": str(root / "images" / "val"), "nc": len(LABELS),
                 "names": list(LABELS)}  # fmt: skip
    data_yaml.write_text(yaml.safe_dump(spec_yaml, sort_keys=False), "utf-8")
    (out / "mix.json").write_text(json.dumps({"spec": _spec_json(spec), "summary": asdict(summary)}, indent=2), "utf-8")
    return data_yaml


def _at_least_one_val(out: Path) -> None:
    """A small mix can hash nothing into val; ultralytics needs one image there."""
    if any((out / "images" / "val").iterdir()):
        return
    first = min((out / "images" / "train").iterdir())
    first.rename(out / "images" / "val" / first.name)
    label = out / "labels" / "train" / f"{first.stem}.txt"
    label.rename(out / "labels" / "val" / label.name)


def _dataset_names(root: Path) -> list[str]:
    spec = yaml.safe_load((root / "data.yaml").read_text(encoding="utf-8")) if (root / "data.yaml").is_file() else None
    names = spec.get("names") if isinstance(spec, dict) else None
    if isinstance(names, dict):
        return [str(names[k]) for k in sorted(names)]
    if not isinstance(names, list):
        raise MixError(f"{root / 'data.yaml'}: no class names (expected names: [...])")
    return [str(n) for n in names]


def _spec_json(spec: MixSpec) -> dict[str, object]:
    d = asdict(spec)
    d["teacher"] = TEACHER
    return d
