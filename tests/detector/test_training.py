from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from detector.evaluate import ClassScore, DetectionScores
from detector.training import (
    FORMATS,
    TrainingError,
    choose_variant,
    class_map,
    keeps_accuracy,
    split_dataset,
    write_manifest_entry,
)
from detector.weights import ManifestEntry, load_manifest
from tests.conftest import need_shared

NAMES = ["car", "green_light", "motobike", "red_light", "stop_line", "yellow_light"]


def make_dataset(root: Path, n: int = 20) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(n):
        (root / "images" / f"{i:03d}.jpg").write_bytes(b"")
        (root / "labels" / f"{i:03d}.txt").write_text("0 0.5 0.5 0.1 0.1\n", encoding="utf-8")
    (root / "data.yaml").write_text(yaml.safe_dump({"nc": 6, "names": NAMES}), encoding="utf-8")
    return root


def test_validation_split_is_seeded_and_disjoint(tmp_path: Path):
    root = make_dataset(tmp_path / "ds")
    a = yaml.safe_load(split_dataset(root, tmp_path / "a", 0.25, seed=3).read_text())
    b = yaml.safe_load(split_dataset(root, tmp_path / "b", 0.25, seed=3).read_text())
    val_a = (tmp_path / "a" / "val.txt").read_text().split()
    train_a = (tmp_path / "a" / "train.txt").read_text().split()
    assert val_a == (tmp_path / "b" / "val.txt").read_text().split()
    assert len(val_a) == 5 and len(train_a) == 15 and not set(val_a) & set(train_a)
    assert a["names"] == b["names"] == dict(enumerate(NAMES))


def test_a_split_fraction_outside_zero_one_is_refused(tmp_path: Path):
    with pytest.raises(TrainingError, match="between 0 and 1"):
        split_dataset(make_dataset(tmp_path / "ds"), tmp_path / "out", 1.5)


def test_dataset_classes_map_onto_trafficcam_labels_and_signals_are_dropped():
    assert class_map(dict(enumerate(NAMES))) == {
        "car": "car",
        "green_light": None,
        "motobike": "motorcycle",
        "red_light": None,
        "stop_line": None,
        "yellow_light": None,
    }


def _scores(**recalls: tuple[int, int]) -> DetectionScores:
    s = DetectionScores()
    for cls, (hit_t, hit_p) in recalls.items():
        s.classes[cls] = ClassScore(cls, truths=100, predictions=100, matched_truths=hit_t, matched_predictions=hit_p)
    return s


@pytest.mark.parametrize(
    ("int8", "kept"),
    [
        ((90, 90), True),  # same
        ((89, 89), True),  # one point lower: within tolerance
        ((85, 90), False),  # recall drops five points
    ],
)
def test_int8_is_kept_only_where_it_keeps_accuracy(int8, kept):
    fp32 = _scores(car=(90, 90), motorcycle=(90, 90))
    assert keeps_accuracy(fp32, _scores(car=(90, 90), motorcycle=int8)) is kept


@pytest.mark.parametrize(
    ("keeps", "ms", "kept"),
    [
        ({"int8": True, "fp16": True, "fp32": True}, {"int8": 89, "fp16": 17, "fp32": 17}, "fp16"),  # int8 5x slower
        ({"int8": True, "fp16": True, "fp32": True}, {"int8": 20, "fp16": 17, "fp32": 17}, "int8"),  # near enough
        ({"int8": False, "fp16": True, "fp32": True}, {"int8": 5, "fp16": 17, "fp32": 17}, "fp16"),  # fast, inaccurate
        ({"int8": False, "fp16": False, "fp32": False}, {"int8": 5, "fp16": 5, "fp32": 17}, "fp32"),  # fp32 always may
    ],
)
def test_the_export_kept_is_the_smallest_accurate_one_that_is_not_much_slower(keeps, ms, kept):
    assert choose_variant(keeps, ms) == kept


def test_inference_time_is_measured_on_a_real_export(tmp_path: Path):
    from detector.training import ms_per_inference

    ms = ms_per_inference(Path(__file__).parents[2] / "models" / "coco-n-f16_yolov8n_320.onnx", 320, runs=3)
    assert 1.0 < ms < 5000.0


