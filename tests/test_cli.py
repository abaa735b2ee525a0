"""The command line as a user runs it: exit codes and what is printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED, need_shared
from tests.databases import database_env

HANOI_SCENE = SHARED / "clips" / "hanoi_ltk_hangbai" / "scene.yaml"


def trafficcam(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `trafficcam ARGS` as a process; a --data-dir gets its test database (see tests/databases.py)."""
    env = {**os.environ, "YOLO_OFFLINE": "1", "COLUMNS": "200"}
    if "--data-dir" in args:
        env.update(database_env(Path(args[args.index("--data-dir") + 1])))
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("empty.mp4", "is empty (0 bytes)"),
        ("not_a_video.mp4", "is not a video"),
        ("truncated_index_at_end.mp4", "probably incomplete"),
    ],
)
def test_unreadable_videos_fail_with_one_clear_line(tmp_path, name, expected):
    video = need_shared("bad_inputs", name)
    need_shared("clips", "hanoi_ltk_hangbai")
    data = tmp_path / "data"
    proc = trafficcam("process", str(video), "--scene", str(HANOI_SCENE), "--data-dir", str(data))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not data.exists()  # nothing written


def test_missing_video(tmp_path):
    need_shared("clips", "hanoi_ltk_hangbai")
    proc = trafficcam("process", str(tmp_path / "nope.mp4"), "--scene", str(HANOI_SCENE))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {tmp_path / 'nope.mp4'}: no such file"


def test_unwritable_data_dir(tmp_path):
    video = need_shared("clips", "hanoi_ltk_hangbai", "16h30.25.9.22.mp4")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = trafficcam("process", str(video), "--scene", str(HANOI_SCENE), "--data-dir", str(blocker / "data"))
    assert proc.returncode == 3
    assert proc.stderr.startswith("error:") and "data dir" in proc.stderr.lower(), proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_weights_name_the_options(tmp_path, monkeypatch):
    video = need_shared("clips", "hanoi_ltk_hangbai", "16h30.25.9.22.mp4")
    proc = trafficcam(
        "process", str(video), "--scene", str(HANOI_SCENE), "--data-dir", str(tmp_path), "--weights",
        str(tmp_path / "missing.onnx"),
    )
    assert proc.returncode == 2
    assert "--weights" in proc.stderr and "TRAFFICCAM_WEIGHTS" in proc.stderr and "models list" in proc.stderr


def test_without_a_manifest_default_the_download_fallback_is_a_clear_error_offline(tmp_path):
    """The repository's manifest names an offline default (tests/detector/test_kept.py); a models
    folder without one falls back to ultralytics' yolov8n.pt, which cannot be downloaded here."""
    video = need_shared("clips", "hanoi_ltk_hangbai", "16h30.25.9.22.mp4")
    env_free = {k: v for k, v in os.environ.items() if k not in ("TRAFFICCAM_WEIGHTS", "TRAFFICCAM_MODEL_PATH")}
    (tmp_path / "models").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "process", str(video), "--scene", str(HANOI_SCENE),
         "--data-dir", str(tmp_path / "d")],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={**env_free, "YOLO_OFFLINE": "1", "TRAFFICCAM_MODELS_DIR": str(tmp_path / "models")},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "yolov8n.pt" in proc.stderr and "--weights" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_scene_check_ok_and_bad(tmp_path):
    need_shared("clips", "hanoi_ltk_hangbai")
    ok = trafficcam("scene", "check", str(HANOI_SCENE))
    assert ok.returncode == 0 and "ok" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("camera: x\nframe_size: [640, 480]\nstop_lines:\n  - id: s\n    line: [[0, 1]]\n"
                   "    approach: [0, -1]\n    signal: main\n")
    proc = trafficcam("scene", "check", str(bad))
    assert proc.returncode == 2
    assert "line 5: stop_lines[0].line: a line needs at least 2 points" in proc.stderr
    assert "line 7: stop_lines[0].signal: names signal 'main', which does not exist" in proc.stderr


def test_scene_draw_writes_a_png(tmp_path):
    video = need_shared("clips", "hanoi_ltk_hangbai", "16h30.25.9.22.mp4")
    out = tmp_path / "scene.png"
    proc = trafficcam("scene", "draw", str(HANOI_SCENE), "--video", str(video), "--at", "12.5", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    import cv2

    image = cv2.imread(str(out))
    assert image.shape[1] == 640 and image.shape[0] > 480  # the frame plus its caption bar
    late = trafficcam("scene", "draw", str(HANOI_SCENE), "--video", str(video), "--at", "999", "-o", str(out))
    assert late.returncode == 2 and "no frame at 999" in late.stderr


def test_models_list_shows_presence():
    need_shared("models", "yolov8n_int8.onnx")
    proc = trafficcam("models", "list")
    assert proc.returncode == 0
    assert "coco-n" in proc.stdout and "yes" in proc.stdout


def test_eval_without_clips_is_a_clear_error(tmp_path):
    proc = trafficcam("eval", "--clips", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {tmp_path}: no clip folders with both scene.yaml and truth.yaml"


def test_unknown_rule_name_is_a_clear_error(tmp_path):
    video = need_shared("clips", "hanoi_ltk_hangbai", "16h30.25.9.22.mp4")
    proc = trafficcam("process", str(video), "--scene", str(HANOI_SCENE), "--data-dir", str(tmp_path / "d"),
                      "--no-rule", "speeding")
    assert proc.returncode == 2
    assert "unknown rule(s) ['speeding']" in proc.stderr and "red_light" in proc.stderr
