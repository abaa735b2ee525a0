"""Video files as a stream of frames, decoded in a thread alongside inference."""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.errors import SourceError

log = logging.getLogger(__name__)

JPEG_QUALITY = 85


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame. `analyse` says whether the detector runs on it (analysis rate);
    `jpeg` is the encoded copy kept for evidence clips."""

    index: int
    timestamp: float
    image: np.ndarray
    analyse: bool
    jpeg: bytes


def _diagnose_unopenable(path: Path) -> str:
    head = path.read_bytes()[:64] if path.stat().st_size else b""
    if not head:
        return f"{path} is empty (0 bytes): nothing to process"
    if head[4:8] == b"ftyp":
        return (
            f"{path} looks like an MP4 file but cannot be decoded: it is probably incomplete "
            "(for example cut off before its index was written). Copy or record it again."
        )
    return f"{path} is not a video that FFmpeg/OpenCV can read (unknown or corrupt format)"


class VideoFile:
    """A video file opened for reading, checked up front.

    Raises:
        SourceError: the file is missing, empty, not a video or unreadable.
    """

    def __init__(self, path: str | Path, analysis_fps: float | None = None, queue_size: int = 8):
        self.path = Path(path)
        if not self.path.exists():
            raise SourceError(f"{self.path}: no such file")
        if not self.path.is_file():
            raise SourceError(f"{self.path}: not a file")
        cap = cv2.VideoCapture(str(self.path))
        ok, first = cap.read() if cap.isOpened() else (False, None)
        if not ok or first is None:
            cap.release()
            raise SourceError(_diagnose_unopenable(self.path))
        self.height, self.width = first.shape[:2]
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and math.isfinite(fps) and 0 < fps < 1000 else 25.0
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frames_expected = int(count) if count and count > 0 else None
        cap.release()
        if analysis_fps is not None and analysis_fps <= 0:
            raise SourceError(f"analysis fps must be positive, got {analysis_fps}")
        self.analysis_fps = min(analysis_fps or self.fps, self.fps)
        self.queue_size = queue_size
        self.frames_read = 0
        self.decode_errors = 0

    @property
    def duration_s(self) -> float | None:
        return None if self.frames_expected is None else self.frames_expected / self.fps

    def _should_analyse(self, index: int) -> bool:
        # analyse the frames where the analysis clock ticks: every frame at full rate
        step = self.fps / self.analysis_fps
        return math.floor(index / step) != math.floor((index - 1) / step) or index == 0

    def frames(self, stop: threading.Event | None = None) -> Iterator[Frame]:
        """Yield every decodable frame in order; decoding and JPEG encoding run in a thread."""
        stop = stop or threading.Event()
        q: queue.Queue[Frame | BaseException | None] = queue.Queue(maxsize=self.queue_size)

        def reader() -> None:
            cap = cv2.VideoCapture(str(self.path))
            try:
                index = 0
                while not stop.is_set():
                    ok, image = cap.read()
                    if not ok:
                        break
                    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                    frame = Frame(index, index / self.fps, image, self._should_analyse(index), buf.tobytes())
                    while not stop.is_set():
                        try:
                            q.put(frame, timeout=0.2)
                            break
                        except queue.Full:
                            continue
                    index += 1
            except BaseException as exc:  # hand decoder failures to the consumer
                q.put(exc)
            finally:
                cap.release()
                q.put(None)

        thread = threading.Thread(target=reader, name=f"decode:{self.path.name}", daemon=True)
        thread.start()
        try:
            while True:
                item = q.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise SourceError(f"{self.path}: decoding failed: {item}") from item
                self.frames_read += 1
                yield item
        finally:
            stop.set()
            while thread.is_alive():
                try:
                    q.get_nowait()
                except queue.Empty:
                    thread.join(timeout=0.05)

    @property
    def shortfall(self) -> int:
        """Frames the container promised but that did not decode (0 when unknown)."""
        if self.frames_expected is None:
            return 0
        return max(0, self.frames_expected - self.frames_read)
