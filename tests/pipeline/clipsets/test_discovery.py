"""Finding eval clips across several `--clips` folders, with videos kept apart from truth (no weights)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.clipsets import EvalClip, discover_clips
from pipeline.errors import SourceError
from tests.test_cli import trafficcam

SCENE = {
    "camera": "cam",
    "frame_size": [640, 480],
    "signals": [{"id": "main", "box": [10, 10, 20, 40]}],
    "stop_lines": [{"id": "stop", "line": [[0, 300], [600, 300]], "approach": [0, -1], "signal": "main"}],
}


def make_clip(root: Path, name: str, video: str | None = "clip.mp4", *, with_video: bool = False) -> Path:
    """A clip folder with scene.yaml and truth.yaml (and an empty stand-in video file when asked)."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "scene.yaml").write_text(yaml.safe_dump(SCENE))
    (folder / "truth.yaml").write_text(yaml.safe_dump({"video": video, "fps": 6.0, "frames": 10}))
    if with_video and video:
        (folder / video).write_bytes(b"")
    return folder


def put_video(root: Path, name: str, video: str = "clip.mp4") -> Path:
    (root / name).mkdir(parents=True, exist_ok=True)
    path = root / name / video
    path.write_bytes(b"")
    return path


def by_name(clips: list[EvalClip]) -> dict[str, EvalClip]:
    return {c.name: c for c in clips}


def test_truth_in_one_folder_finds_its_video_in_another(tmp_path):
    shared, repo = tmp_path / "shared", tmp_path / "repo"
    make_clip(shared, "old", with_video=True)  # the older kind: everything in one folder
    video = put_video(shared, "new")  # raw clip: only the video in shared
    make_clip(repo, "new")
    clips = by_name(discover_clips([shared, repo], env=""))
    assert set(clips) == {"old", "new"}
    assert clips["old"].video == shared / "old" / "clip.mp4"
    assert clips["new"].video == video and clips["new"].folder == repo / "new"
    assert clips["new"].scene == repo / "new" / "scene.yaml"
    # the order of the folders does not matter for finding the video
    assert by_name(discover_clips([repo, shared], env=""))["new"].video == video


def test_video_found_through_the_clips_path_setting(tmp_path):
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    make_clip(repo, "new")
    video = put_video(elsewhere, "new")
    (clip,) = discover_clips([repo], env=f"{tmp_path / 'nothing'}:{elsewhere}")
    assert clip.video == video and clip.skip_reason is None


def test_clip_without_its_video_is_skipped_with_the_places_tried(tmp_path):
    repo, shared = tmp_path / "repo", tmp_path / "shared"
    make_clip(repo, "new")
    shared.mkdir()
    (clip,) = discover_clips([repo, shared], env="")
    assert clip.video is None
    assert "'clip.mp4' not found in" in clip.skip_reason
    assert str(repo / "new") in clip.skip_reason and str(shared / "new") in clip.skip_reason
    assert "--clips" in clip.skip_reason and "TRAFFICCAM_CLIPS_PATH" in clip.skip_reason


def test_a_later_folder_overrides_a_clip_of_the_same_name(tmp_path):
    shared, repo = tmp_path / "shared", tmp_path / "repo"
    make_clip(shared, "clip", with_video=True)
    make_clip(repo, "clip")  # corrected truth kept in the repository, video still in shared
    (clip,) = discover_clips([shared, repo], env="")
    assert clip.folder == repo / "clip" and clip.video == shared / "clip" / "clip.mp4"


def test_folders_without_scene_or_truth_are_not_clips(tmp_path):
    put_video(tmp_path, "raw")  # a raw clip: video only
    make_clip(tmp_path, "ok", with_video=True)
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "truth.yaml").write_text("video: x.mp4\n")
    assert [c.name for c in discover_clips([tmp_path], env="")] == ["ok"]


def test_missing_folder_and_empty_folders_are_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="does not exist or is not a folder"):
        discover_clips([tmp_path / "nope"], env="")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(SourceError, match="no clip folders with both scene.yaml and truth.yaml"):
        discover_clips([tmp_path / "a", tmp_path / "b"], env="")


def test_eval_with_every_video_missing_says_why_and_fails(tmp_path, monkeypatch):
    monkeypatch.delenv("TRAFFICCAM_CLIPS_PATH", raising=False)
    make_clip(tmp_path / "repo", "new")
    proc = trafficcam("eval", "--clips", str(tmp_path / "repo"))
    assert proc.returncode == 2, proc.stderr
    assert "skipped new: video 'clip.mp4' not found in" in proc.stdout
    assert "error: no clip could be evaluated: every clip's video is missing" in proc.stderr
