"""Fine-tune a YOLO detector on a YOLO-format dataset, export it to ONNX and record it in the manifest.

`train_detector` is the whole job behind `trafficcam train-detector`: split (if given a dataset
folder), start weights (the COCO int8 ONNX is recovered into PyTorch, see detector/recover.py),
ultralytics training, ONNX export, int8 quantisation kept only where it keeps accuracy on the
validation split, then a manifest entry with sha256, classes, training settings and scores.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from detector.evaluate import DetectionScores, dataset_names, evaluate_detector, list_images
from detector.hashing import sha256_file
from detector.labels import normalise
from detector.weights import ManifestEntry, load_manifest, models_dir, resolve

log = logging.getLogger(__name__)

INT8_TOLERANCE = 0.02
"""Largest drop in recall or precision (car, motorcycle) on the validation split that a smaller export may cost."""

DATASET_LICENCE = (
    "Training data: 'red-light-violation-detect' v1 by huyhoang (Roboflow Universe), CC BY 4.0 - "
    "https://universe.roboflow.com/huyhoang/red-light-violation-detect-hecrg/dataset/1 ; "
    "start weights: Ultralytics YOLOv8n (COCO), AGPL-3.0, so these weights are AGPL-3.0 too."
)


class TrainingError(Exception):
    """Training input that cannot be used; the message says what was expected."""


@dataclass
class TrainingResult:
    """What `train_detector` made and measured."""

    weights: Path
    entry: ManifestEntry
    run_dir: Path
    scores: dict[str, object] = field(default_factory=dict)


def split_dataset(root: Path, out_dir: Path, val_fraction: float = 0.05, seed: int = 0) -> Path:
    """Carve a seeded validation split from a YOLO dataset folder (`images/`, `labels/`, `data.yaml`).

    Writes `train.txt`, `val.txt` and `dataset.yaml` into `out_dir` and returns the YAML path.
    """
    if not 0.0 < val_fraction < 1.0:
        raise TrainingError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    images = list_images(root)
    names = dataset_names(root)
    rng = random.Random(seed)
    shuffled = list(images)
    rng.shuffle(shuffled)
    n_val = max(1, round(len(shuffled) * val_fraction))
    val, train = sorted(shuffled[:n_val]), sorted(shuffled[n_val:])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "train.txt").write_text("".join(f"{p.resolve()}\n" for p in train), encoding="utf-8")
    (out_dir / "val.txt").write_text("".join(f"{p.resolve()}\n" for p in val), encoding="utf-8")
    data = {
        "path": str(out_dir.resolve()),
        "train": str((out_dir / "train.txt").resolve()),
        "val": str((out_dir / "val.txt").resolve()),
        "names": names,
        "split": {"source": str(root), "val_fraction": val_fraction, "seed": seed},
    }
    path = out_dir / "dataset.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def read_dataset_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise TrainingError(f"cannot read dataset YAML {path}: {exc}") from None
    if not isinstance(data, dict) or "train" not in data or "val" not in data or "names" not in data:
        raise TrainingError(f"{path}: expected a YOLO dataset YAML with train, val and names")
    names = data["names"]
    data["names"] = dict(enumerate(names)) if isinstance(names, list) else {int(k): v for k, v in names.items()}
    return data


def start_checkpoint(
    spec: str,
    names: Mapping[int, str],
    out_dir: Path,
    calibration: Sequence[Path] = (),
    imgsz: int = 320,
) -> Path:
    """A .pt checkpoint to fine-tune from: a PyTorch file as is, a YOLOv8n ONNX export recovered.

    A recovered model's batch-norms are calibrated on the `calibration` images (training images)
    so that training starts from the function the weights compute (`calibrate_batchnorm`).
    """
    import cv2

    from detector.recover import calibrate_batchnorm, recover_yolov8n, save_checkpoint, seed_head

    if spec.endswith(".yaml"):  # from scratch, e.g. yolov8n.yaml
        return Path(spec)
    path = Path(resolve(spec).path)
    if path.suffix == ".pt":
        return path
    if path.suffix != ".onnx":
        raise TrainingError(f"--from {spec}: expected a .pt checkpoint, an int8 YOLOv8n .onnx or a model .yaml")
    model = seed_head(recover_yolov8n(path), names)
    images = [im for im in (cv2.imread(str(p)) for p in calibration) if im is not None]
    if images:
        calibrate_batchnorm(model, images, imgsz=imgsz)
    else:
        log.warning("no training images to calibrate the recovered model's batch-norms on")
    return save_checkpoint(model, out_dir / f"start-{path.stem}.pt")


def calibration_images(spec: Mapping[str, object], dataset_yaml: Path, count: int = 64, seed: int = 0) -> list[Path]:
    """`count` training images of a dataset YAML (a list file or a folder), seeded."""
    root = Path(str(spec.get("path") or dataset_yaml.parent))
    train = Path(str(spec["train"]))
    train = train if train.is_absolute() else root / train
    if train.suffix == ".txt":
        paths = [Path(line.strip()) for line in train.read_text(encoding="utf-8").splitlines() if line.strip()]
    elif train.is_dir():
        paths = list_images(train)
    else:
        return []
    return sorted(random.Random(seed).sample(paths, min(count, len(paths))))


def quantise_int8(onnx_path: Path, out: Path) -> Path:
    """Dynamic int8 quantisation (weights int8, activations quantised at run time), as coco-n was made."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(onnx_path), str(out), weight_type=QuantType.QInt8)
    _copy_metadata(onnx_path, out)
    return out


