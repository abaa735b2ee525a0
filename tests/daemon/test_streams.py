"""Stream sources: backoff, the newest-frames queue, and a real MJPEG camera that dies and returns."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest

from pipeline.daemon.streams import (
    Backoff,
    LatestQueue,
    SessionEnded,
    SessionStarted,
    StreamSource,
    _session_fps,
    describe_source,
)
from pipeline.source import Frame
from tests.daemon.conftest import free_port, wait_for


def frame(i: int) -> Frame:
    return Frame(i, float(i), np.zeros((2, 2, 3), np.uint8), True, b"jpeg")


def test_backoff_doubles_up_to_its_cap_with_jitter():
    b = Backoff(initial_s=1.0, max_s=8.0, jitter=0.5, rng=random.Random(1))
    delays = [b.next_delay() for _ in range(7)]
    bases = [1, 2, 4, 8, 8, 8, 8]
    for d, base in zip(delays, bases, strict=True):
        assert base * 0.5 <= d <= base
    b.reset()
    assert b.next_delay() <= 1.0


def test_backoff_waits_at_most_a_quarter_of_the_outage_so_far():
    b = Backoff(initial_s=1.0, max_s=60.0, jitter=0.0)
    for _ in range(6):
        b.next_delay()  # 1, 2, 4, 8, 16, 32 s uncapped
    assert b.next_delay(outage_s=20.0) == pytest.approx(5.0)
    assert b.next_delay(outage_s=2.0) == pytest.approx(1.0)  # never below the first delay
    assert b.next_delay(outage_s=1000.0) == pytest.approx(60.0)  # nor above the cap


def test_a_refused_camera_that_comes_back_is_reconnected_at_once_not_after_the_backoff(mjpeg_camera):
    """After a refused attempt the backoff waits 20 s; the probe notices the port open again
    within a second of the camera's return."""
    cam = mjpeg_camera(fps=8.0, start_frame=100, count=40)
    cam.kill()
    source = StreamSource(cam.url, "cam", backoff=Backoff(initial_s=20.0, max_s=60.0, jitter=0.0), read_timeout_s=2.0)
    source.start()
    try:
        wait_for(lambda: source.stats.next_attempt_at, 30, "a refused attempt")
        cam.start()
        back = time.monotonic()
        waiting = (source.stats.next_attempt_at or 0) - time.time()
        collect(source, lambda i: isinstance(i, SessionStarted), 30)
        took = time.monotonic() - back
        assert waiting > 15 and took < 6.0, (took, waiting)
    finally:
        source.stop()


def test_backoff_jitter_spreads_cameras_apart():
    a, b = Backoff(rng=random.Random(1)), Backoff(rng=random.Random(2))
    assert [round(a.next_delay(), 3) for _ in range(3)] != [round(b.next_delay(), 3) for _ in range(3)]


def test_latest_queue_drops_the_oldest_frames_never_the_markers():
    q = LatestQueue(max_frames=2)
    q.put(SessionStarted(1, 640, 480, 6.0, 0.0))
    for i in range(5):
        q.put(frame(i))
    q.put(SessionEnded(1, "lost", 1.0))
    items = [q.get(0) for _ in range(4)]
    assert isinstance(items[0], SessionStarted)
    assert [f.index for f in items[1:3]] == [3, 4]
    assert isinstance(items[3], SessionEnded)
    assert q.dropped == 3 and q.get(0) is None


@pytest.mark.parametrize(
    ("times", "nominal", "expected"),
    [
        ([i / 6 for i in range(12)], 25.0, 6.0),  # MJPEG over HTTP claims 25; the frames say 6
        ([i / 24.5 for i in range(12)], 25.0, 25.0),  # close enough to what the container says
        ([0.0], None, 25.0),  # nothing to measure, nothing claimed
        ([i / 200 for i in range(12)], None, 60.0),  # a burst of buffered frames is not 200 fps
        ([i / 60 for i in range(12)], 8.0, 8.0),  # an RTSP camera's buffered GOP arrives at once
    ],
)
def test_session_fps(times, nominal, expected):
    assert _session_fps(times, nominal) == pytest.approx(expected, rel=0.01)


