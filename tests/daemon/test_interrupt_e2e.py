"""Ctrl-C in the terminal reaches the whole process group: the clip being encoded stays H.264.

The shell sends SIGINT to every process of the foreground group, ffmpeg included. The daemon
stops gracefully and finishes its evidence; its encoder, in a session of its own, is not hit,
so no clip falls back to OpenCV's MPEG-4 Part 2.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading

import imageio_ffmpeg
import psutil
import pytest

from pipeline.store import list_violations
from tests.conftest import need_shared
from tests.daemon.conftest import HANOI_SCENE, free_port, wait_for, watch_process, write_cameras
from tests.databases import open_test_database

pytestmark = pytest.mark.slow


def video_codec(path: os.PathLike[str]) -> str:
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True,
                           text=True)  # fmt: skip
    line = next((x for x in probe.stderr.splitlines() if "Video:" in x), "")
    return line.split("Video:", 1)[1].split()[0] if line else "?"


def test_ctrl_c_to_the_process_group_while_a_clip_encodes_keeps_it_h264(tmp_path, mjpeg_camera):
    need_shared("models", "yolov8n_int8.onnx")
    cam = mjpeg_camera(fps=6.0, start_frame=110, count=110)
    cameras = write_cameras(tmp_path / "cameras.yaml", [{"id": "hanoi", "source": cam.url, "scene": HANOI_SCENE}])
    data = tmp_path / "data"
    proc = watch_process(cameras, data, free_port(), "--min-free-mb", "0", "--stop-timeout", "60", own_group=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        def encoder() -> bool:
            kids = psutil.Process(proc.pid).children(recursive=True)
            return any("ffmpeg" in (k.name() + " ".join(k.cmdline()[:1])) for k in kids)

        wait_for(encoder, 180, "an evidence clip to be encoding", every=0.02)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        code = proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(5)
    log = "".join(lines)
    assert code == 0, log
    assert "using OpenCV" not in log, log
    db = open_test_database(data)
    clips = [data / v.evidence["clip"][0] for v in list_violations(db) if "clip" in v.evidence]
    db.close()
    assert clips, log
    assert {video_codec(c) for c in clips} == {"h264"}, log
