"""RTSP for real: `StreamSource` against GStreamer's RTSP server on 127.0.0.1.

The server (tests/daemon/rtsp_server.py) runs under the system python3, which has python3-gi;
it serves a live test pattern, so these tests need nothing from ../shared. H.264 and H.265, over
TCP and UDP (the server refusing the other transport proves the camera's option is used), a
server restarted mid-stream, a publisher that freezes with its connection open, and a camera
with a password that no log line, health field or error may show.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.daemon.streams import Backoff, SessionEnded, SessionStarted, StreamItem, StreamSource, describe_source
from pipeline.source import Frame
from tests.conftest import REPO
from tests.daemon.conftest import free_port, wait_for

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER = REPO / "tests" / "daemon" / "rtsp_server.py"
PASSWORD = "s3cret-Pw"


def _gst_available() -> str | None:
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); "
         "from gi.repository import GstRtspServer"], capture_output=True, text=True,
    ) if Path(SYSTEM_PYTHON).exists() else None  # fmt: skip
    if probe is None or probe.returncode != 0:
        return "needs GStreamer's RTSP server for the system python3 (scripts/setup.sh installs it)"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(_gst_available()), reason=_gst_available() or "")]


class RtspCamera:
    def __init__(self, port: int, args: list[str]):
        self.port, self.args = port, args
        self.proc: subprocess.Popen[str] | None = None

    def url(self, user: str | None = None, password: str | None = None) -> str:
        auth = f"{user}:{password}@" if user else ""
        return f"rtsp://{auth}127.0.0.1:{self.port}/cam"

    def start(self) -> RtspCamera:
        self.proc = subprocess.Popen([SYSTEM_PYTHON, str(SERVER), "--port", str(self.port), *self.args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        assert line.startswith("serving"), f"the RTSP server did not start: {line}"
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)


@pytest.fixture
def rtsp_camera() -> Iterator[Callable[..., RtspCamera]]:
    """`rtsp_camera("--codec", "h265", "--only", "udp", ...)`: a started server on a free port."""
    cameras: list[RtspCamera] = []

    def make(*args: str, port: int | None = None) -> RtspCamera:
        cam = RtspCamera(port or free_port(), list(args)).start()
        cameras.append(cam)
        return cam

    yield make
    for cam in cameras:
        cam.kill()


def collect(source: StreamSource, until: Callable[[StreamItem], bool], timeout: float) -> list[StreamItem]:
    items: list[StreamItem] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = source.get(timeout=0.2)
        if item is None:
            continue
        items.append(item)
        if until(item):
            return items
    pytest.fail(f"nothing matching within {timeout} s; got {[type(i).__name__ for i in items][-10:]}")


def stream(url: str, **kwargs: object) -> StreamSource:
    kwargs.setdefault("backoff", Backoff(initial_s=0.2, max_s=1.0))
    source = StreamSource(url, "cam", queue_frames=64, read_timeout_s=2.0, **kwargs)  # type: ignore[arg-type]
    source.start()
    return source


@pytest.mark.parametrize("codec", ["h264", "h265"])
@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_h264_and_h265_over_tcp_and_udp(rtsp_camera, codec, transport):
    cam = rtsp_camera("--codec", codec, "--only", transport)
    source = stream(cam.url(), options={"rtsp_transport": transport})
    try:
        items = collect(source, lambda i: isinstance(i, Frame) and i.index >= 10, 30)
        started = next(i for i in items if isinstance(i, SessionStarted))
        assert (started.width, started.height) == (640, 480)
        assert started.fps == pytest.approx(8.0, rel=0.3)
        frames = [i for i in items if isinstance(i, Frame)]
        assert frames[-1].image.shape == (480, 640, 3) and frames[-1].image.std() > 5  # a picture, not grey
    finally:
        source.stop()


def test_the_transport_asked_for_is_the_one_used(rtsp_camera):
    """A camera that only speaks UDP is not reached when its cameras.yaml entry says tcp (so the
    option reached FFmpeg), and is reached with FFmpeg's default (UDP, then TCP)."""
    cam = rtsp_camera("--only", "udp")
    tcp, default = stream(cam.url(), options={"rtsp_transport": "tcp"}), stream(cam.url())
    try:
        collect(default, lambda i: isinstance(i, Frame), 30)
        wait_for(lambda: tcp.stats.reconnects >= 1 and tcp.stats.last_error, 30, "a failed open over TCP")
        assert tcp.stats.sessions == 0
    finally:
        tcp.stop()
        default.stop()


def test_a_server_restarted_mid_stream_is_reconnected(rtsp_camera):
    port = free_port()
    cam = rtsp_camera(port=port)
    source = stream(cam.url())
    try:
        collect(source, lambda i: isinstance(i, Frame) and i.index >= 5, 30)
        cam.kill()
        collect(source, lambda i: isinstance(i, SessionEnded), 15)
        rtsp_camera(port=port)
        back = time.monotonic()
        items = collect(source, lambda i: isinstance(i, Frame), 30)
        assert any(isinstance(i, SessionStarted) and i.session == 2 for i in items)
        assert time.monotonic() - back < 10
    finally:
        source.stop()


def test_a_publisher_that_freezes_ends_the_session_and_is_picked_up_again(rtsp_camera):
    cam = rtsp_camera()
    source = stream(cam.url())
    try:
        collect(source, lambda i: isinstance(i, Frame) and i.index >= 5, 30)
        cam.signal(signal.SIGSTOP)  # the connection stays open; no packet comes
        frozen = time.monotonic()
        ended = collect(source, lambda i: isinstance(i, SessionEnded), 15)[-1]
        # the 2 s read timeout, and FFmpeg's own wait for UDP packets; the ledger dates the loss from the
        # last analysed frame all the same (test_coverage_e2e)
        assert isinstance(ended, SessionEnded) and time.monotonic() - frozen < 10
        cam.signal(signal.SIGCONT)
        collect(source, lambda i: isinstance(i, SessionStarted), 30)
    finally:
        source.stop()


def test_a_password_is_never_shown(rtsp_camera, caplog):
    caplog.set_level(logging.DEBUG)
    cam = rtsp_camera("--user", "admin", "--password", PASSWORD)
    good = stream(cam.url("admin", PASSWORD))
    bad = stream(cam.url("admin", PASSWORD + "-wrong"))
    try:
        collect(good, lambda i: isinstance(i, Frame), 30)
        wait_for(lambda: bad.stats.reconnects >= 2, 30, "the wrong password to be refused twice")
        assert bad.stats.sessions == 0
    finally:
        good.stop()
        bad.stop()
    assert cam.url("admin", PASSWORD) not in caplog.text
    assert PASSWORD not in caplog.text and PASSWORD not in str(bad.stats.last_error)
    assert describe_source(cam.url("admin", PASSWORD)) == f"rtsp://admin:***@127.0.0.1:{cam.port}/cam"
    assert "rtsp://admin:***@" in caplog.text  # the camera is still named, its password masked
