"""The renderer: deterministic frames, a scene file the pipeline accepts, signal heads it reads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from detector.light import read_colour
from detector.types import Colour
from pipeline.evaluation import load_truth
from pipeline.sample import Renderer, SampleSpec, render_sample
from pipeline.scene import load_scene


def frames_hash(spec: SampleSpec) -> str:
    digest = hashlib.sha256()
    for frame in Renderer(spec).frames():
        digest.update(frame.image.tobytes())
    return digest.hexdigest()


def test_the_same_seed_renders_the_same_frames():
    spec = SampleSpec(seconds=1.5, width=320, height=180, seed=11)
    assert frames_hash(spec) == frames_hash(SampleSpec(seconds=1.5, width=320, height=180, seed=11))


def test_another_seed_renders_other_frames():
    a = frames_hash(SampleSpec(seconds=1.0, width=320, height=180, seed=11))
    assert a != frames_hash(SampleSpec(seconds=1.0, width=320, height=180, seed=12))


@pytest.mark.parametrize(("width", "height"), [(640, 360), (960, 540), (1280, 720)])
def test_the_scene_file_passes_the_scene_check(tmp_path: Path, width: int, height: int):
    scene_data = Renderer(SampleSpec(width=width, height=height)).layout.scene()
    path = tmp_path / "scene.yaml"
    path.write_text(yaml.safe_dump(scene_data, sort_keys=False), encoding="utf-8")
    scene = load_scene(path)
    assert scene.frame_size == (width, height)
    assert [s.id for s in scene.stop_lines] == ["stop"] and scene.stop_lines[0].signal == "main"
    assert {lane.id for lane in scene.lanes} == {"approach", "exit"}
    assert {s.id for s in scene.solid_lines} == {"centre", "lane_divider"}


def test_render_sample_writes_a_video_scene_and_truth_that_load(tmp_path: Path):
    spec = SampleSpec(seconds=2.0, width=320, height=180, seed=5)
    clip = render_sample(spec, tmp_path / "clip" / "junction.mp4")
    assert clip.video.stat().st_size > 0
    assert clip.scene == tmp_path / "clip" / "scene.yaml" and clip.truth == tmp_path / "clip" / "truth.yaml"
    load_scene(clip.scene)
    truth = load_truth(clip.truth)
    assert (truth.video, truth.fps, truth.frames) == ("junction.mp4", 10.0, 20)
    assert [c.colour.value for c in truth.signals["main"]] == ["green"]


def test_the_written_video_decodes_to_the_rendered_frames(tmp_path: Path):
    import cv2
    import numpy as np

    spec = SampleSpec(seconds=1.0, width=320, height=180, seed=5)
    clip = render_sample(spec, tmp_path / "junction.mp4")
    cap = cv2.VideoCapture(str(clip.video))
    decoded = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        decoded.append(image)
    assert len(decoded) == spec.frames
    first = next(iter(Renderer(spec).frames())).image
    assert float(np.abs(decoded[0].astype(np.int16) - first).mean()) < 6.0  # only compression changed it


@pytest.mark.parametrize("night", [False, True], ids=["day", "night"])
def test_the_signal_head_reads_as_the_colour_the_plan_shows(night: bool):
    spec = SampleSpec(seconds=16.0, width=640, height=360, night=night, seed=3)
    renderer = Renderer(spec)
    x1, y1, x2, y2 = (int(round(v)) for v in renderer.layout.signal_box())
    seen = set()
    for frame in renderer.frames(step=7):
        colour, _ = read_colour(frame.image[y1:y2, x1:x2])
        assert colour == Colour(frame.colour), f"frame {frame.index}: drew {frame.colour}, read {colour}"
        seen.add(colour)
    assert seen == {Colour.GREEN, Colour.YELLOW, Colour.RED}


def test_a_frame_does_not_depend_on_which_frames_were_rendered_before_it():
    spec = SampleSpec(seconds=3.0, width=320, height=180, seed=4)
    every = {f.index: f for f in Renderer(spec).frames()}
    for frame in Renderer(spec).frames(step=7):
        assert frame.users == every[frame.index].users
        assert (frame.image == every[frame.index].image).all()
