"""Detection and tracking with ultralytics YOLO + ByteTrack; the only module that runs inference.

The ultralytics result becomes `Detection`s here and nowhere else.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from detector.labels import label_map
from detector.types import Box, Detection
from detector.weights import ResolvedWeights, WeightsError

log = logging.getLogger(__name__)

_TRACKER_TEMPLATE = """\
tracker_type: bytetrack
track_high_thresh: {high}
track_low_thresh: {low}
new_track_thresh: {new}
track_buffer: {buffer}
match_thresh: 0.8
fuse_score: true
"""


class YoloDetector:
    """Detect and track road users in frames.

    Args:
        weights: resolved weights (see `detector.weights.resolve`).
        imgsz: inference size; None takes the manifest's size, else the model's own.
        conf: confidence a detection needs to start or firmly continue a track; ByteTrack
            still uses weaker boxes (down to conf / 2.5) to keep existing tracks alive.
        labels: trafficcam labels to keep (default: all vehicles and persons).
        track_buffer: analysed frames a lost track is kept for re-identification.
    """

    def __init__(
        self,
        weights: ResolvedWeights,
        imgsz: int | None = None,
        conf: float = 0.25,
        labels: Iterable[str] | None = None,
        track_buffer: int = 30,
    ):
        if not 0.0 < conf < 1.0:
            raise ValueError(f"conf must be between 0 and 1, got {conf}")
        from ultralytics import YOLO  # heavy import, kept out of module import time

        self.weights = weights
        try:
            self.model = YOLO(weights.path, task="detect")
        except Exception as exc:  # ultralytics raises many types for a bad or missing file
            raise WeightsError(
                f"cannot load detector weights {weights.path!r}: {str(exc).strip().splitlines()[0]}. "
                "Pass --weights NAME|PATH or set TRAFFICCAM_WEIGHTS (`trafficcam models list` shows known weights)."
            ) from None
        names = self.model.names
        self.labels = label_map(names, weights.class_overrides)
        if labels is not None:
            wanted = set(labels)
            self.labels = {k: v for k, v in self.labels.items() if v in wanted}
        if not self.labels:
            raise WeightsError(f"model {weights.name!r} has no classes trafficcam uses (its classes: {names})")
        self.imgsz = imgsz or weights.imgsz or 640
        self.conf = conf
        self._tracker_file = tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="bytetrack-", delete=False)
        self._tracker_file.write(
            _TRACKER_TEMPLATE.format(high=conf, low=round(conf / 2.5, 3), new=conf, buffer=track_buffer)
        )
        self._tracker_file.close()
        self.last_latency_s = 0.0

    @property
    def class_names(self) -> dict[int, str]:
        return dict(self.model.names)

    def track(self, frame: np.ndarray) -> list[Detection]:
        """Detect and track in one frame (frames must be passed in order)."""
        start = time.perf_counter()
        result = self.model.track(
            frame,
            persist=True,
            imgsz=self.imgsz,
            conf=round(self.conf / 2.5, 3),
            classes=sorted(self.labels),
            tracker=self._tracker_file.name,
            verbose=False,
        )[0]
        self.last_latency_s = time.perf_counter() - start
        return self._to_detections(result)

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Detect without tracking (track_id stays None)."""
        result = self.model.predict(
            frame, imgsz=self.imgsz, conf=self.conf, classes=sorted(self.labels), verbose=False
        )[0]
        return self._to_detections(result)

    def _to_detections(self, result) -> list[Detection]:  # type: ignore[no-untyped-def]
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            return []
        xyxy = boxes.xyxy.cpu().numpy()
        cls = boxes.cls.cpu().numpy().astype(int)
        conf = boxes.conf.cpu().numpy()
        ids = boxes.id.cpu().numpy().astype(int) if boxes.id is not None else [None] * len(cls)
        out = []
        for (x1, y1, x2, y2), c, s, tid in zip(xyxy, cls, conf, ids, strict=True):
            label = self.labels.get(int(c))
            if label is None:
                continue
            out.append(
                Detection(
                    Box(float(x1), float(y1), float(x2), float(y2)),
                    label,
                    float(min(max(s, 0.0), 1.0)),
                    None if tid is None else int(tid),
                )
            )
        return out

    def reset(self) -> None:
        """Forget all tracks (a new video or a reconnected stream)."""
        predictor = getattr(self.model, "predictor", None)
        for tracker in getattr(predictor, "trackers", []) or []:
            tracker.reset()

    def close(self) -> None:
        Path(self._tracker_file.name).unlink(missing_ok=True)
