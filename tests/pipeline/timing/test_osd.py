"""The camera's burnt-in clock, read with the offline OCR on real frames of the Hanoi clip."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.timing.osd import parse_clock, read_frame_clock, read_start_time
from pipeline.timing.site import OsdClock
from tests.conftest import need_shared

# the Hanoi camera's date and time, top centre of its 640x480 picture ("25/09/2022 16:41:47")
HANOI_CLOCK = OsdClock(box=(240, 0, 400, 18), format="%d/%m/%Y %H:%M:%S")


def _frame(path: Path, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))  # decoded in order: seeking lands a frame or so off
    for _ in range(index + 1):
        ok, image = cap.read()
    cap.release()
    assert ok, f"frame {index} of {path}"
    return image


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("25/09/2022 16:42:47", datetime(2022, 9, 25, 16, 42, 47)),
        ("25/09/2022 16:42.47", datetime(2022, 9, 25, 16, 42, 47)),
        ("25/O9/2022 16:42, 11", datetime(2022, 9, 25, 16, 42, 11)),
        ("25/09/2022 16:4. 47", None),  # a digit lost: not a reading
        ("25/09/2022 16:42:471", None),
        ("32/09/2022 16:42:47", None),
    ],
)
def test_parse_clock(text: str, expected: datetime | None) -> None:
    assert parse_clock(text, HANOI_CLOCK) == expected


def test_reads_the_hanoi_clock_on_a_real_frame() -> None:
    clip = need_shared("clips", "hanoi_ltk_hangbai", "16h30.25.9.22.mp4")
    assert read_frame_clock(_frame(clip, 360), HANOI_CLOCK) == datetime(2022, 9, 25, 16, 42, 47)


@pytest.mark.slow
def test_frame_zero_from_the_hanoi_clock() -> None:
    """Single readings go wrong (a 2 read as 1 on the bright sky); the agreeing ones give frame 0."""
    clip = need_shared("clips", "hanoi_ltk_hangbai", "16h30.25.9.22.mp4")
    start = read_start_time(clip, HANOI_CLOCK)
    assert start is not None
    # the labeller's notes: the overlay runs from about 16:41:47; the clock ticks whole seconds
    assert abs((start - datetime(2022, 9, 25, 16, 41, 47)).total_seconds()) <= 1.0
