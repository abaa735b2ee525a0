"""The real detector on tiles of a real frame: boxes come back in frame coordinates, and tracks form."""

from __future__ import annotations

import cv2
import pytest

from detector.tiling import detection_windows
from detector.weights import resolve
from detector.yolo import YoloDetector
from tests.conftest import COCO_WEIGHTS, need_shared

pytestmark = pytest.mark.slow


def _iou(a, b) -> float:
    w = min(a.x2, b.x2) - max(a.x1, b.x1)
    h = min(a.y2, b.y2) - max(a.y1, b.y1)
    inter = max(0.0, w) * max(0.0, h)
    return inter / (a.area + b.area - inter)


@pytest.fixture(scope="module")
def hanoi_frames():
    video = need_shared("clips", "hanoi_ltk_hangbai", "16h30.25.9.22.mp4")
    need_shared("models", "yolov8n_int8.onnx")
    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 150)
    frames = [cap.read()[1] for _ in range(3)]
    cap.release()
    return frames


def test_tiled_detection_finds_boxes_in_frame_coordinates(hanoi_frames):
    frame = hanoi_frames[0]
    h, w = frame.shape[:2]
    detector = YoloDetector(resolve(str(COCO_WEIGHTS)), imgsz=320)
    whole = detector.detect(frame)
    detector.look_at(detection_windows((w, h), tiles=(2, 2), whole_region=True))
    tiled = detector.detect(frame)
    detector.close()
    assert len(tiled) >= len(whole) > 0
    assert all(0 <= d.box.x1 < d.box.x2 <= w and 0 <= d.box.y1 < d.box.y2 <= h for d in tiled)
    # boxes found in the lower-right tile were shifted there, not left at the tile's own origin
    assert any(d.box.x1 > w / 2 and d.box.y1 > h / 2 for d in tiled)
    # what the whole frame finds with confidence, the tiles find at the same place
    for d in (d for d in whole if d.confidence > 0.5):
        assert max(_iou(d.box, t.box) for t in tiled) > 0.5, d


def test_tiled_tracking_keeps_track_ids_across_frames(hanoi_frames):
    h, w = hanoi_frames[0].shape[:2]
    detector = YoloDetector(resolve(str(COCO_WEIGHTS)), imgsz=320)
    detector.look_at(detection_windows((w, h), tiles=(2, 2)))
    seen = [detector.track(f) for f in hanoi_frames]
    detector.close()
    ids = [{d.track_id for d in frame if d.track_id is not None} for frame in seen]
    assert ids[-1] and ids[-1] & ids[-2]  # the same road users keep their ids
    assert all(0 <= d.box.x1 and d.box.x2 <= w + 1 and d.box.y2 <= h + 1 for d in seen[-1])


def _spinning(detector: YoloDetector) -> str | None:
    session = detector.model.predictor.model.backend.session
    options = session.get_session_options()
    try:
        return options.get_session_config_entry("session.intra_op.allow_spinning")
    except RuntimeError:  # never set: ONNX Runtime's default, spinning
        return None


@pytest.mark.parametrize("tiles", [None, (2, 2)])
def test_onnx_threads_stop_spinning_after_the_first_frame_and_results_stay_the_same(hanoi_frames, tiles):
    h, w = hanoi_frames[0].shape[:2]
    runs = []
    for quiet in (False, True):
        detector = YoloDetector(resolve(str(COCO_WEIGHTS)), imgsz=320)
        if tiles:
            detector.look_at(detection_windows((w, h), tiles=tiles))
        if not quiet:
            detector._session_checked = True  # keep ultralytics' own session
        runs.append([detector.track(f) for f in hanoi_frames])
        assert _spinning(detector) == ("0" if quiet else None)
        detector.close()
    assert runs[0] == runs[1] and runs[1][-1]


@pytest.mark.parametrize("tiles", [None, (2, 2)])
def test_non_maximum_suppression_leaves_no_two_boxes_of_a_class_overlapping_more_than_its_iou(hanoi_frames, tiles):
    h, w = hanoi_frames[0].shape[:2]
    overlaps = {}
    for nms_iou in (0.7, 0.4):
        detector = YoloDetector(resolve(str(COCO_WEIGHTS)), imgsz=320, conf=0.1, nms_iou=nms_iou)
        if tiles:
            detector.look_at(detection_windows((w, h), tiles=tiles))
        found = [detector.detect(f) for f in hanoi_frames]
        detector.close()
        overlaps[nms_iou] = max(
            _iou(a.box, b.box)
            for boxes in found
            for i, a in enumerate(boxes)
            for b in boxes[i + 1 :]
            if a.label == b.label
        )
    if tiles is None:  # one window: the bound holds exactly (tiles merge across windows on their own terms)
        assert overlaps[0.4] <= 0.4 + 1e-3
    assert overlaps[0.7] > 0.4 >= overlaps[0.4] - 0.1  # the setting reaches ultralytics: the loose one keeps more


def test_the_manifest_sets_a_models_suppression_iou_and_an_argument_overrides_it():
    from dataclasses import replace

    from detector.weights import ManifestEntry
    from detector.yolo import NMS_IOU

    need_shared("models", COCO_WEIGHTS.name)
    plain = resolve(str(COCO_WEIGHTS))
    entry = ManifestEntry(name="x", file=COCO_WEIGHTS.name, imgsz=320, source="test", licence="test", nms_iou=0.45)
    listed = replace(plain, entry=entry)
    assert plain.nms_iou is None and listed.nms_iou == 0.45
    for weights, argument, used in ((plain, None, NMS_IOU), (listed, None, 0.45), (listed, 0.6, 0.6)):
        detector = YoloDetector(weights, imgsz=320, nms_iou=argument)
        assert detector.nms_iou == used
        detector.close()
    with pytest.raises(ValueError):
        ManifestEntry(name="x", file="x.onnx", imgsz=320, source="t", licence="t", nms_iou=1.5)


@pytest.mark.parametrize("tiles", [None, (2, 2)])
def test_tracking_time_is_measured_apart_from_detection(hanoi_frames, tiles):
    """`process` reports detection and tracking as separate stages: both paths (ultralytics'
    own `track`, and ByteTrack fed by the tiles) must time the tracker inside each call."""
    h, w = hanoi_frames[0].shape[:2]
    detector = YoloDetector(resolve(str(COCO_WEIGHTS)), imgsz=320)
    if tiles:
        detector.look_at(detection_windows((w, h), tiles=tiles))
    shares = []
    for f in hanoi_frames:
        detector.track(f)
        shares.append(detector.last_tracker_s / detector.last_latency_s)
    detector.close()
    assert all(0 < s < 0.5 for s in shares[1:]), shares  # the first call builds the session and trackers
