"""The plate reader on real vehicle crops cut from the shared clips, against plates read by eye."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.plates import PlateKind, PlateReader
from pipeline.plates.labels import PlateLabel, frames_of, load_labels
from tests.conftest import need_shared

pytestmark = pytest.mark.slow
LABELS = Path(__file__).resolve().parents[2] / "eval" / "plates"


def _labelled(clip: str, frames: set[int]) -> tuple[list[PlateLabel], dict]:  # type: ignore[type-arg]
    labels = [lb for lb in load_labels(LABELS / f"{clip}.yaml") if lb.frame in frames and lb.legible == "yes"]
    video = need_shared("clips", clip, labels[0].video)
    return labels, frames_of(video, frames)


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader()


def test_one_and_two_line_car_plates_at_1080p(reader: PlateReader) -> None:
    labels, images = _labelled("vn_ptz_stopline_plates", {0})
    assert {lb.text for lb in labels} == {"29D-044.88", "30E-586.70"}
    for lb in labels:
        r = reader.read_frame(images[lb.frame], lb.box, lb.frame, PlateKind.of_label(lb.label))
        assert r is not None and r.plate.text == lb.text and r.plate.valid


def test_two_line_motorbike_plate_hand_held(reader: PlateReader) -> None:
    labels, images = _labelled("vn_moto_plates_handheld", {150})
    [lb] = labels
    r = reader.read_frame(images[lb.frame], lb.box, lb.frame, PlateKind.MOTORBIKE)
    assert r is not None and r.plate.text == "61-B2 267.15" == lb.text


def test_track_vote_gives_the_plate_and_its_crop(reader: PlateReader) -> None:
    labels, images = _labelled("vn_ptz_stopline_plates", {0, 150})
    frames = [(lb.frame, images[lb.frame], lb.box) for lb in labels if lb.text == "30E-586.70"]
    out = reader.read_track(frames, PlateKind.CAR)
    assert (out.text, out.valid, out.frames_tried) == ("30E-586.70", True, 2)
    assert out.confidence > 0.8 and out.crop is not None and out.crop.shape[0] >= 120
