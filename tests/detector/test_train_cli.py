from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from detector.evaluate import ClassScore, DetectionScores
from detector.training import TrainingResult
from detector.weights import ManifestEntry
from detector.yolo import NMS_IOU
from pipeline.cli.train import register

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def fake_scores() -> DetectionScores:
    s = DetectionScores(images=3, settings={"weights": "w", "imgsz": 320, "conf": 0.25})
    s.classes["motorcycle"] = ClassScore("motorcycle", 10, 8, 8, 8)
    s.classes["person"] = ClassScore("person", 0, 4, 0, 0)
    return s


def test_eval_detector_prints_recall_and_precision_per_class(app, monkeypatch, tmp_path: Path):
    weights = tmp_path / "w.onnx"
    weights.write_bytes(b"x")
    seen = {}

    def fake(path, images, **kw):
        seen.update(kw, path=path)
        return fake_scores()

    monkeypatch.setattr("detector.evaluate.evaluate_detector", fake)
    result = runner.invoke(app, ["eval-detector", "--images", str(tmp_path), "--weights", str(weights)])
    assert result.exit_code == 0, result.output
    assert "motorcycle" in result.output and "0.800" in result.output and "1.000" in result.output
    assert "person 4" in result.output  # predicted classes the labels lack are listed, not tabled
    assert seen == {"path": str(weights), "imgsz": 640, "conf": 0.25, "overrides": {}, "tiles": (1, 1),
                    "overlap": 0.2, "whole_region": False, "roi_margin": None, "merge_riders": False,
                    "nms_iou": NMS_IOU}  # fmt: skip
    result = runner.invoke(app, ["eval-detector", "--images", str(tmp_path), "--weights", str(weights),
                                 "--nms-iou", "0.7"])  # fmt: skip
    assert result.exit_code == 0 and seen["nms_iou"] == 0.7, result.output


def test_eval_detector_passes_tiles_and_roi_and_refuses_bad_tiles(app, monkeypatch, tmp_path: Path):
    weights = tmp_path / "w.onnx"
    weights.write_bytes(b"x")
    seen = {}
    monkeypatch.setattr("detector.evaluate.evaluate_detector", lambda p, i, **kw: seen.update(kw) or fake_scores())
    args = ["eval-detector", "--images", str(tmp_path), "--weights", str(weights)]
    result = runner.invoke(app, [*args, "--tiles", "3x2", "--whole-region", "--roi", "0.1"])
    assert result.exit_code == 0, result.output
    assert (seen["tiles"], seen["whole_region"], seen["roi_margin"]) == ((3, 2), True, 0.1)
    result = runner.invoke(app, [*args, "--tiles", "2by2"])
    assert result.exit_code == 2 and "COLSxROWS" in result.output


def test_eval_detector_json(app, monkeypatch, tmp_path: Path):
    weights = tmp_path / "w.onnx"
    weights.write_bytes(b"x")
    monkeypatch.setattr("detector.evaluate.evaluate_detector", lambda *a, **k: fake_scores())
    result = runner.invoke(
        app, ["eval-detector", "--images", str(tmp_path), "--weights", str(weights), "--imgsz", "320", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["classes"]["motorcycle"]["recall"] == 0.8 and data["images"] == 3


def test_eval_detector_unknown_weights_is_one_clear_line(app, tmp_path: Path):
    result = runner.invoke(app, ["eval-detector", "--images", str(tmp_path), "--weights", "no-such-weights"])
    assert result.exit_code == 2
    assert "no-such-weights" in result.output and "Traceback" not in result.output


def test_eval_detector_folder_without_images_is_one_clear_line(app, tmp_path: Path):
    weights = tmp_path / "w.onnx"
    weights.write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["eval-detector", "--images", str(tmp_path / "empty"), "--weights", str(weights)])
    assert result.exit_code == 2 and "no images" in result.output


def test_train_detector_passes_options_and_reports_the_weights(app, monkeypatch, tmp_path: Path):
    seen = {}

    def fake(data, output, **kw):
        seen.update(kw, data=data, output=output)
        entry = ManifestEntry(
            name="vn",
            file="vn_yolov8n_320.onnx",
            bytes=123,
            imgsz=320,
            source="s",
            licence="l",
            format="onnx (int8, dynamic quantisation)",
        )
        return TrainingResult(tmp_path / "vn_yolov8n_320.onnx", entry, tmp_path, {"validation_split": {}})

    monkeypatch.setattr("detector.training.train_detector", fake)
    result = runner.invoke(
        app,
        [
            "train-detector",
            "--data",
            "d.yaml",
            "-o",
            "models/vn",
            "--epochs",
            "3",
            "--imgsz",
            "256",
            "--from",
            "coco-n",
            "--score",
            "imgs",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "vn_yolov8n_320.onnx" in result.output and "'vn'" in result.output
    assert (seen["data"], seen["output"], seen["epochs"], seen["imgsz"], seen["start"]) == (
        Path("d.yaml"),
        Path("models/vn"),
        3,
        256,
        "coco-n",
    )
    assert seen["score_sets"] == (Path("imgs"),)


def test_train_detector_bad_dataset_is_one_clear_line(app, tmp_path: Path):
    bad = tmp_path / "d.yaml"
    bad.write_text("train: x\n", encoding="utf-8")
    result = runner.invoke(
        app,
        ["train-detector", "--data", str(bad), "-o", str(tmp_path / "m" / "vn"), "--run-dir", str(tmp_path / "runs")],
    )
    assert result.exit_code == 2 and "train, val and names" in result.output