def test_manifest_entry_is_appended_then_replaced_keeping_other_entries(tmp_path: Path):
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(
        "# comment kept\nmodels:\n  - name: coco-n\n    file: a.onnx\n    imgsz: 320\n    source: s\n    licence: l\n",
        encoding="utf-8",
    )
    entry = ManifestEntry(
        name="vn",
        file="vn.onnx",
        imgsz=320,
        source="s",
        licence="CC BY 4.0",
        classes={"motobike": "motorcycle", "red_light": None},
        training={"epochs": 1},
    )
    write_manifest_entry(entry, manifest)
    write_manifest_entry(entry.model_copy(update={"training": {"epochs": 2}}), manifest)
    entries = load_manifest(manifest)
    assert [e.name for e in entries] == ["coco-n", "vn"]
    assert entries[1].training == {"epochs": 2} and entries[1].classes["red_light"] is None
    assert manifest.read_text().startswith("# comment kept\n")


def test_one_epoch_on_a_few_images_trains_exports_and_writes_the_manifest(tmp_path: Path, monkeypatch):
    """Smoke test: the real trainer, recovered COCO start, 1 epoch at 64 px on 8 images."""
    from detector.training import train_detector

    src = need_shared("datasets", "vn_cctv_train")
    need_shared("models", "yolov8n_int8.onnx")
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    shutil.copy(src / "data.yaml", root)
    for img in sorted((src / "images").iterdir())[:8]:
        (root / "images" / img.name).symlink_to(img)
        (root / "labels" / (img.stem + ".txt")).symlink_to(src / "labels" / (img.stem + ".txt"))
    monkeypatch.chdir(tmp_path)
    result = train_detector(
        root,
        tmp_path / "models" / "tiny",
        epochs=1,
        imgsz=64,
        val_fraction=0.25,
        run_dir=tmp_path / "runs",
        batch=4,
        workers=0,
    )
    assert result.weights == tmp_path / "models" / "tiny_yolov8n_64.onnx" and result.weights.is_file()
    (entry,) = load_manifest(tmp_path / "models" / "manifest.yaml")
    assert entry.name == "tiny" and entry.bytes == result.weights.stat().st_size and entry.imgsz == 64
    assert entry.classes["motobike"] == "motorcycle" and entry.training["epochs"] == 1
    kept, ms = entry.scores["validation_split"]["kept"], entry.scores["ms_per_inference"]
    assert set(ms) == {"int8", "fp16", "fp32"} and all(v > 0 for v in ms.values())
    assert entry.format == FORMATS[kept]


def test_a_weights_path_outside_the_manifest_takes_its_size_from_the_onnx_input(tmp_path: Path):
    from detector.weights import resolve

    copy = tmp_path / "renamed.onnx"  # not a manifest file name
    shutil.copyfile(Path(__file__).parents[2] / "models" / "coco-n-f16_yolov8n_320.onnx", copy)
    assert resolve(str(copy)).entry is None and resolve(str(copy)).imgsz == 320
    (tmp_path / "broken.onnx").write_bytes(b"not onnx")
    assert resolve(str(tmp_path / "broken.onnx")).imgsz is None


def test_rescoring_records_the_suppression_iou_the_pipeline_then_uses(tmp_path: Path, monkeypatch):
    from detector.training import rescore
    from detector.weights import resolve

    labelled = need_shared("images", "vn_cctv_labels")
    repo_models = Path(__file__).parents[2] / "models"
    entry = next(e for e in load_manifest(repo_models / "manifest.yaml") if e.name == "vn2")
    entry = entry.model_copy(update={"nms_iou": None})  # as it was before it had one
    shutil.copy(repo_models / entry.file, tmp_path / entry.file)
    write_manifest_entry(entry, tmp_path / "manifest.yaml")
    monkeypatch.setenv("TRAFFICCAM_MODELS_DIR", str(tmp_path))
    images = tmp_path / "few.txt"
    images.write_text("".join(f"{p}\n" for p in sorted((labelled / "images").glob("*.jpg"))[:12]), encoding="utf-8")
    assert resolve("vn2").nms_iou is None

    updated = rescore("vn2", [images], 0.5)

    (stored,) = load_manifest(tmp_path / "manifest.yaml")
    assert stored.nms_iou == updated.nms_iou == 0.5 and resolve("vn2").nms_iou == 0.5
    assert stored.scores["few.txt"]["nms_iou"] == 0.5 and stored.scores["few.txt"]["images"] == 12
    assert stored.scores["few.txt"]["motorcycle"]["truths"] > 0
    assert stored.scores["validation_split"] == entry.scores["validation_split"]  # kept as measured at training
