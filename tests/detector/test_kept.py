"""The default weights, the kept score on a real check set, and the gate a default must pass."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from detector import kept
from detector.checkset import CheckSetSpec, build_checkset, check_frames, read_index
from detector.weights import MODELS_DIR, default_weights, load_manifest, resolve
from tests.conftest import need_shared

CHECK_CLIPS = ("taiwan_highway", "nepal_yellow_van_right")


def test_default_weights_resolve_offline_without_a_flag(monkeypatch):
    monkeypatch.delenv("TRAFFICCAM_WEIGHTS", raising=False)
    monkeypatch.delenv("TRAFFICCAM_MODEL_PATH", raising=False)  # only what the repository ships
    w = resolve(None)
    assert w.name == default_weights() != "yolov8n.pt"
    files = [Path(m.path) for m, _ in w.members] if w.members else [Path(w.path)]
    assert files and all(f.is_file() and f.parent == MODELS_DIR for f in files)
    assert w.sha256() and len(w.sha256()) == 64


def test_default_detector_finds_road_users_on_a_rendered_frame(monkeypatch):
    from detector.yolo import YoloDetector
    from pipeline.sample.render import Renderer, SampleSpec

    monkeypatch.delenv("TRAFFICCAM_MODEL_PATH", raising=False)
    frame = next(f for f in Renderer(SampleSpec(seconds=6, fps=2, width=640, height=360)).frames() if len(f.users) >= 3)
    found = YoloDetector(resolve(None)).detect(frame.image)
    assert found and {d.label for d in found} <= {"car", "motorcycle", "bus", "truck", "bicycle", "person"}


def test_check_frames_are_spread_over_the_clip():
    assert check_frames(10.0, 100, CheckSetSpec(every_s=2.0, offset_s=0.5)) == [5, 25, 45, 65, 85]
    assert check_frames(30.0, 10, CheckSetSpec(every_s=2.0, offset_s=0.5)) == []


def test_gate_reasons():
    vn = {"motorcycle+person": 0.74, "car+bus+truck": 0.76}
    assert kept.gate(0.97, vn, vn) == []
    assert "kept 0.41" in kept.gate(0.41, vn, vn)[0]
    reasons = kept.gate(0.99, {"motorcycle+person": 0.15, "car+bus+truck": 0.77}, vn)
    assert len(reasons) == 1 and "motorcycle+person" in reasons[0]


@pytest.fixture(scope="module")
def small_check_set(tmp_path_factory):
    """Real check frames of two non-Vietnamese shared clips, day and night-styled."""
    clips = tmp_path_factory.mktemp("clips")
    for name in CHECK_CLIPS:
        (clips / name).symlink_to(need_shared("clips", name))
    out = tmp_path_factory.mktemp("checkset")
    index = build_checkset(clips, out, CheckSetSpec(every_s=4.0, rendered_night_seeds=()))
    return clips, index


@pytest.mark.slow
def test_the_vietnamese_fine_tune_forgets_and_the_default_keeps(small_check_set):
    _, index = small_check_set
    items = read_index(index)
    assert {s for s, _ in items} == {"day", "night"} and len(items) >= 10
    reference = resolve(kept.REFERENCE)
    forgetful = kept.kept_score(resolve("vn2"), items, reference)
    default = kept.kept_score(resolve(None), items, reference)
    assert sum(forgetful.reference.values()) >= 20  # enough confident COCO boxes to judge by
    assert forgetful.overall < kept.MIN_KEPT and kept.gate(forgetful.overall, {}, {})
    assert default.overall >= kept.MIN_KEPT


@pytest.mark.slow
def test_set_default_refuses_a_candidate_below_the_gate(small_check_set, tmp_path, monkeypatch):
    from pipeline.cli.main import app

    clips, index = small_check_set
    models = tmp_path / "models"
    models.mkdir()
    for f in MODELS_DIR.iterdir():
        (models / f.name).symlink_to(f)
    (models / "manifest.yaml").unlink()
    shutil.copy(MODELS_DIR / "manifest.yaml", models / "manifest.yaml")
    monkeypatch.setenv("TRAFFICCAM_MODELS_DIR", str(models))
    labelled = need_shared("images", "vn_cctv_labels", "images")
    listing = tmp_path / "vn.txt"
    listing.write_text("\n".join(str(p) for p in sorted(labelled.iterdir())[:8]) + "\n")
    before = (models / "manifest.yaml").read_text()
    args = ["--images", str(listing), "--check-set", str(clips), "--check-dir", str(index.parent)]
    result = CliRunner().invoke(app, ["models", "set-default", "vn2", *args])
    assert result.exit_code == 1, result.output
    assert "refused" in result.output and "kept" in result.output
    assert (models / "manifest.yaml").read_text() == before and default_weights(models / "manifest.yaml") != "vn2"
    assert {e.name for e in load_manifest(models / "manifest.yaml")} >= {"vn2", "coco-n-f16"}
