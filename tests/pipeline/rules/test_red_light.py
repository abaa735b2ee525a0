from __future__ import annotations

import pytest

from detector.types import Colour
from pipeline.rules.red_light import RedLightRule
from pipeline.scene import parse_scene
from tests.conftest import FixedBoard, make_track, moving

SCENE = parse_scene(
    {
        "camera": "test",
        "frame_size": [200, 200],
        "signals": [{"id": "main", "box": [180, 10, 190, 40]}],
        "stop_lines": [{"id": "stop", "line": [[0, 100], [120, 100]], "approach": [0, -1], "signal": "main"}],
    }
)
RED_FROM_0 = FixedBoard([(-5.0, Colour.RED)])  # red long before the clip starts
UP = [130, 120, 110, 102, 96, 88, 80]  # bottom-centre y per frame at 10 fps; first past the line at frame 4


@pytest.mark.parametrize(
    ("name", "ys", "x", "board", "label", "expected_frame"),
    [
        # crosses cleanly on red
        ("red", UP, 50, RED_FROM_0, "car", 4),
        # crosses on yellow: not in violate_on by default
        ("yellow", UP, 50, FixedBoard([(-5.0, Colour.YELLOW)]), "car", None),
        # crosses on green
        ("green", UP, 50, FixedBoard([(-5.0, Colour.GREEN)]), "car", None),
        # red began 0.2 s before the crossing: inside the 0.5 s grace
        ("grace", UP, 50, FixedBoard([(0.0, Colour.GREEN), (0.2, Colour.RED)]), "car", None),
        # red begins exactly at the crossing frame (0.4 s): inside the grace
        ("at-change", UP, 50, FixedBoard([(0.0, Colour.GREEN), (0.4, Colour.RED)]), "car", None),
        # already past the line when red began (t=0.5), then jitters back and forth over it
        ("past-at-red", [96, 95, 97, 96, 95, 101, 94, 85], 50,
         FixedBoard([(0.0, Colour.GREEN), (0.5, Colour.RED)]), "car", None),
        # jitter of a box sitting on the line: never clearly across
        ("jitter", [101, 99, 101, 98, 101, 99, 102, 99], 50, RED_FROM_0, "car", None),
        # stops on the line, backs off
        ("backs-off", [110, 104, 99, 103, 108], 50, RED_FROM_0, "car", None),
        # passes beside the end of the stop line
        ("beside", UP, 150, RED_FROM_0, "car", None),
        # drives the other way over the line (leaving the junction towards the camera)
        ("against-approach", list(reversed(UP)), 50, RED_FROM_0, "car", None),
        # a person left after rider merging: a rider whose bike was missed, reported for review
        ("person", UP, 50, RED_FROM_0, "person", 4),
        # fast: one analysed step jumps from 130 to 70, still caught by segment intersection
        ("one-step", [150, 130, 70, 40], 50, RED_FROM_0, "motorcycle", 2),
        # arrives during red (first seen after it began), crosses: violation
        ("arrives-in-red", UP, 50, FixedBoard([(-5.0, Colour.GREEN), (-2.0, Colour.RED)]), "bus", 4),
    ],
)
def test_red_light_cases(name, ys, x, board, label, expected_frame):
    track = make_track(moving(x, ys), fps=10, label=label)
    violation = RedLightRule().check(track, SCENE, board)
    if expected_frame is None:
        assert violation is None, name
    else:
        assert violation is not None, name
        assert (violation.rule, violation.where, violation.frame_index) == ("red_light", "stop", expected_frame)
        assert violation.signal_colour is Colour.RED
        assert violation.seconds_into_colour == pytest.approx(violation.timestamp - board.state_at("main", 9).since)


def test_turning_away_before_the_line():
    # approaches, then turns right along y=110 and leaves the stop line's extent
    boxes = moving(50, [140, 125, 112]) + [(x - 10, 70, x + 10, 110) for x in (70, 100, 130, 160)]
    assert RedLightRule().check(make_track(boxes), SCENE, RED_FROM_0) is None


def test_yellow_counts_when_the_scene_says_so():
    rule = RedLightRule(violate_on=frozenset({Colour.RED, Colour.YELLOW}))
    v = rule.check(make_track(moving(50, UP)), SCENE, FixedBoard([(-5.0, Colour.YELLOW)]))
    assert v is not None and v.signal_colour is Colour.YELLOW


def test_unknown_signal_is_never_a_violation():
    assert RedLightRule().check(make_track(moving(50, UP)), SCENE, FixedBoard([(-5.0, Colour.UNKNOWN)])) is None
    assert RedLightRule().check(make_track(moving(50, UP)), SCENE, FixedBoard([], signal_id="other")) is None


def test_crossing_not_yet_confirmed_waits_for_depth():
    # last anchor is 1 px past the line: not yet a crossing, one frame later it is
    ys = [130, 120, 110, 101, 99]
    assert RedLightRule().check(make_track(moving(50, ys)), SCENE, RED_FROM_0) is None
    v = RedLightRule().check(make_track(moving(50, ys + [90])), SCENE, RED_FROM_0)
    assert v is not None and v.frame_index == 4


def test_labels_limit_who_is_checked():
    rule = RedLightRule(labels=frozenset({"car", "bus", "truck"}))
    assert rule.check(make_track(moving(50, UP), label="person"), SCENE, RED_FROM_0) is None
    assert rule.check(make_track(moving(50, UP), label="motorcycle"), SCENE, RED_FROM_0) is None
    assert rule.check(make_track(moving(50, UP), label="car"), SCENE, RED_FROM_0) is not None
