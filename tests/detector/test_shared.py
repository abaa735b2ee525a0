"""One detector for many cameras (detector/shared.py): the default weights, real frames of two clips."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from detector.shared import DetectorClosedError, SharedDetector
from detector.weights import resolve
from tests.conftest import need_shared

FRAMES = 8


def _frames(clip: str, name: str, every: int = 1) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(need_shared("clips", clip, name)))
    frames: list[np.ndarray] = []
    i = 0
    while len(frames) < FRAMES:
        ok, image = cap.read()
        if not ok:
            break
        if i % every == 0:
            frames.append(image)
        i += 1
    cap.release()
    return frames


@pytest.fixture(scope="module")
def clips() -> dict[str, list[np.ndarray]]:
    return {
        "hanoi": _frames("hanoi_ltk_hangbai", "16h30.25.9.22.mp4"),
        "taiwan": _frames("taiwan_highway", "traffic1.mp4"),
    }


@pytest.fixture(scope="module")
def service():
    need_shared("clips")
    # the default: a fused pair (two sessions per frame), on two inference threads
    detector = SharedDetector(resolve("coco-vn2"), workers=2)
    yield detector
    detector.close()


def _as_rows(detections) -> list[tuple]:
    return [(d.track_id, d.label, round(d.box.x1, 2), round(d.box.y1, 2), round(d.confidence, 4)) for d in detections]


def _run(service: SharedDetector, frames: list[np.ndarray]) -> list[list[tuple]]:
    camera = service.camera()
    try:
        return [_as_rows(camera.track(f)) for f in frames]
    finally:
        camera.close()


def test_two_cameras_at_once_get_what_each_gets_alone(service, clips):
    alone = {name: _run(service, frames) for name, frames in clips.items()}
    assert all(any(rows) for rows in alone.values()), "both clips have road users in their first frames"
    together: dict[str, list[list[tuple]]] = {}
    threads = [threading.Thread(target=lambda n=n: together.__setitem__(n, _run(service, clips[n]))) for n in clips]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert together == alone


def test_a_cameras_tracker_sees_only_its_own_boxes(service, clips):
    """Interleaved frame by frame, each camera's tracks lie where its own clip's boxes are."""
    hanoi, taiwan = service.camera(), service.camera()
    seen: dict[int, set[tuple]] = {id(hanoi): set(), id(taiwan): set()}
    for h, t in zip(clips["hanoi"], clips["taiwan"], strict=False):
        for camera, frame in ((hanoi, h), (taiwan, t)):
            boxes = {_box(d) for d in camera.track(frame)}
            xyxy, _, _ = service.boxes(frame, None, round(service.conf / 2.5, 3))  # what its tracker was fed
            found = {(None, *map(float, b)) for b in xyxy}
            assert all(_near_any(b, found) for b in boxes if b[0] is not None), "a track on another camera's box"
            seen[id(camera)] |= {b[0] for b in boxes}
    assert seen[id(hanoi)] and seen[id(taiwan)]
    # ids are each tracker's own: both cameras number their tracks from 1
    assert 1 in seen[id(hanoi)] and 1 in seen[id(taiwan)]


def _box(d) -> tuple:
    return (d.track_id, d.box.x1, d.box.y1, d.box.x2, d.box.y2)


def _near_any(tracked: tuple, found: set[tuple], px: float = 40.0) -> bool:
    """A tracked box is a Kalman-smoothed box of this frame: within `px` of one found in it."""
    return any(max(abs(a - b) for a, b in zip(tracked[1:], f[1:], strict=True)) <= px for f in found)


def test_a_camera_that_stops_does_not_stall_the_others(service, clips):
    stalled = service.camera()
    stalled.track(clips["hanoi"][0])  # then it never sends another frame
    other = service.camera()
    start = time.monotonic()
    rows = [other.track(f) for f in clips["taiwan"][:4]]
    assert len(rows) == 4 and time.monotonic() - start < 60


def test_close_ends_the_thread_and_a_waiting_camera_is_told():
    need_shared("clips")
    frames = _frames("hanoi_ltk_hangbai", "16h30.25.9.22.mp4")[:3]
    detector = SharedDetector(resolve("coco-n-f16"), workers=2)
    camera = detector.camera()
    camera.track(frames[0])
    assert detector.alive
    errors: list[BaseException] = []

    def keep_asking() -> None:
        try:
            while True:
                camera.track(frames[1])
        except DetectorClosedError as exc:
            errors.append(exc)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    time.sleep(0.3)
    assert detector.close(timeout=30)
    asker.join(30)
    assert not asker.is_alive() and errors, "a camera waiting on a closed detector gets an error, not a hang"
    assert not detector.alive and not any(
        t.name == "detector" and t.ident == detector.ident for t in threading.enumerate()
    )
    with pytest.raises(DetectorClosedError):
        camera.track(frames[2])