def _copy_metadata(src: Path, dst: Path) -> None:
    import onnx

    a, b = onnx.load(str(src)), onnx.load(str(dst))
    have = {p.key for p in b.metadata_props}
    for p in a.metadata_props:
        if p.key not in have:
            b.metadata_props.add(key=p.key, value=p.value)
    onnx.save(b, str(dst))


def _key_scores(scores: DetectionScores) -> dict[str, float]:
    out = {}
    for cls in ("car", "motorcycle"):
        s = scores.classes.get(cls)
        if s is not None:
            out[f"{cls}_recall"] = s.recall or 0.0
            out[f"{cls}_precision"] = s.precision or 0.0
    return out


def keeps_accuracy(fp32: DetectionScores, int8: DetectionScores, tolerance: float = INT8_TOLERANCE) -> bool:
    """True when int8 loses at most `tolerance` recall or precision for car and motorcycle."""
    a, b = _key_scores(fp32), _key_scores(int8)
    return all(b.get(k, 0.0) >= v - tolerance for k, v in a.items())


SPEED_TIE = 1.25
"""A smaller export is kept over a faster one only while it costs at most this factor more time per frame."""


def choose_variant(keeps: Mapping[str, bool], ms: Mapping[str, float]) -> str:
    """The export to ship: among those that keep accuracy (`keeps`, smallest first, fp32 always
    does), the smallest whose inference time is within `SPEED_TIE` of the fastest of them.

    Dynamic int8 is half the size of fp16-stored weights but runs as ConvInteger, about 5x slower
    than float convolutions on this project's CPU (89 against 17 ms per 320-px frame), so size
    alone must not decide.
    """
    ok = [k for k in keeps if keeps[k] or k == "fp32"]
    fastest = min(ms[k] for k in ok)
    return next(k for k in ok if ms[k] <= fastest * SPEED_TIE)


def ms_per_inference(onnx_path: Path, imgsz: int, runs: int = 15) -> float:
    """Median milliseconds of one ONNX Runtime inference of a `imgsz` square input on this machine's CPU."""
    import time

    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x = np.random.default_rng(0).random((1, 3, imgsz, imgsz), dtype=np.float32)
    times = []
    for i in range(runs + 3):
        t0 = time.perf_counter()
        session.run(None, {name: x})
        if i >= 3:  # warm-up runs
            times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


FORMATS = {
    "int8": "onnx (int8, dynamic quantisation)",
    "fp16": "onnx (fp32 graph, weights stored as fp16)",
    "fp32": "onnx (fp32)",
}


def sha256(path: Path) -> str:
    return sha256_file(path)


def class_map(names: Mapping[int, str]) -> dict[str, str | None]:
    """Manifest `classes:` for a dataset: its names onto trafficcam labels, the rest dropped (null)."""
    return {name: normalise(name) for name in names.values()}


def write_manifest_entry(entry: ManifestEntry, manifest: Path | None = None) -> Path:
    """Append `entry` to the manifest, replacing an entry of the same name; other text is kept."""
    manifest = manifest or models_dir() / "manifest.yaml"
    text = manifest.read_text(encoding="utf-8") if manifest.is_file() else "models:\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.rstrip() == f"  - name: {entry.name}"), None)
    if start is not None:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("  - ")), len(lines))
        lines = lines[:start] + lines[end:]
    body = yaml.safe_dump([entry.model_dump(exclude_none=True)], sort_keys=False, width=100, allow_unicode=True)
    block = "".join("  " + ln if ln.strip() else ln for ln in body.splitlines(keepends=True))
    text = "".join(lines)
    if text and not text.endswith("\n"):
        text += "\n"
    manifest.write_text(text + block, encoding="utf-8")
    return manifest


