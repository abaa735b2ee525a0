"""'Red for N s' only when the red's start was seen; else it is a minimum."""

from __future__ import annotations

from detector.types import Colour, LightState
from pipeline.signals import SignalBoard


def _board(changes: list[tuple[float, Colour]]) -> SignalBoard:
    board = SignalBoard(["main"])
    for since, colour in changes:
        board.record({"main": LightState("main", colour, 1.0, since, int(since * 10))})
    return board


def test_onset_seen_after_a_known_colour() -> None:
    board = _board([(0.0, Colour.YELLOW), (0.3, Colour.RED)])
    assert board.onset_seen("main", 5.0)
    assert not board.onset_seen("main", 0.1)  # the yellow was on when the video began


def test_red_from_the_first_frame_or_after_unknown_is_not_an_onset() -> None:
    assert not _board([(0.0, Colour.RED)]).onset_seen("main", 41.0)
    assert not _board([(0.0, Colour.UNKNOWN), (0.5, Colour.RED)]).onset_seen("main", 41.0)
    assert not _board([(0.0, Colour.RED)]).onset_seen("other", 1.0)
