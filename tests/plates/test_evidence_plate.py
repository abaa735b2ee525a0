"""The evidence writer reads the plate on its thread and adds plate.jpg with its SHA-256."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from detector.types import Box, Colour, Observation, Track
from pipeline.evidence import EvidenceJob, EvidenceRecorder
from pipeline.plates import PlateReader
from pipeline.plates.labels import frames_of
from pipeline.rules.base import Violation
from pipeline.source import Frame
from tests.conftest import need_shared
from tests.pipeline.rules.test_red_light import SCENE

FPS = 30.0
VIOS = Box(490, 685, 890, 990)  # eval/plates/vn_ptz_stopline_plates.yaml, frame 0: 30E-586.70


def _violation(box: Box, at: int) -> Violation:
    return Violation("red_light", "stop", 7, "car", at, at / FPS, box, 0.9, "main", Colour.RED, 3.0)


def _write(tmp_path, images: dict[int, np.ndarray], track: Track, reader) -> tuple[EvidenceJob, list]:  # type: ignore[no-untyped-def]
    rec = EvidenceRecorder(tmp_path, SCENE, FPS, pre_s=0.3, post_s=0.3, plates=reader)
    job = EvidenceJob(_violation(track.observations[0].box, 10), track, datetime(2021, 8, 6, 6, 52, tzinfo=UTC),
                      "p1", due=20 / FPS)  # fmt: skip
    rec.start(job)
    for i in sorted(images):
        jpeg = cv2.imencode(".jpg", images[i], [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
        rec.add_frame(Frame(i, i / FPS, images[i], True, jpeg))
    ((done, files),) = rec.flush()
    rec.close()
    assert done is job and not isinstance(files, Exception)
    return job, files


@pytest.mark.slow
def test_plate_is_read_from_the_track_and_saved_as_evidence(tmp_path) -> None:
    video = need_shared("clips", "vn_ptz_stopline_plates", "traffic.mp4")
    images = frames_of(video, set(range(0, 21)))  # the queue stands still at the line
    track = Track(7, "car", tuple(Observation(i, i / FPS, VIOS, 0.9, "car") for i in range(0, 21, 2)))
    job, files = _write(tmp_path, images, track, PlateReader())
    plate = {f.kind: f for f in files}["plate"]
    path = tmp_path / plate.path
    assert plate.path.endswith("/p1/plate.jpg") and hashlib.sha256(path.read_bytes()).hexdigest() == plate.sha256
    assert job.plate is not None
    assert (job.plate.text, job.plate.valid, job.plate.frames_tried) == ("30E-586.70", True, 3)
    assert job.plate.confidence > 0.8 and cv2.imread(str(path)).shape[0] >= 120


class _Broken(PlateReader):
    def read_track(self, frames, kind=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("onnxruntime fell over")


def test_a_failing_reader_costs_the_reading_not_the_package(tmp_path) -> None:
    images = {i: np.full((120, 160, 3), 90, np.uint8) for i in range(0, 21)}
    track = Track(7, "car", tuple(Observation(i, i / FPS, Box(20, 20, 120, 100), 0.9, "car") for i in range(21)))
    job, files = _write(tmp_path, images, track, _Broken())
    assert {f.kind for f in files} == {"before", "during", "after", "vehicle", "clip", "clip_marked"}
    assert job.plate is None


def test_no_text_in_the_crop_means_no_plate_file_and_an_empty_reading(tmp_path) -> None:
    images = {i: np.full((120, 160, 3), 90, np.uint8) for i in range(0, 21)}
    track = Track(7, "car", tuple(Observation(i, i / FPS, Box(20, 20, 120, 100), 0.9, "car") for i in range(21)))
    job, files = _write(tmp_path, images, track, PlateReader())
    assert "plate" not in {f.kind for f in files}
    assert job.plate is not None and job.plate.text is None and job.plate.frames_tried == 3
