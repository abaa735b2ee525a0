"""Live camera streams as frames: a reader thread per stream that never gives up.

`StreamSource` opens an RTSP / HTTP(S) (MJPEG, HLS) URL, a device index or a file (looped for
testing) with OpenCV's FFmpeg backend, reads in its own thread, stamps each frame with the wall
clock and JPEG-encodes it for the evidence ring buffer. The consumer takes items from a
`LatestQueue`: when processing falls behind, the oldest frames are dropped (and counted), never
the markers that say a session began or ended. A lost or unreachable stream is reopened with
backoff and jitter, capped, forever, until the stop event is set. The wait never exceeds a quarter
of the outage so far (a 20 s outage costs at most ~5 s more), resets only after a healthy
session (a flapping camera keeps backing off), and a cheap TCP probe of the camera's port ends
it at once when a refused or unreachable camera starts answering again.
"""

from __future__ import annotations

import logging
import math
import random
import re
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from pipeline.daemon import connect
from pipeline.daemon.connect import PROBE_EVERY_S
from pipeline.source import JPEG_QUALITY, Frame

log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 5.0
HEALTHY_S = 30.0
"""A session that lasted this long ends an outage: the backoff starts again from its first delay."""
OUTAGE_SHARE = 0.25
"""The wait before a reconnect is at most this share of the outage so far (or the initial delay)."""

FPS_PROBE_FRAMES = 12
"""Frames whose arrival times give a session's frame rate (stream containers often claim 25)."""
FPS_PROBE_MAX_S = 3.0


@dataclass(frozen=True, slots=True)
class SessionStarted:
    """The stream is (re)connected: frames that follow belong to session `session`."""

    session: int
    width: int
    height: int
    fps: float
    at: float


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """The stream was lost (or stopped); `reason` says how."""

    session: int
    reason: str
    at: float


StreamItem = Frame | SessionStarted | SessionEnded


@dataclass
class Backoff:
    """Exponential backoff with full jitter, capped: the wait before reconnect attempt n."""

    initial_s: float = 1.0
    max_s: float = 60.0
    factor: float = 2.0
    jitter: float = 0.5
    """Share of each delay that is random, so cameras behind one dead switch do not retry in step."""
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self, outage_s: float | None = None) -> float:
        """The next wait; with `outage_s` (how long the source has been down) at most
        `OUTAGE_SHARE` of it, so a short outage is not followed by a long blind wait."""
        base = min(self.max_s, self.initial_s * self.factor ** min(self.attempt, 64))
        if outage_s is not None:
            base = min(base, max(self.initial_s, OUTAGE_SHARE * outage_s))
        self.attempt += 1
        return base * (1.0 - self.jitter) + base * self.jitter * self.rng.random()

    def reset(self) -> None:
        self.attempt = 0


class LatestQueue:
    """A bounded queue that keeps the newest frames: a full queue drops its oldest frame.

    Session markers are never dropped (there are at most two per reconnect)."""

    def __init__(self, max_frames: int):
        if max_frames < 1:
            raise ValueError(f"max_frames must be at least 1, got {max_frames}")
        self.max_frames = max_frames
        self._items: deque[StreamItem] = deque()
        self._frames = 0
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, item: StreamItem) -> None:
        with self._cond:
            if isinstance(item, Frame):
                if self._frames >= self.max_frames:
                    oldest = next(i for i in self._items if isinstance(i, Frame))
                    self._items.remove(oldest)
                    self._frames -= 1
                    self.dropped += 1
                self._frames += 1
            self._items.append(item)
            self._cond.notify()

    def get(self, timeout: float) -> StreamItem | None:
        with self._cond:
            if not self._items and not self._cond.wait_for(lambda: bool(self._items), timeout):
                return None
            item = self._items.popleft()
            if isinstance(item, Frame):
                self._frames -= 1
            return item

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


def describe_source(source: str | int) -> str:
    """The source as it may be logged and stored: a URL's password is masked."""
    if isinstance(source, int):
        return f"device {source}"
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", source)


def is_file_source(source: str | int) -> bool:
    return isinstance(source, str) and "://" not in source


