"""The no-forgetting training set (detector/mix.py): what goes in, what never does, and the recipe
end to end on a tiny real subset (Vietnamese labels + pseudo-labelled clip frames -> one epoch)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from detector.checkset import CheckSetSpec, check_frames
from detector.evaluate import LabelledBox
from detector.mix import MixSpec, add_unlabelled, is_vietnamese, training_frames
from detector.types import LABELS
from tests.conftest import need_shared


@pytest.mark.parametrize(("fps", "frames"), [(25.0, 300), (29.97, 1800), (6.0, 384), (24.016, 298)])
def test_no_training_frame_is_within_half_a_second_of_a_check_frame(fps: float, frames: int) -> None:
    spec = MixSpec()
    checks = [i / fps for i in check_frames(fps, frames, CheckSetSpec())]
    picked = training_frames(fps, frames, spec)
    assert picked and all(0 <= i < frames for i in picked)
    assert min(abs(i / fps - c) for i in picked for c in checks) >= spec.margin_s - 0.5 / fps
    assert len(picked) >= frames / fps / spec.every_s / 2  # most seconds still give a frame


def test_vietnamese_clips_are_known_by_their_provenance() -> None:
    clips = need_shared("clips")
    assert is_vietnamese(clips / "vn_junction_rightarrow") and is_vietnamese(clips / "hanoi_ltk_hangbai")
    assert not is_vietnamese(clips / "taiwan_highway") and not is_vietnamese(clips / "us_cspr003_redlight")


def test_teacher_boxes_fill_only_what_the_vietnamese_labels_never_label() -> None:
    labelled = [LabelledBox("motorcycle", 100, 100, 140, 200), LabelledBox("car", 300, 100, 400, 180)]
    teacher = [
        LabelledBox("person", 105, 95, 135, 160, 0.9),  # the rider of the labelled motobike
        LabelledBox("person", 500, 100, 520, 160, 0.8),  # a pedestrian on the pavement
        LabelledBox("bus", 295, 90, 405, 185, 0.7),  # the labelled "car" is this bus
        LabelledBox("truck", 600, 50, 700, 150, 0.9),  # a truck nobody labelled
        LabelledBox("car", 800, 100, 850, 150, 0.9),  # cars are labelled: the labels decide
    ]
    added = add_unlabelled(labelled, teacher)
    assert [(b.cls, b.x1) for b in added] == [("person", 500), ("truck", 600)]


@pytest.mark.slow
def test_the_recipe_runs_end_to_end_on_a_tiny_real_subset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mix-dataset (real teacher on real frames) -> train-detector --freeze --lr0, one epoch at 64 px."""
    from pipeline.cli.main import app

    vn = need_shared("datasets", "vn_cctv_train")
    shared_clips = need_shared("clips")
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("taiwan_highway", "nepal_gray_car_left", "hanoi_ltk_hangbai"):
        (clips / name).symlink_to(shared_clips / name)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    mix = tmp_path / "mix"
    args = ["mix-dataset", "-o", str(mix), "--vn", str(vn), "--clips", str(clips), "--vn-limit", "6",
            "--frames-per-clip", "2", "--repeat", "2"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    spec = yaml.safe_load((mix / "data.yaml").read_text())
    assert spec["names"] == list(LABELS)
    summary = yaml.safe_load((mix / "mix.json").read_text())["summary"]
    assert summary["vn_images"] == 6 and summary["clip_frames"] == 4 and summary["night_frames"] == 4
    assert (
        summary["clips"] == ["nepal_gray_car_left", "taiwan_highway"]
        and "hanoi_ltk_hangbai" in summary["skipped_clips"]
    )
    labels = sorted((mix / "labels").glob("*/*.txt"))
    assert len(labels) == 6 + 2 * 2 * 2 * 2  # VN images; 2 clips x 2 frames x (day, night) x 2 copies
    clip_lines = [line for p in labels if p.name.startswith(("clip_", "night_")) for line in p.read_text().splitlines()]
    assert any(line.startswith(f"{LABELS.index('car')} ") for line in clip_lines)  # the teacher's cars on real roads
    vn_images = sorted((mix / "images").glob("*/vn_*"))
    assert len(vn_images) == 6 and all(p.is_symlink() for p in vn_images)  # linked, not copied

    models = tmp_path / "models"
    args = ["train-detector", "--data", str(mix / "data.yaml"), "-o", str(models / "mixed"), "--from", "coco-n-f16",
            "--epochs", "1", "--imgsz", "64", "--batch", "4", "--freeze", "10", "--lr0", "0.002",
            "--run-dir", str(tmp_path / "runs")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    entry = yaml.safe_load((models / "manifest.yaml").read_text())["models"][0]
    assert entry["name"] == "mixed" and (models / entry["file"]).is_file()
    assert set(entry["classes"]) == set(LABELS)
    assert entry["training"]["freeze"] == 10 and entry["training"]["lr0"] == 0.002 and entry["training"]["epochs"] == 1
