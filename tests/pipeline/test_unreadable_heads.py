"""The coverage ledger's signal check: every head a stop line's traffic obeys, movement heads too."""

from __future__ import annotations

from pathlib import Path

from detector.types import Colour
from pipeline.scene import load_scene
from pipeline.signals import unreadable_heads

# the repository's scene of vn_junction_rightarrow: round head `main_round` for the line, a right
# ARROW head `right_arrow` for its right turn
SCENE = load_scene(Path(__file__).resolve().parents[2] / "eval" / "clips" / "vn_junction_rightarrow" / "scene.yaml")
R, G, U = Colour.RED, Colour.GREEN, Colour.UNKNOWN


def test_all_heads_read_is_enforcing():
    assert unreadable_heads(SCENE.stop_lines, {"main_round": R, "right_arrow": G}) == []


def test_an_unread_movement_head_is_named_with_its_movement():
    # the round head reads, the arrow does not: right turns over approach_stop are not enforced
    assert unreadable_heads(SCENE.stop_lines, {"main_round": R, "right_arrow": U}) == [
        "right_arrow (right at approach_stop)"
    ]
    assert unreadable_heads(SCENE.stop_lines, {"main_round": R}) == ["right_arrow (right at approach_stop)"]


def test_an_unread_line_head_is_named_alone():
    assert unreadable_heads(SCENE.stop_lines, {"main_round": U, "right_arrow": G}) == ["main_round"]
    assert unreadable_heads(SCENE.stop_lines, {}) == ["main_round", "right_arrow (right at approach_stop)"]


def test_an_arrow_that_is_off_is_read_not_unreadable():
    # dark is part of an arrow's cycle (its movement follows the round head), not a gap in coverage
    assert unreadable_heads(SCENE.stop_lines, {"main_round": G, "right_arrow": Colour.DARK}) == []
