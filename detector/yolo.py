"""Detection and tracking with ultralytics YOLO + ByteTrack; the only module that runs inference.

The ultralytics result becomes `Detection`s here and nowhere else. By default the model sees
the whole frame (`model.track`, exactly what a user of ultralytics would write). With detection
windows (a region of interest, tiles: see `detector.tiling`) it runs once per window, the boxes
are mapped back to the frame and merged, and ultralytics' ByteTrack is fed the merged boxes.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from detector.fusion import fuse
from detector.labels import label_map
from detector.tiling import Window, cut_at_inner_edge, merge_boxes, to_frame, windows_union
from detector.types import LABELS, Box, Detection
from detector.weights import ResolvedWeights, WeightsError

log = logging.getLogger(__name__)

# Non-maximum suppression IoU unless the weights' manifest entry sets one: ultralytics' default.
# Lower removes second boxes on one motorbike but also merges riders side by side; what it changes,
# per model, is in MODELS.md ("Non-maximum suppression").
NMS_IOU = 0.7


def tracker_settings(conf: float, track_buffer: int = 30) -> dict[str, Any]:
    """ByteTrack settings for detections kept at `conf` (ultralytics' `bytetrack.yaml` keys).

    `fuse_score` is off, unlike ultralytics' default. With it on, ByteTrack matches a track to a
    box by IoU x the box's score, so a box found at 0.35 (a motorbike far off, or one the
    Vietnamese weights see from behind) must overlap the track's predicted box by IoU > 0.57 to
    continue it (> 0.86 to confirm a new track): at 6 fps a moving motorbike's box moves farther
    than that, the track is lost and restarted every frame, and a crossing between two of its
    pieces is seen by no rule. Off, IoU alone decides (0.2 to continue, 0.3 to confirm), as in
    ByteTrack's MOT20 setting. Hanoi red light with `vn2`: 4 of 8 found with it on, 8 of 8
    (1 false) off; what it changes on every clip and model is in MODELS.md ("Tracker").
    """
    return {
        "tracker_type": "bytetrack",
        "track_high_thresh": conf,
        "track_low_thresh": round(conf / 2.5, 3),
        "new_track_thresh": conf,
        "track_buffer": track_buffer,
        "match_thresh": 0.8,
        "fuse_score": False,
    }


class YoloDetector:
    """Detect and track road users in frames.

    Args:
        weights: resolved weights (see `detector.weights.resolve`).
        imgsz: inference size; None takes the manifest's size, else the model's own.
        conf: confidence a detection needs to start or firmly continue a track; ByteTrack
            still uses weaker boxes (down to conf / 2.5) to keep existing tracks alive.
        labels: trafficcam labels to keep (default: all vehicles and persons).
        track_buffer: analysed frames a lost track is kept for re-identification.
        nms_iou: overlap (IoU) above which non-maximum suppression keeps only the stronger of two
            boxes of a class; None takes the manifest's value for the weights, else `NMS_IOU`.
    """

    def __init__(
        self,
        weights: ResolvedWeights,
        imgsz: int | None = None,
        conf: float = 0.25,
        labels: Iterable[str] | None = None,
        track_buffer: int = 30,
        nms_iou: float | None = None,
    ):
        if not 0.0 < conf < 1.0:
            raise ValueError(f"conf must be between 0 and 1, got {conf}")
        self.nms_iou = nms_iou if nms_iou is not None else weights.nms_iou or NMS_IOU
        if not 0.0 < self.nms_iou <= 1.0:
            raise ValueError(f"nms_iou must be in (0, 1], got {self.nms_iou}")
        self.weights = weights
        # a fused entry: each member model with its label map, NMS IoU and the confidence its boxes need
        self.members = [_Member(m, min_conf, labels) for m, min_conf in weights.members]
        if self.members:
            self.model = self.members[0].model
            wanted = set(labels) if labels is not None else set(LABELS)
            self.labels = {i: label for i, label in enumerate(LABELS) if label in wanted}
        else:
            self.model = _load(weights)
            names = self.model.names
            self.labels = label_map(names, weights.class_overrides)
            if labels is not None:
                wanted = set(labels)
                self.labels = {k: v for k, v in self.labels.items() if v in wanted}
            if not self.labels:
                raise WeightsError(f"model {weights.name!r} has no classes trafficcam uses (its classes: {names})")
        self.imgsz = imgsz or weights.imgsz or 640
        self.conf = conf
        self.track_buffer = track_buffer
        self._tracker_file = tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="bytetrack-", delete=False)
        self._tracker_file.write(yaml.safe_dump(tracker_settings(conf, track_buffer), sort_keys=False))
        self._tracker_file.close()
        self.last_latency_s = 0.0
        self.last_tracker_s = 0.0  # of last_latency_s, the time ByteTrack took (the rest is detection)
        self.windows: list[Window] | None = None
        self.onnx_threads: int | None = None
        """ONNX Runtime intra-op threads per inference (None: its default, one per core)."""
        self._tracker: Any = None  # ByteTrack fed by the windowed path
        self._session_checked = False

    def look_at(self, windows: Sequence[Window] | None) -> None:
        """Run on these windows of each frame (frame pixels) from now on; None: the whole frame.

        Tracks start afresh (a new camera view or scene)."""
        self.windows = list(windows) if windows else None
        self.reset()

    @property
    def class_names(self) -> dict[int, str]:
        return dict(self.model.names)

    def track(self, frame: np.ndarray) -> list[Detection]:
        """Detect and track in one frame (frames must be passed in order)."""
        start = time.perf_counter()
        self.last_tracker_s = 0.0
        if self.members or (self.windows is not None and self.windows != [(0, 0, frame.shape[1], frame.shape[0])]):
            out = self._track_windows(frame)
            self.last_latency_s = time.perf_counter() - start
            return out
        result = self.model.track(
            frame,
            persist=True,
            imgsz=self.imgsz,
            conf=round(self.conf / 2.5, 3),
            iou=self.nms_iou,
            classes=sorted(self.labels),
            tracker=self._tracker_file.name,
            verbose=False,
        )[0]
        self._quiet_threads_once()
        self.last_latency_s = time.perf_counter() - start
        return self._to_detections(result)

    def _quiet_threads_once(self) -> None:
        """After the first inference (ultralytics builds its session and trackers then):
        `quiet_onnx_threads`, and time the trackers ultralytics calls inside `model.track`."""
        if not self._session_checked:
            self._session_checked = True
            for member in self.members:
                quiet_onnx_threads(member.model, self.onnx_threads)
            if not self.members:
                quiet_onnx_threads(self.model, self.onnx_threads)
            for tracker in getattr(getattr(self.model, "predictor", None), "trackers", None) or []:
                tracker.update = self._timed(tracker.update)

    def _timed(self, update: Any) -> Any:
        def timed_update(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return update(*args, **kwargs)
            finally:
                self.last_tracker_s += time.perf_counter() - t

        return timed_update

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Detect without tracking (track_id stays None), on the detection windows if set."""
        xyxy, conf, cls = self._predict(frame, self.conf)
        return self._detections(xyxy, cls, conf, [None] * len(cls))

    def _predict(
        self, frame: np.ndarray, conf: float, windows: Sequence[Window] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes of the detection windows (`windows`, else this detector's, else the whole frame);
        a fused entry's members' boxes fused, with classes as indices of `LABELS`."""
        windows = windows or self.windows or [(0, 0, frame.shape[1], frame.shape[0])]
        if not self.members:
            return predict_windows(self.model, frame, windows, self.imgsz, conf, sorted(self.labels),
                                   nms_iou=self.nms_iou)  # fmt: skip
        parts = [m.predict(frame, windows, conf) for m in self.members]
        xyxy, scores, labels = fuse(parts)
        return xyxy, scores, np.array([LABELS.index(x) for x in labels], np.float32)

    def _track_windows(self, frame: np.ndarray) -> list[Detection]:
        xyxy, conf, cls = self._predict(frame, round(self.conf / 2.5, 3))
        self._quiet_threads_once()
        tracks = track_boxes(self._bytetrack(), xyxy, conf, cls, frame)
        if len(tracks) == 0:
            return []
        # rows: x1 y1 x2 y2 track_id score cls detection_index
        return self._detections(tracks[:, :4], tracks[:, 6].astype(int), tracks[:, 5], tracks[:, 4].astype(int))

    def _bytetrack(self) -> Any:
        if self._tracker is None:
            self._tracker = new_bytetrack(tracker_settings(self.conf, self.track_buffer))
            self._tracker.update = self._timed(self._tracker.update)
        return self._tracker

    def _to_detections(self, result) -> list[Detection]:  # type: ignore[no-untyped-def]
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            return []
        ids = boxes.id.cpu().numpy().astype(int) if boxes.id is not None else [None] * len(boxes)
        return self._detections(
            boxes.xyxy.cpu().numpy(), boxes.cls.cpu().numpy().astype(int), boxes.conf.cpu().numpy(), ids
        )

    def _detections(self, xyxy: Any, cls: Any, conf: Any, ids: Any) -> list[Detection]:
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
        if self._tracker is not None:
            self._tracker.reset()

    def close(self) -> None:
        Path(self._tracker_file.name).unlink(missing_ok=True)


def new_bytetrack(settings: dict[str, Any]) -> Any:
    """A fresh ultralytics ByteTrack with these `tracker_settings`."""
    from ultralytics.trackers.byte_tracker import BYTETracker
    from ultralytics.utils import IterableSimpleNamespace

    return BYTETracker(args=IterableSimpleNamespace(**settings))


def track_boxes(tracker: Any, xyxy: np.ndarray, conf: np.ndarray, cls: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Feed one frame's boxes to a ByteTrack; rows x1 y1 x2 y2 track_id score cls detection_index."""
    from ultralytics.engine.results import Boxes

    return tracker.update(Boxes(np.column_stack([xyxy, conf, cls]), frame.shape[:2]), frame)


def _load(weights: ResolvedWeights) -> Any:
    from ultralytics import YOLO  # heavy import, kept out of module import time

    try:
        return YOLO(weights.path, task="detect")
    except Exception as exc:  # ultralytics raises many types for a bad or missing file
        raise WeightsError(
            f"cannot load detector weights {weights.path!r}: {str(exc).strip().splitlines()[0]}. "
            "Pass --weights NAME|PATH or set TRAFFICCAM_WEIGHTS (`trafficcam models list` shows known weights)."
        ) from None


class _Member:
    """One model of a fused entry: its boxes at or above `min_conf`, as trafficcam labels."""

    def __init__(self, weights: ResolvedWeights, min_conf: float, labels: Iterable[str] | None):
        self.model = _load(weights)
        self.labels = label_map(self.model.names, weights.class_overrides)
        if labels is not None:
            wanted = set(labels)
            self.labels = {k: v for k, v in self.labels.items() if v in wanted}
        self.imgsz = weights.imgsz or 640
        self.nms_iou = weights.nms_iou or NMS_IOU
        self.min_conf = min_conf

    def predict(
        self, frame: np.ndarray, windows: Sequence[Window], conf: float
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        xyxy, scores, cls = predict_windows(
            self.model, frame, windows, self.imgsz, max(conf, self.min_conf), sorted(self.labels),
            nms_iou=self.nms_iou,
        )  # fmt: skip
        keep = np.array([int(c) in self.labels for c in cls], bool)
        return xyxy[keep], scores[keep], [self.labels[int(c)] for c in cls[keep]]


def quiet_onnx_threads(model: Any, threads: int | None = None) -> bool:
    """Rebuild the ONNX Runtime CPU session under `model` (an ultralytics YOLO that has predicted
    once) with its worker threads told not to spin; True where it did.

    By default ONNX Runtime's intra-op threads busy-wait for more work after each inference. On a
    machine with few cores they then take a core from the main thread, which has the frame's
    tracking, signal reading, rules and evidence to do before the next inference. Measured on the
    project's 2-core machine, Hanoi 640x480, `coco-n-f16`: `trafficcam process` 35 -> 40 fps, the
    bare ultralytics loop 57 -> 54 fps (BENCHMARKS.md). ultralytics offers no way to pass session
    options, so the session it built is replaced by an identical one with that option; another
    backend (PyTorch, CUDA) is left as it is. `threads` sets its intra-op threads (None: ONNX
    Runtime's default, one per core).
    """
    backend = getattr(getattr(getattr(model, "predictor", None), "model", None), "backend", None)
    session = getattr(backend, "session", None)
    if session is None or getattr(backend, "use_io_binding", False):
        return False
    try:
        import onnxruntime as ort

        if not isinstance(session, ort.InferenceSession) or session.get_providers()[:1] != ["CPUExecutionProvider"]:
            return False
        options = ort.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        backend.session = ort.InferenceSession(session._model_path, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - an optimisation only: keep the session that works
        log.debug("kept ONNX Runtime's default session: %s", exc)
        return False
    return True


def predict_windows(
    model: Any,
    frame: np.ndarray,
    windows: Sequence[Window],
    imgsz: int,
    conf: float,
    classes: list[int] | None = None,
    nms_iou: float = NMS_IOU,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run `model` (an ultralytics YOLO) on each window of `frame` and merge what they find.

    `nms_iou` is the non-maximum suppression overlap within each window.

    Returns:
        (xyxy N x 4 in frame pixels, conf N, cls N) after merging duplicates across windows.
    """
    bounds = windows_union(windows)
    parts_xyxy, parts_conf, parts_cls, parts_cut = [], [], [], []
    for window in windows:
        x1, y1, x2, y2 = window
        result = model.predict(
            frame[y1:y2, x1:x2], imgsz=imgsz, conf=conf, iou=nms_iou, classes=classes, verbose=False
        )[0]
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            continue
        xyxy = to_frame(boxes.xyxy.cpu().numpy().astype(np.float32), window)
        parts_xyxy.append(xyxy)
        parts_conf.append(boxes.conf.cpu().numpy().astype(np.float32))
        parts_cls.append(boxes.cls.cpu().numpy().astype(np.float32))
        parts_cut.append(cut_at_inner_edge(xyxy, window, bounds))
    if not parts_xyxy:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32)
    if len(windows) == 1:
        return parts_xyxy[0], parts_conf[0], parts_cls[0]
    return merge_boxes(
        np.concatenate(parts_xyxy), np.concatenate(parts_conf), np.concatenate(parts_cls), np.concatenate(parts_cut)
    )