def rescore(name: str, score_sets: Sequence[Path], nms_iou: float, manifest: Path | None = None) -> ManifestEntry:
    """Score the manifest's weights `name` again on `score_sets` at non-maximum suppression IoU
    `nms_iou`, and record that IoU as the one the pipeline runs these weights with.

    The entry's scores for those sets are replaced; its other scores (the validation split at
    training) are kept, each saying the IoU it was measured at.

        python -c "from pathlib import Path; from detector.training import rescore; \
            rescore('vn2', [Path('../shared/images/vn_cctv_labels')], 0.5)"
    """
    manifest = manifest or models_dir() / "manifest.yaml"
    entry = next((e for e in load_manifest(manifest) if e.name == name), None)
    if entry is None:
        raise TrainingError(f"no weights named {name!r} in {manifest}")
    path = resolve(name).path
    scores = dict(entry.scores or {})
    for images in score_sets:
        measured = evaluate_detector(path, Path(images), imgsz=entry.imgsz, overrides=entry.classes, nms_iou=nms_iou)
        scores[Path(images).name] = _rounded(measured)
    updated = entry.model_copy(update={"scores": scores, "nms_iou": nms_iou})
    write_manifest_entry(updated, manifest)
    return updated


def train_detector(
    data: Path,
    output: Path,
    *,
    epochs: int = 12,
    imgsz: int = 320,
    start: str = "coco-n",
    seed: int = 0,
    batch: int = 16,
    workers: int = 2,
    val_fraction: float = 0.05,
    run_dir: Path = Path("runs/train-detector"),
    score_sets: Sequence[Path] = (),
    command: str = "",
    close_mosaic: int = 2,
    time_limit_h: float | None = None,
    freeze: int = 0,
    lr0: float | None = None,
    threads: int | None = None,
) -> TrainingResult:
    """Train, export, choose int8 or float, and write the manifest entry (named after `output`'s stem).

    Args:
        data: a dataset YAML (train, val, names) or a dataset folder (images/, labels/, data.yaml)
            from which a seeded validation split is carved.
        output: where the ONNX file goes, e.g. models/vn (".onnx" and the size are added:
            models/vn_yolov8n_320.onnx); the manifest entry is named after the stem given.
        score_sets: extra labelled image folders to score the exported weights on (recorded).
        time_limit_h: stop after this many hours; ultralytics then re-plans the epoch count (and
            learning-rate schedule) after each epoch, so `epochs` is only the first plan. The
            manifest records the epochs actually trained.
        freeze: keep the first `freeze` layers of the network as they start (the backbone is 0-9),
            so a fine-tune moves less of what the start weights knew.
        lr0: initial learning rate, with AdamW (None: ultralytics' automatic optimizer and rate,
            which for a short fine-tune is AdamW at 0.002 * 5 / (4 + classes)).
        threads: CPU threads to train with (None: every core). Ultralytics otherwise trains on
            CPU with one core fewer than the machine has: one thread, half of a 2-core machine.
    """
    import ultralytics.utils.torch_utils as torch_utils
    from ultralytics import YOLO

    # select_device() sets torch's threads from this module constant (os.cpu_count() - 1)
    torch_utils.NUM_THREADS = max(1, threads or os.cpu_count() or 1)

    run_dir = run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    data_arg = str(data)
    if data.is_dir():
        data = split_dataset(data, run_dir / "data", val_fraction, seed)
    spec = read_dataset_yaml(data)
    names = spec["names"]
    start_pt = start_checkpoint(start, names, run_dir, calibration_images(spec, data, seed=seed), imgsz=imgsz)
    model = YOLO(str(start_pt), task="detect")
    model.train(
        data=str(data),
        epochs=epochs,
        imgsz=imgsz,
        batch=batch,
        workers=workers,
        seed=seed,
        deterministic=True,
        device="cpu",
        project=str(run_dir),
        name="train",
        exist_ok=True,
        plots=False,
        amp=False,
        close_mosaic=close_mosaic,
        cache="ram",
        patience=max(epochs, 1),
        time=time_limit_h,
        freeze=freeze or None,
        # ultralytics' optimizer "auto" ignores lr0, so a learning rate given names the optimizer too
        **({"lr0": lr0, "optimizer": "AdamW"} if lr0 is not None else {}),
    )
    best = run_dir / "train" / "weights" / "best.pt"
    if not best.is_file():
        raise TrainingError(f"training wrote no {best}")
    training = {
        "data": data_arg,
        "epochs": _epochs_trained(run_dir / "train" / "results.csv"),
        "imgsz": imgsz,
        "seed": seed,
        "batch": batch,
        "start": start,
        "val_fraction": val_fraction,
        "time_limit_h": time_limit_h,
        "close_mosaic": close_mosaic,
        "freeze": freeze,
        "lr0": lr0,
        "ultralytics": _ultralytics_version(),
        "command": command,
    }
    return package_weights(best, output, names, Path(spec["val"]), imgsz, training, score_sets)


