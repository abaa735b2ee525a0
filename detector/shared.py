"""One detector for many cameras: a fixed pool of inference threads, a tracker per camera.

With a detector per camera, N cameras load N copies of the model and N ONNX Runtime sessions
whose threads fight over the machine's few cores. `SharedDetector` runs every camera's frames on
`workers` inference threads, each with its own copy of the weights' sessions (both members of a
fused entry) and `onnx_threads` intra-op threads; they take frames from one queue in the order
they came. The shipped ONNX files take one image per inference, so frames are not batched.
The number of sessions is fixed by the machine, not by the cameras: one inference at a time with
two intra-op threads leaves much of a 2-core machine idle (a YOLOv8n at 320 px does not split
well), so the default is one worker per core with one thread each (BENCHMARKS.md, "Cameras per
machine"). Each camera gets a `CameraDetector`, which asks the service for one frame's boxes and
feeds them to its own ByteTrack: no camera's tracker ever sees another camera's boxes. A camera
waits only for its own frame; one that stops sending simply has nothing queued.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np

from detector.tiling import Window
from detector.types import Detection
from detector.weights import ResolvedWeights
from detector.yolo import YoloDetector, new_bytetrack, track_boxes, tracker_settings

log = logging.getLogger(__name__)

Boxes = tuple[np.ndarray, np.ndarray, np.ndarray]
"""xyxy N x 4 in frame pixels, confidence N, class N (indices of the detector's labels)."""


class DetectorClosedError(RuntimeError):
    """The shared detector was closed while a camera waited for its boxes."""


class SharedDetector:
    """The models of `weights`, loaded once, run on one thread for every camera.

    Args:
        weights, imgsz, conf, labels: as for `YoloDetector`.
        workers: inference threads, each with its own sessions (default: one per core, at most 4).
        onnx_threads: ONNX Runtime intra-op threads per session (default: cores / workers).
    """

    def __init__(
        self,
        weights: ResolvedWeights,
        imgsz: int | None = None,
        conf: float = 0.25,
        labels: Iterable[str] | None = None,
        workers: int | None = None,
        onnx_threads: int | None = None,
    ):
        cores = os.cpu_count() or 1
        self.workers = workers or max(1, min(4, cores))
        if self.workers < 1:
            raise ValueError(f"workers must be 1 or more, got {self.workers}")
        threads = onnx_threads or max(1, cores // self.workers)
        self.detectors = [YoloDetector(weights, imgsz=imgsz, conf=conf, labels=labels) for _ in range(self.workers)]
        for d in self.detectors:
            d.onnx_threads = threads
        self.detector = self.detectors[0]
        """The first worker's detector: its labels and settings are every worker's."""
        self._requests: queue.Queue[tuple[np.ndarray, Sequence[Window] | None, float, Future[Boxes]] | None]
        self._requests = queue.Queue()
        self._closed = threading.Event()
        self._threads = [
            threading.Thread(target=self._serve, args=(d,), name=f"detector-{i}", daemon=True)
            for i, d in enumerate(self.detectors)
        ]
        for t in self._threads:
            t.start()

    @property
    def imgsz(self) -> int:
        return self.detector.imgsz

    @property
    def conf(self) -> float:
        return self.detector.conf

    def camera(self, track_buffer: int = 30) -> CameraDetector:
        """A detector for one camera: this service's models, its own tracks."""
        return CameraDetector(self, track_buffer)

    def boxes(self, frame: np.ndarray, windows: Sequence[Window] | None, conf: float) -> Boxes:
        """This frame's boxes (blocks until the inference thread has run it).

        Raises:
            DetectorClosedError: the service was closed before the frame was run.
        """
        if self._closed.is_set():
            raise DetectorClosedError("the shared detector is closed")
        done: Future[Boxes] = Future()
        self._requests.put((frame, windows, conf, done))
        while True:
            try:
                return done.result(timeout=0.5)
            except TimeoutError:
                if self._closed.is_set() and not self.alive and not done.done():
                    raise DetectorClosedError("the shared detector was closed before this frame was run") from None

    def _serve(self, detector: YoloDetector) -> None:
        quieted = False
        while True:
            request = self._requests.get()
            if request is None:
                break
            frame, windows, conf, done = request
            if not done.set_running_or_notify_cancel():
                continue
            try:
                done.set_result(detector._predict(frame, conf, windows))
            except Exception as exc:  # the camera that asked raises it; the service keeps serving
                done.set_exception(exc)
            if not quieted:  # after the first inference, once its sessions exist
                quieted = True
                detector._quiet_threads_once()
        others = 0  # the other threads' stop marks, put back for them
        while True:  # frames queued behind the close: their cameras are told, not left waiting
            try:
                left = self._requests.get_nowait()
            except queue.Empty:
                break
            if left is None:
                others += 1
            elif left[3].set_running_or_notify_cancel():
                left[3].set_exception(DetectorClosedError("the shared detector was closed"))
        for _ in range(others):
            self._requests.put(None)

    def close(self, timeout: float = 30.0) -> bool:
        """Stop the inference threads once the frames they run are done; True when all have ended."""
        self._closed.set()
        for _ in self._threads:
            self._requests.put(None)
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if not self.alive:
            for d in self.detectors:
                d.close()
        return not self.alive

    @property
    def alive(self) -> bool:
        """Whether any inference thread still runs."""
        return any(t.is_alive() for t in self._threads)

    @property
    def idents(self) -> list[int | None]:
        """The inference threads' ids."""
        return [t.ident for t in self._threads]


class CameraDetector:
    """One camera's view of a `SharedDetector`: what `CameraPipeline` needs of a `YoloDetector`."""

    def __init__(self, service: SharedDetector, track_buffer: int = 30):
        self.service = service
        self.imgsz = service.imgsz
        self.conf = service.conf
        self.windows: list[Window] | None = None
        self._settings = tracker_settings(service.conf, track_buffer)
        self._tracker: Any = None
        self.last_latency_s = 0.0
        """Seconds from asking for a frame's boxes to having its tracks (the wait for the service too)."""
        self.last_tracker_s = 0.0

    def look_at(self, windows: Sequence[Window] | None) -> None:
        """As `YoloDetector.look_at`: these windows of each frame from now on, tracks start afresh."""
        self.windows = list(windows) if windows else None
        self.reset()

    def track(self, frame: np.ndarray) -> list[Detection]:
        """Detect (on the shared service) and track (here, this camera's tracks only) one frame."""
        start = time.perf_counter()
        xyxy, conf, cls = self.service.boxes(frame, self.windows, round(self.conf / 2.5, 3))
        t = time.perf_counter()
        if self._tracker is None:
            self._tracker = new_bytetrack(self._settings)
        tracks = track_boxes(self._tracker, xyxy, conf, cls, frame)
        self.last_tracker_s = time.perf_counter() - t
        self.last_latency_s = time.perf_counter() - start
        if len(tracks) == 0:
            return []
        det = self.service.detector
        return det._detections(tracks[:, :4], tracks[:, 6].astype(int), tracks[:, 5], tracks[:, 4].astype(int))

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Detect without tracking (track_id stays None)."""
        xyxy, conf, cls = self.service.boxes(frame, self.windows, self.conf)
        return self.service.detector._detections(xyxy, cls, conf, [None] * len(cls))

    def reset(self) -> None:
        """Forget this camera's tracks (a reconnected stream, a new scene)."""
        if self._tracker is not None:
            self._tracker.reset()

    def close(self) -> None:
        """Nothing of the service is this camera's to close; its tracks go."""
        self._tracker = None