@dataclass
class StreamStats:
    """Counters the reader thread keeps; read them from any thread."""

    connected: bool = False
    sessions: int = 0
    reconnects: int = 0
    """Attempts to open the stream after the first one (failed opens and reopenings after a loss)."""
    frames_read: int = 0
    last_frame_at: float | None = None
    """Wall-clock time of the newest frame."""
    last_error: str | None = None
    next_attempt_at: float | None = None


class StreamSource:
    """One camera's stream, read in a thread that reconnects forever.

    Args:
        source: an rtsp:// or http(s):// URL, a file path, or a device index.
        name: the camera id, for logs and the thread's name.
        loop: files only: start again at the end (for testing); without it a file ends the stream.
        queue_frames: frames kept for a slow consumer; older ones are dropped.
        backoff: reconnect policy.
        base_dir: where a relative file path is looked up.
    """

    def __init__(
        self,
        source: str | int,
        name: str,
        *,
        loop: bool = False,
        queue_frames: int = 4,
        backoff: Backoff | None = None,
        base_dir: Path | None = None,
        open_timeout_s: float = OPEN_TIMEOUT_S,
        read_timeout_s: float = READ_TIMEOUT_S,
        options: dict[str, str | int] | None = None,
    ):
        self.source = source
        if is_file_source(source) and base_dir is not None and not Path(str(source)).is_absolute():
            self.source = str(base_dir / str(source))
        self.name = name
        self.loop = loop
        self.queue = LatestQueue(queue_frames)
        self.backoff = backoff or Backoff()
        self.open_timeout_s, self.read_timeout_s = open_timeout_s, read_timeout_s
        self.options = connect.ffmpeg_options(self.source, options or {})
        if self.options is not None:
            connect.custom_sources += 1  # never lowered: a stopped camera's reader may still be opening
        self.stats = StreamStats()
        self.finished = threading.Event()
        """Set when a file without `loop` has ended (a live stream never finishes)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def frames_dropped(self) -> int:
        return self.queue.dropped

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"stream:{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the reader to stop; True when it has (a read blocked in FFmpeg ends by its timeout)."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout=self.read_timeout_s + 1.0 if timeout is None else timeout)
        return not self._thread.is_alive()

    def get(self, timeout: float = 0.5) -> StreamItem | None:
        return self.queue.get(timeout)

    # -- the reader thread ------------------------------------------------------------------

    def _run(self) -> None:
        first = True
        self._down_since = time.monotonic()
        while not self._stop.is_set():
            if not first:
                self.stats.reconnects += 1
            first = False
            cap = self._open()
            if cap is None:
                if not self._wait_backoff():
                    break
                continue
            opened = time.monotonic()
            try:
                ended = self._session(cap)
            except Exception as exc:  # a reader that dies silently would leave the camera dark for good
                log.exception("camera %s: stream reader failed", self.name)
                ended = f"reader error: {exc}"
            finally:
                cap.release()
            if time.monotonic() - opened >= HEALTHY_S:  # a healthy session: a new outage starts now
                self.backoff.reset()
                self._down_since = time.monotonic()
            if ended == "end of file" and not self.loop:
                self.finished.set()
                break
            if not self._stop.is_set() and not self._wait_backoff():
                break
        self.stats.connected = False

    def _open(self) -> cv2.VideoCapture | None:
        src = self.source
        if is_file_source(src) and not Path(str(src)).is_file():
            self._failed(f"no such file {src}")
            return None
        if isinstance(src, int):
            cap = cv2.VideoCapture(src)
        else:
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout_s * 1000),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout_s * 1000),
            ]  # fmt: skip
            with connect.capture_options(self.options):
                cap = cv2.VideoCapture(str(src), cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            self._failed("cannot open the stream (refused, unreachable, or not a video)")
            return None
        return cap

    def _failed(self, why: str) -> None:
        self.stats.last_error = why
        attempt = self.backoff.attempt
        # the first failures are worth a warning; after that one line per ~10 attempts is enough
        level = logging.WARNING if attempt < 3 or attempt % 10 == 0 else logging.DEBUG
        log.log(level, "camera %s: %s: %s (attempt %d)", self.name, describe_source(self.source), why, attempt + 1)

    def _wait_backoff(self) -> bool:
        """Wait before the next attempt; False when stopped. A camera that refused connections and
        starts accepting them again ends the wait at once (checked every `PROBE_EVERY_S`)."""
        delay = self.backoff.next_delay(time.monotonic() - self._down_since)
        self.stats.next_attempt_at = time.time() + delay
        address = connect.probe_address(self.source)
        if address is None or delay <= PROBE_EVERY_S:
            return not self._stop.wait(delay)
        deadline = time.monotonic() + delay
        was_up = connect.probe(address)
        while (left := deadline - time.monotonic()) > 0:
            if self._stop.wait(min(PROBE_EVERY_S, left)):
                return False
            if not was_up and connect.probe(address):
                log.info("camera %s: %s answers again; reconnecting now", self.name, describe_source(self.source))
                return True
        return True

    def _session(self, cap: cv2.VideoCapture) -> str:
        """Read one connection until it ends; return why it ended."""
        nominal = cap.get(cv2.CAP_PROP_FPS)
        nominal = nominal if nominal and math.isfinite(nominal) and 0.5 < nominal <= 120 else None
        paced = is_file_source(self.source)
        probe: list[tuple[np.ndarray, float]] = []
        session = 0
        t0 = time.monotonic()
        n = 0
        while not self._stop.is_set():
            ok, image = cap.read()
            if (not ok or image is None) and paced and self.loop and n:
                # a looped file goes on in the same session, as one long recording would
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                t0, n = time.monotonic(), 0
                ok, image = cap.read()
            if not ok or image is None:
                return self._lost(session, "end of file" if paced else "the stream stopped sending frames")
            now = time.time()
            if paced:  # a file plays at its own rate, as a camera would send it
                n += 1
                delay = t0 + n / (nominal or 25.0) - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                now = time.time()
            if not session:
                probe.append((image, now))
                if len(probe) < FPS_PROBE_FRAMES and now - probe[0][1] < FPS_PROBE_MAX_S and not paced:
                    continue
                session = self._begin(probe, nominal)
                for img, t in probe:
                    self._emit(img, t)
                probe = []
                continue
            self._emit(image, now)
        self.stats.connected = False
        if session:
            self.queue.put(SessionEnded(session, "stopped", time.time()))
        return "stopped"

    def _begin(self, probe: list[tuple[np.ndarray, float]], nominal: float | None) -> int:
        fps = _session_fps([t for _, t in probe], nominal)
        self.stats.sessions += 1
        self.stats.connected = True
        self.stats.last_error = None
        self.stats.next_attempt_at = None
        self._index = 0
        h, w = probe[0][0].shape[:2]
        log.info("camera %s: connected to %s (%dx%d, %.1f fps)", self.name, describe_source(self.source), w, h, fps)
        self.queue.put(SessionStarted(self.stats.sessions, w, h, fps, probe[0][1]))
        return self.stats.sessions

    def _emit(self, image: np.ndarray, timestamp: float) -> None:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            return
        self.queue.put(Frame(self._index, timestamp, image, True, buf.tobytes()))
        self._index += 1
        self.stats.frames_read += 1
        self.stats.last_frame_at = timestamp

    def _lost(self, session: int, why: str) -> str:
        self.stats.connected = False  # before the marker, so whoever reads the marker sees it
        self.stats.last_error = why
        if session:
            self.queue.put(SessionEnded(session, why, time.time()))
            if why != "end of file":
                log.warning("camera %s: stream lost (%s); reconnecting", self.name, why)
        return why


def _session_fps(times: list[float], nominal: float | None) -> float:
    """Frames per second of a new session: the container's figure when the arrival times agree
    with it, else the median arrival interval (MJPEG over HTTP usually claims 25)."""
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b > a]
    measured = 1.0 / statistics.median(gaps) if len(gaps) >= 3 else None
    if measured is None:
        return nominal or 25.0
    if nominal is not None and (abs(measured - nominal) / nominal < 0.25 or measured > nominal):
        return nominal  # faster than claimed is a burst of buffered frames (RTSP sends its GOP at once)
    return min(60.0, max(1.0, measured))
