"""Fixtures for the daemon tests: a real MJPEG camera on 127.0.0.1, the daemon in a thread or a process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import COCO_WEIGHTS, REPO, SHARED, need_shared
from tests.databases import database_env, database_url

HANOI = SHARED / "clips" / "hanoi_ltk_hangbai"
HANOI_VIDEO = HANOI / "16h30.25.9.22.mp4"
HANOI_SCENE = HANOI / "scene.yaml"

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], object], timeout: float, what: str, every: float = 0.2) -> object:
    """Poll `predicate` until it returns something truthy; fail the test saying what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


class MjpegCamera:
    """The shared clip served as MJPEG over HTTP by a separate process, which a test can kill."""

    def __init__(self, port: int, fps: float, start_frame: int, count: int | None, loop: bool):
        self.port, self.fps, self.start_frame, self.count, self.loop = port, fps, start_frame, count, loop
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> MjpegCamera:
        cmd = [sys.executable, "-m", "tests.daemon.mjpeg_server", str(HANOI_VIDEO), "--port", str(self.port),
               "--fps", str(self.fps), "--start-frame", str(self.start_frame)]  # fmt: skip
        if self.count is not None:
            cmd += ["--count", str(self.count)]
        if self.loop:
            cmd.append("--loop")
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        assert "serving" in line, f"the MJPEG camera did not start: {line}"
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def mjpeg_camera() -> Iterator[Callable[..., MjpegCamera]]:
    """`mjpeg_camera(fps=6, start_frame=0, count=None, loop=True)`: a started camera on a free port."""
    cameras: list[MjpegCamera] = []

    def make(fps: float = 6.0, start_frame: int = 0, count: int | None = None, loop: bool = True) -> MjpegCamera:
        need_shared("clips", "hanoi_ltk_hangbai")
        cam = MjpegCamera(free_port(), fps, start_frame, count, loop).start()
        cameras.append(cam)
        return cam

    yield make
    for cam in cameras:
        cam.kill()


def write_cameras(path: Path, cameras: list[dict[str, object]]) -> Path:
    lines = ["cameras:"]
    for cam in cameras:
        lines.append(f"  - id: {cam['id']}")
        for key, value in cam.items():
            if key != "id":
                lines.append(f"    {key}: {value}")
    path.write_text("\n".join(lines) + "\n")
    return path


class ThreadedDaemon:
    """A `Daemon` run in a thread of the test process (the test sets its stop event)."""

    def __init__(self, daemon, thread: threading.Thread):  # type: ignore[no-untyped-def]
        self.daemon, self.thread = daemon, thread
        self.exit_code: int | None = None

    def stop(self, timeout: float = 60) -> int | None:
        self.daemon.stop.set()
        self.thread.join(timeout)
        return self.exit_code


@pytest.fixture
def run_daemon(tmp_path) -> Iterator[Callable[..., ThreadedDaemon]]:
    """`run_daemon(cameras_yaml, **settings)`: a started daemon with /health on a free port."""
    from pipeline.daemon.runner import Daemon
    from pipeline.daemon.settings import WatchSettings

    running: list[ThreadedDaemon] = []

    def start(cameras: Path, **overrides: object) -> ThreadedDaemon:
        need_shared("models", "yolov8n_int8.onnx")
        settings = WatchSettings(
            weights=str(COCO_WEIGHTS), http=f"127.0.0.1:{free_port()}", min_free_mb=0, backoff_initial_s=0.2,
            backoff_max_s=1.0, stop_timeout_s=30, **overrides,  # type: ignore[arg-type]
        )  # fmt: skip
        daemon = Daemon(cameras, settings, tmp_path / "data", database_url(tmp_path / "data"))
        holder: list[ThreadedDaemon] = []

        def main() -> None:
            holder[0].exit_code = daemon.run()

        thread = threading.Thread(target=main, name="test-daemon", daemon=True)
        td = ThreadedDaemon(daemon, thread)
        holder.append(td)
        running.append(td)
        thread.start()
        return td

    yield start
    for td in running:
        td.stop()


def watch_process(cameras: Path, data: Path, http_port: int, *extra: str) -> subprocess.Popen[str]:
    """`trafficcam watch` as its own process, logging to a pipe."""
    env = {**os.environ, "YOLO_OFFLINE": "1", "COLUMNS": "250", **database_env(data)}
    cmd = [sys.executable, "-m", "pipeline.cli", "watch", "--cameras", str(cameras), "--data-dir", str(data),
           "--weights", str(COCO_WEIGHTS), "--http", f"127.0.0.1:{http_port}", *extra]  # fmt: skip
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
