"""The scene and truth files the repository keeps in eval/clips: valid, and pointing at real videos."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from pipeline.clipsets import discover_clips
from pipeline.evaluation import load_truth
from pipeline.scene import load_scene
from tests.conftest import SHARED, need_shared

EVAL_CLIPS = Path(__file__).resolve().parents[3] / "eval" / "clips"
NAMES = sorted(p.parent.name for p in EVAL_CLIPS.glob("*/truth.yaml"))


def test_every_clip_folder_has_truth_and_scene_or_notes():
    for folder in sorted(p for p in EVAL_CLIPS.iterdir() if p.is_dir()):
        has_pair = (folder / "scene.yaml").is_file() and (folder / "truth.yaml").is_file()
        assert has_pair or (folder / "NOTES.md").is_file(), f"{folder.name}: neither scene+truth nor NOTES.md"


@pytest.mark.parametrize("name", NAMES)
def test_scene_and_truth_are_valid_and_agree(name):
    scene, truth = load_scene(EVAL_CLIPS / name / "scene.yaml"), load_truth(EVAL_CLIPS / name / "truth.yaml")
    heads = {s.id for s in scene.signals}
    assert set(truth.signals) <= heads, f"truth times heads the scene lacks: {set(truth.signals) - heads}"
    places = {s.id for s in scene.stop_lines} | {s.id for s in scene.lanes} | {s.id for s in scene.solid_lines}
    for event in [*truth.violations, *truth.uncertain]:
        assert event.where in places, f"{event.rule} at frame {event.frame}: unknown place {event.where!r}"
        assert event.box is not None and event.note, "every entry needs its box and a note"


@pytest.mark.parametrize("name", NAMES)
def test_truth_matches_its_video_in_shared(name):
    need_shared("clips", name)
    (clip,) = [c for c in discover_clips([SHARED / "clips", EVAL_CLIPS], env="") if c.name == name]
    assert clip.folder == EVAL_CLIPS / name and clip.video is not None, clip.skip_reason
    truth, capture = load_truth(clip.truth), cv2.VideoCapture(str(clip.video))
    try:
        width, height = capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)
        assert abs(capture.get(cv2.CAP_PROP_FPS) - truth.fps) < 0.01 * truth.fps
        assert capture.get(cv2.CAP_PROP_FRAME_COUNT) >= truth.frames  # the container may announce a few more
        assert [width, height] == list(load_scene(clip.scene).frame_size)
    finally:
        capture.release()
