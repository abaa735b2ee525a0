"""Video files as a stream of frames, decoded in a thread alongside inference.

Frames of a file are not encoded for evidence as they are read: the evidence writer decodes the few
frames a package needs again from the file (`VideoFile.read_again`), so a run spends nothing on
frames no violation needs. Each frame carries a small fingerprint to check that the frame decoded
again is the one seen.
"""

from __future__ import annotations

import hashlib
import logging
import math
import queue
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.errors import SourceError

log = logging.getLogger(__name__)

JPEG_QUALITY = 85


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame. `analyse` says whether the detector runs on it (analysis rate).

    `jpeg` is an encoded copy for evidence, made by sources that cannot give a frame again (live
    streams); a file's frames leave it None and carry `fingerprint` instead (see `fingerprint`)."""

    index: int
    timestamp: float
    image: np.ndarray
    analyse: bool
    jpeg: bytes | None = None
    fingerprint: bytes | None = None


def fingerprint(image: np.ndarray) -> bytes:
    """A cheap identity of a decoded frame: a hash of a sparse grid of its pixels (microseconds)."""
    h, w = image.shape[:2]
    sample = np.ascontiguousarray(image[:: max(1, h // 24), :: max(1, w // 32)])
    return hashlib.blake2b(sample.tobytes(), digest_size=12).digest()


_CHANGED = "{path}: frames decode differently than during the run (file changed?)"


class _SeekMissed(Exception):
    """A frame decoded again is not the frame of that index seen during the run."""


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
        self.height, self.width = first.shape[:2]  # upright: OpenCV applies the rotation metadata
        meta = cap.get(cv2.CAP_PROP_ORIENTATION_META)
        self.rotation = int(meta) % 360 if meta and math.isfinite(meta) else 0
        """Degrees the stored video is turned (clockwise) for display, as its frames come."""
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
        self._seek_ok = True
        self._cursor: tuple[cv2.VideoCapture, int] | None = None  # read_again's in-order reader, next index

    @property
    def duration_s(self) -> float | None:
        return None if self.frames_expected is None else self.frames_expected / self.fps

    def _should_analyse(self, index: int) -> bool:
        # analyse the frames where the analysis clock ticks: every frame at full rate
        step = self.fps / self.analysis_fps
        return math.floor(index / step) != math.floor((index - 1) / step) or index == 0

    def frames(self, stop: threading.Event | None = None) -> Iterator[Frame]:
        """Yield every decodable frame in order; decoding runs in a thread."""
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
                    frame = Frame(index, index / self.fps, image, self._should_analyse(index),
                                  fingerprint=fingerprint(image))
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

    def read_again(self, wanted: Mapping[int, bytes | None]) -> dict[int, np.ndarray]:
        """Decode again the frames at the indices of `wanted` (index -> fingerprint, None: unchecked).

        Seeks to a little before the first one and finds it by its fingerprint (containers whose
        timestamps do not count frames land a few frames off), and keeps that reader open: a call
        for frames just after the previous call's (the next chunk of a clip) reads on without
        seeking, which would decode from a keyframe again. Where seeking fails, it reads in decode
        order as `frames` does, from where the previous call stopped, or from the start when asked
        for earlier frames, for this call and every later one. Call it from one thread at a time.

        Raises:
            SourceError: a frame does not decode again, or decodes differently (the file changed).
        """
        if not wanted:
            return {}
        first = min(wanted)
        if self._cursor is not None and self._cursor[1] <= first <= self._cursor[1] + 2 * self._seek_margin:
            # just after the last call's frames (a clip read in chunks): read on, no new seek
            try:
                return self._read_in_order(wanted)
            except _SeekMissed:
                raise SourceError(_CHANGED.format(path=self.path)) from None
        if self._seek_ok and first > 0 and wanted[first] is not None:
            try:
                return self._read_seeking(first, wanted)
            except _SeekMissed:
                self._seek_ok = False
                log.warning("%s: seeking does not find the frames asked for; evidence frames are read "
                            "in order from now on", self.path.name)
        try:
            return self._read_in_order(wanted)
        except _SeekMissed:
            raise SourceError(_CHANGED.format(path=self.path)) from None

    @property
    def _seek_margin(self) -> int:
        return int(2 * self.fps) + 1

    def _read_seeking(self, first: int, wanted: Mapping[int, bytes | None]) -> dict[int, np.ndarray]:
        margin = self._seek_margin
        cap = cv2.VideoCapture(str(self.path))
        try:
            cap.set(cv2.CAP_PROP_POS_FRAMES, max(0, first - margin))
            for _ in range(2 * margin + 1):
                if not cap.grab():
                    break
                ok, image = cap.retrieve()
                if ok and fingerprint(image) == wanted[first]:
                    out = self._collect(cap, first, {first: image}, wanted)
                    self.close()
                    self._cursor = (cap, max(wanted) + 1)  # the next chunk of a clip reads on from here
                    return out
            raise _SeekMissed
        except BaseException:
            cap.release()
            raise

    def _read_in_order(self, wanted: Mapping[int, bytes | None]) -> dict[int, np.ndarray]:
        if self._cursor is None or self._cursor[1] > min(wanted):
            self.close()
            self._cursor = (cv2.VideoCapture(str(self.path)), 0)
        cap, index = self._cursor
        self._cursor = None  # until this read has succeeded
        while index < min(wanted) and cap.grab():
            index += 1
        if index < min(wanted):
            cap.release()
            raise SourceError(f"{self.path}: frame {min(wanted)} no longer decodes")
        try:
            out = self._collect(cap, index - 1, {}, wanted)
        except BaseException:
            cap.release()
            raise
        self._cursor = (cap, max(wanted) + 1)
        return out

    def _collect(
        self, cap: cv2.VideoCapture, index: int, out: dict[int, np.ndarray], wanted: Mapping[int, bytes | None]
    ) -> dict[int, np.ndarray]:
        """Read on from frame `index` (already read) to the last wanted frame, checking fingerprints."""
        for i in range(index + 1, max(wanted) + 1):
            if not cap.grab():
                break
            if i not in wanted:
                continue
            ok, image = cap.retrieve()
            if not ok:
                break
            if wanted[i] is not None and fingerprint(image) != wanted[i]:
                raise _SeekMissed
            out[i] = image
        missing = sorted(set(wanted) - set(out))
        if missing:
            raise SourceError(f"{self.path}: frames {missing[:5]} no longer decode")
        return out

    def close(self) -> None:
        """Release the reader `read_again` keeps open between calls."""
        if self._cursor is not None:
            self._cursor[0].release()
            self._cursor = None

    @property
    def shortfall(self) -> int:
        """Frames the container promised but that did not decode (0 when unknown)."""
        if self.frames_expected is None:
            return 0
        return max(0, self.frames_expected - self.frames_read)
