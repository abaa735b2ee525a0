"""Vietnamese plate formats: OCR text repaired by layout, typed text made canonical, validity."""

from __future__ import annotations

import pytest

from pipeline.plates.formats import PlateKind, is_valid, normalise, parse
from pipeline.plates.labels import char_accuracy
from pipeline.plates.reader import FrameReading, vote


@pytest.mark.parametrize(
    ("lines", "kind", "text", "plate_kind"),
    [
        ("30K-559.78", None, "30K-559.78", PlateKind.CAR),
        ("29A-1234", None, "29A-1234", PlateKind.CAR),
        (["30E", "586.70"], None, "30E-586.70", PlateKind.CAR),  # square two-line car plate
        (["61-B2", "267.15"], None, "61-B2 267.15", PlateKind.MOTORBIKE),
        (["59-X1", "234.56"], None, "59-X1 234.56", PlateKind.MOTORBIKE),
        (["29-B1", "1234"], None, "29-B1 1234", PlateKind.MOTORBIKE),
        ("3OK-55978", None, "30K-559.78", PlateKind.CAR),  # O where a digit belongs
        (["Z9-B1", "737.67"], None, "29-B1 737.67", PlateKind.MOTORBIKE),  # Z where a digit belongs
        (["290", "044.88"], PlateKind.CAR, "29D-044.88", PlateKind.CAR),  # 0 where the series letter belongs
        ("51LD-123.45", None, "51LD-123.45", PlateKind.CAR),
    ],
)
def test_parse_repairs_by_layout(lines, kind, text, plate_kind) -> None:  # type: ignore[no-untyped-def]
    plate = parse(lines, kind)
    assert (plate.text, plate.kind, plate.valid) == (text, plate_kind, True)


@pytest.mark.parametrize("raw", ["hello", "62151", "05K-559.78", "30K-55", ["2901", "044.88"], ["51XY", "123.45"]])
def test_parse_refuses_what_fits_no_format(raw) -> None:  # type: ignore[no-untyped-def]
    assert not parse(raw, PlateKind.CAR if isinstance(raw, list) else None).valid


def test_kind_from_the_vehicle_limits_the_layouts() -> None:
    assert parse("29B173767").kind is PlateKind.MOTORBIKE
    assert not parse("29B173767", PlateKind.CAR).valid


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [("30k 55978", "30K-559.78"), ("29-b1 123.45", "29-B1 123.45"), ("29 AA 12345", "29-AA 123.45"),
     ("  30E-586.70 ", "30E-586.70"), ("29A1234", "29A-1234")],
)  # fmt: skip
def test_typed_plates_are_made_canonical(typed: str, canonical: str) -> None:
    assert normalise(typed).text == canonical and normalise(typed).valid and is_valid(canonical)


@pytest.mark.parametrize("typed", ["30K-5S9.78", "ABC", "", "30K-559", "3OK-559.78", "<script>", "61-B2 267"])
def test_typed_plates_are_not_guessed(typed: str) -> None:
    assert not normalise(typed).valid and not is_valid(typed)


def _reading(text: str, score: float, frame: int) -> FrameReading:
    return FrameReading(frame, parse(text), score, (0, 0, 10, 10))


def test_vote_outvotes_one_misread_glyph_per_position() -> None:
    frames = [_reading("30K-559.78", 0.9, 1), _reading("30K-559.18", 0.8, 2), _reading("38K-559.78", 0.7, 3)]
    out = vote(frames, tried=3)
    assert out.text == "30K-559.78" and out.valid and out.frames_agreeing == 1
    assert 0.7 < out.confidence < 1.0


def test_vote_confidence_counts_frames_without_a_reading() -> None:
    one = [_reading("30K-559.78", 0.9, 1)]
    assert vote(one, tried=1).confidence > vote(one, tried=4).confidence
    assert vote([], tried=3).text is None and vote([], tried=3).confidence == 0.0


def test_char_accuracy_ignores_separators() -> None:
    assert char_accuracy("30E-586.70", "30E 58670") == 1.0
    assert char_accuracy("30E-586.70", "30E-586.10") == pytest.approx(7 / 8)
    assert char_accuracy("30E-586.70", None) == 0.0


def test_vote_of_mixed_glyphs_forms_a_plate_no_frame_read_whole() -> None:
    frames = [_reading("30K-551.78", 0.9, 1), _reading("30K-559.18", 0.8, 2), _reading("38K-559.78", 0.7, 3)]
    out = vote(frames, tried=3)
    assert (out.text, out.valid, out.frames_agreeing) == ("30K-559.78", True, 0)
