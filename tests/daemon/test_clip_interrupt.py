"""Ctrl-C in the terminal reaches the whole process group: the clip being encoded stays H.264.

The shell sends SIGINT to every process of the foreground group. The daemon catches it and
finishes its evidence; its ffmpeg encoder, in a session of its own, is not hit, so the clip is
not cut short and re-encoded by OpenCV as MPEG-4 Part 2. Here a process that catches SIGINT as
the daemon does encodes a clip with the real ffmpeg while the test sends SIGINT to its group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import imageio_ffmpeg

from tests.conftest import REPO

ENCODER = """
import signal, sys, time
from pathlib import Path
import numpy as np
from pipeline.evidence import encode_clip
signal.signal(signal.SIGINT, lambda *a: print("SIGINT caught", flush=True))  # as `watch` does

def frames():
    for i in range(40):
        if i == 5:
            print("encoding", flush=True)  # ffmpeg has its first frames by now
        time.sleep(0.05)
        yield np.full((240, 320, 3), i * 6, np.uint8)

encode_clip(frames, 10.0, Path(sys.argv[1]))
print("done", flush=True)
"""


def video_codec(path: os.PathLike[str]) -> str:
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True,
                           text=True)  # fmt: skip
    line = next((x for x in probe.stderr.splitlines() if "Video:" in x), "")
    return line.split("Video:", 1)[1].split()[0] if line else "?"


def test_ctrl_c_to_the_process_group_while_a_clip_encodes_keeps_it_h264(tmp_path):
    clip = tmp_path / "clip.mp4"
    proc = subprocess.Popen([sys.executable, "-c", ENCODER, str(clip)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, process_group=0)  # fmt: skip
    try:
        assert proc.stdout and proc.stdout.readline().strip() == "encoding"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "SIGINT caught" in out and "done" in out, out + err
    assert "using OpenCV" not in err, err
    assert video_codec(clip) == "h264"