def package_weights(
    best: Path,
    output: Path,
    names: Mapping[int, str],
    val_images: Path,
    imgsz: int,
    training: dict[str, object],
    score_sets: Sequence[Path] = (),
) -> TrainingResult:
    """Export a trained checkpoint to ONNX, pick the variant to ship, record it.

    Variants, smallest first: int8 (dynamic quantisation), fp16-stored weights, fp32. Each is scored
    on `val_images` and timed on this CPU; `choose_variant` keeps the smallest whose car and
    motorcycle recall and precision stay within `INT8_TOLERANCE` of fp32 and that is not much
    slower than the fastest such variant. It is copied to `output` and written to the manifest.
    """
    from ultralytics import YOLO

    fp32 = Path(YOLO(str(best)).export(format="onnx", imgsz=imgsz, simplify=False, dynamic=False, opset=17))
    variants = {
        "int8": quantise_int8(fp32, fp32.with_name(fp32.stem + "_int8.onnx")),
        "fp16": half_weights(fp32, fp32.with_name(fp32.stem + "_fp16w.onnx")),
        "fp32": fp32,
    }
    from detector.yolo import NMS_IOU  # score as the pipeline will run it

    measured = {
        k: evaluate_detector(str(v), val_images, imgsz=imgsz, names=names, nms_iou=NMS_IOU)
        for k, v in variants.items()
    }
    ms = {k: round(ms_per_inference(v, imgsz), 1) for k, v in variants.items()}
    kept = choose_variant({k: keeps_accuracy(measured["fp32"], m) for k, m in measured.items()}, ms)
    name = output.stem
    dest = output.with_name(f"{name}_yolov8n_{imgsz}.onnx")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(variants[kept], dest)
    scores: dict[str, object] = {
        "validation_split": {"kept": kept, **{k: _rounded(v) for k, v in measured.items()}},
        "ms_per_inference": ms,
    }
    for images in score_sets:
        scores[Path(images).name] = _rounded(evaluate_detector(str(dest), Path(images), imgsz=imgsz, nms_iou=NMS_IOU))
    entry = ManifestEntry(
        name=name,
        file=dest.name,
        sha256=sha256(dest),
        bytes=dest.stat().st_size,
        imgsz=imgsz,
        format=FORMATS[kept],
        source=f"Trained by trafficcam (detector/training.py) from {training.get('start')}; see MODELS.md.",
        licence=DATASET_LICENCE,
        classes=class_map(names),
        notes="Vietnamese CCTV fine-tune: car and motobike (rider + motorbike); signal classes dropped.",
        training=training,
        scores=scores,
    )
    write_manifest_entry(entry, dest.parent / "manifest.yaml")
    return TrainingResult(dest, entry, best.parent.parent.parent, scores)


def half_weights(onnx_path: Path, out: Path) -> Path:
    """Store float weights as fp16 with a Cast back to fp32 in the graph: half the file, fp32 arithmetic."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(onnx_path))
    graph = model.graph
    inits, casts = [], []
    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype == np.float32 and arr.size > 16:
            half = numpy_helper.from_array(arr.astype(np.float16), init.name + "_fp16")
            inits.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT))
        else:
            inits.append(init)
    nodes = list(graph.node)
    del graph.initializer[:]
    del graph.node[:]
    graph.initializer.extend(inits)
    graph.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
    return out


def _rounded(scores: DetectionScores) -> dict[str, object]:
    return {
        cls: {"recall": _r(s.recall), "precision": _r(s.precision), "truths": s.truths}
        for cls, s in sorted(scores.classes.items())
        if s.truths
    } | {
        "images": scores.images,
        "conf": scores.settings.get("conf"),
        "iou": scores.iou,
        "nms_iou": scores.settings.get("nms_iou"),
    }


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


def _epochs_trained(results_csv: Path) -> int:
    if not results_csv.is_file():
        return 0
    return max(0, len(results_csv.read_text(encoding="utf-8").strip().splitlines()) - 1)


def _ultralytics_version() -> str:
    import ultralytics

    return ultralytics.__version__
