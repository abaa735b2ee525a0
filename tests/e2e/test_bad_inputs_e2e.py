"""Damaged and mismatched inputs processed by the real CLI: degrade honestly, lose nothing."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from tests.conftest import SHARED, need_shared
from tests.databases import sql
from tests.test_cli import trafficcam

pytestmark = pytest.mark.slow


def _evidence_hashes(data):
    return sorted(sql(data, "select path, sha256 from evidence"))


def test_truncated_video_rescaled_scene_rerun_and_failures_keep_records(tmp_path):
    video = need_shared("bad_inputs", "truncated_half.mp4")
    need_shared("models", "yolov8n_int8.onnx")
    # the Hanoi scene drawn for twice the resolution: must be scaled with a warning
    scene = yaml.safe_load((SHARED / "clips/hanoi_ltk_hangbai/scene.yaml").read_text())
    scene["frame_size"] = [1280, 960]
    for s in scene["signals"]:
        s["box"] = [v * 2 for v in s["box"]]
    for s in scene["stop_lines"]:
        s["line"] = [[x * 2, y * 2] for x, y in s["line"]]
    for lane in scene["lanes"]:
        lane["polygon"] = [[x * 2, y * 2] for x, y in lane["polygon"]]
    for s in scene["solid_lines"]:
        s["line"] = [[x * 2, y * 2] for x, y in s["line"]]
    scene_path = tmp_path / "scene-1280.yaml"
    scene_path.write_text(yaml.safe_dump(scene))
    data = tmp_path / "data"
    args = ["process", str(video), "--scene", str(scene_path), "--weights", "coco-n", "--data-dir", str(data),
            "--report", str(tmp_path / "r.json")]

    first = trafficcam(*args)
    assert first.returncode == 0, first.stderr
    out = first.stdout + first.stderr
    assert "drawn for 1280x960 but the video is 640x480" in out
    assert "announced 384 frames but only 192 decoded" in out
    assert "red_light" in first.stdout
    before = _evidence_hashes(data)
    assert before, "the first half of the Hanoi clip has red-light runners the COCO model catches"

    second = trafficcam(*args)  # same file, same settings: nothing new
    assert second.returncode == 0, second.stderr
    assert _evidence_hashes(data) == before
    assert sql(data, "select count(*) from runs") == [(2,)]
    stored = len({p.split("/")[-2] for p, _ in before})
    assert sql(data, "select count(distinct dedup_key) from violations") == [(stored,)]

    # a failing run on the same data dir loses and changes nothing
    broken = trafficcam("process", str(SHARED / "bad_inputs/not_a_video.mp4"), "--scene", str(scene_path),
                        "--data-dir", str(data))
    assert broken.returncode == 2
    assert _evidence_hashes(data) == before
    for path, sha in before:
        assert hashlib.sha256((data / path).read_bytes()).hexdigest() == sha


def test_half_decodable_avi_reports_the_shortfall(tmp_path):
    video = need_shared("bad_inputs", "h264_errors_half_decodable.avi")
    need_shared("models", "yolov8n_int8.onnx")
    proc = trafficcam("process", str(video), "--scene", str(SHARED / "clips/taiwan_highway/scene.yaml"),
                      "--weights", "coco-n", "--data-dir", str(tmp_path / "d"), "--analysis-fps", "4")
    assert proc.returncode == 0, proc.stderr
    assert "announced 494 frames but only 247 decoded" in proc.stdout + proc.stderr
    assert "frames read 247 of 494 expected" in proc.stdout