def test_describe_source_masks_passwords():
    assert describe_source("rtsp://admin:hunter2@10.0.0.5:554/s1") == "rtsp://admin:***@10.0.0.5:554/s1"
    assert describe_source(2) == "device 2"


def test_a_refused_stream_keeps_retrying():
    source = StreamSource(f"http://127.0.0.1:{free_port()}/", "dead", backoff=Backoff(initial_s=0.05, max_s=0.1))
    source.start()
    try:
        wait_for(lambda: source.stats.reconnects >= 3, 20, "three reconnection attempts")
        assert not source.stats.connected and "cannot open" in (source.stats.last_error or "")
        assert source.get(0.1) is None
    finally:
        assert source.stop()


def collect(source: StreamSource, until, timeout: float) -> list:  # type: ignore[no-untyped-def]
    items: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = source.get(0.2)
        if item is not None:
            items.append(item)
            if until(item):
                return items
    pytest.fail(f"stream gave {len(items)} items but not the one awaited in {timeout} s")


def test_a_real_mjpeg_camera_that_dies_and_comes_back(mjpeg_camera):
    cam = mjpeg_camera(fps=8.0, start_frame=100, count=40)
    source = StreamSource(cam.url, "cam", backoff=Backoff(initial_s=0.1, max_s=0.5), queue_frames=64,
                          read_timeout_s=2.0)  # fmt: skip
    source.start()
    try:
        items = collect(source, lambda i: isinstance(i, Frame) and i.index >= 20, 30)
        started = items[0]
        assert isinstance(started, SessionStarted) and (started.width, started.height) == (640, 480)
        assert started.fps == pytest.approx(8.0, rel=0.2)  # measured, not the 25 the stream claims
        frames = [i for i in items if isinstance(i, Frame)]
        assert [f.index for f in frames] == list(range(len(frames)))
        assert all(f.jpeg[:2] == b"\xff\xd8" for f in frames)  # encoded for the evidence ring buffer
        assert abs(frames[-1].timestamp - time.time()) < 5  # wall clock
        cam.kill()
        items = collect(source, lambda i: isinstance(i, SessionEnded), 20)
        assert not source.stats.connected
        cam.start()
        items = collect(source, lambda i: isinstance(i, Frame), 30)
        again = next(i for i in items if isinstance(i, SessionStarted))
        assert again.session == 2 and items[-1].index == 0
        assert source.stats.reconnects >= 1 and source.stats.sessions == 2
    finally:
        source.stop()


def test_a_looped_file_plays_on_in_one_session_at_its_own_rate(tmp_path):
    import cv2

    video = tmp_path / "short.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 20.0, (64, 48))
    for i in range(6):
        writer.write(np.full((48, 64, 3), i * 40, np.uint8))
    writer.release()
    source = StreamSource(video.name, "file", loop=True, base_dir=tmp_path, queue_frames=64)
    source.start()
    try:
        items = collect(source, lambda i: isinstance(i, Frame) and i.index >= 14, 20)
    finally:
        source.stop()
    frames = [i for i in items if isinstance(i, Frame)]
    assert sum(isinstance(i, SessionStarted) for i in items) == 1 and not any(
        isinstance(i, SessionEnded) for i in items
    )
    assert [f.index for f in frames] == list(range(15))  # past the file's 6 frames, one session
    assert (frames[-1].timestamp - frames[0].timestamp) == pytest.approx(14 / 20, abs=0.3)  # paced, not raced
    assert source.stats.reconnects == 0


def test_a_file_without_loop_ends_the_stream(tmp_path):
    import cv2

    video = tmp_path / "short.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 50.0, (64, 48))
    for _ in range(3):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    source = StreamSource(str(video), "file", queue_frames=64)
    source.start()
    assert source.finished.wait(10)
    items = collect(source, lambda i: isinstance(i, SessionEnded), 5)
    assert sum(isinstance(i, Frame) for i in items) == 3 and items[-1].reason == "end of file"
