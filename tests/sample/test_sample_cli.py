"""`trafficcam sample ...` as a user runs it."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from pipeline.cli.sample import register
from pipeline.evaluation import load_truth
from pipeline.scene import load_scene


def app() -> typer.Typer:
    root = typer.Typer()
    register(root)
    return root


def test_render_writes_the_clip_and_says_what_to_run_next(tmp_path: Path):
    video = tmp_path / "junction" / "junction.mp4"
    result = CliRunner().invoke(app(), ["sample", "render", "-o", str(video), "--seconds", "2", "--size", "320x180"])
    assert result.exit_code == 0, result.output
    assert video.is_file()
    load_scene(video.parent / "scene.yaml")
    assert load_truth(video.parent / "truth.yaml").frames == 20
    assert "trafficcam process" in result.output and "--weights demo-synthetic" in result.output


def test_a_bad_frame_size_is_one_clear_error(tmp_path: Path):
    result = CliRunner().invoke(app(), ["sample", "render", "-o", str(tmp_path / "x.mp4"), "--size", "641x360"])
    assert result.exit_code == 2
    assert "even" in result.output and "Traceback" not in result.output
