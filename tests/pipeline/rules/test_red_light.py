from __future__ import annotations

import pytest

from detector.types import Colour
from pipeline.rules.red_light import RedLightRule
from pipeline.rules.stop_line_overrun import StopLineOverrunRule
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
# bottom-centre y per frame at 10 fps (boxes 40 px tall); first past the line at frame 4 (y 96), then
# on into the junction: one box height (40 px) beyond the crossing point at frame 8 (y 56)
UP = [130, 120, 110, 102, 96, 88, 80, 70, 56, 40]


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
        ("one-step", [150, 130, 70, 20], 50, RED_FROM_0, "motorcycle", 2),
        # creeps over the line on red and stops there: not a red-light report (stop_line_overrun)
        ("creeps-and-stops", [130, 120, 110, 102, 94, 90, 89, 90, 89, 89, 90], 50, RED_FROM_0, "motorcycle", None),
        # creeps over on red, stands 1 s, goes on once green: not a red-light report either
        ("creeps-goes-on-green", [120, 110, 102, 94] + [90, 89] * 6 + [70, 50, 30], 50,
         FixedBoard([(-5.0, Colour.RED), (1.55, Colour.GREEN)]), "motorcycle", None),
        # creeps over on red, stands 1 s, then goes on still on red: runs the red from there
        ("creeps-goes-on-red", [120, 110, 102, 94] + [90, 89] * 6 + [70, 50, 30], 50,
         RED_FROM_0, "motorcycle", 3),
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
    # last anchor is 1 px past the line: not yet a crossing, one frame later it is, and once it has
    # gone on into the junction it is reported at the crossing frame
    ys = [130, 120, 110, 101, 99]
    assert RedLightRule().check(make_track(moving(50, ys)), SCENE, RED_FROM_0) is None
    assert RedLightRule().check(make_track(moving(50, ys + [90])), SCENE, RED_FROM_0) is None
    v = RedLightRule().check(make_track(moving(50, ys + [90, 70, 55])), SCENE, RED_FROM_0)
    assert v is not None and v.frame_index == 4 and v.details["clear_frame"] == 7


def test_labels_limit_who_is_checked():
    rule = RedLightRule(labels=frozenset({"car", "bus", "truck"}))
    assert rule.check(make_track(moving(50, UP), label="person"), SCENE, RED_FROM_0) is None
    assert rule.check(make_track(moving(50, UP), label="motorcycle"), SCENE, RED_FROM_0) is None
    assert rule.check(make_track(moving(50, UP), label="car"), SCENE, RED_FROM_0) is not None


def test_report_waits_for_the_second_trigger_and_keeps_the_crossing_frame():
    """The last observation of the track is the one that proceeds: the report is made then (a
    track that ends there still reports), dated at the stop-line crossing (frame 4), and the
    seconds into red are the crossing's."""
    rule = RedLightRule()
    for n in range(5, 9):
        assert rule.check(make_track(moving(50, UP[:n])), SCENE, RED_FROM_0) is None, n
    v = rule.check(make_track(moving(50, UP[:9])), SCENE, RED_FROM_0)
    assert v is not None and (v.frame_index, v.details["clear_frame"]) == (4, 8)
    assert v.seconds_into_colour == pytest.approx(0.4 + 5.0)


def test_clear_distance_and_clear_line_per_stop_line():
    near = SCENE.model_copy(update={"stop_lines": [SCENE.stop_lines[0].model_copy(update={"clear_distance": 12.0})]})
    v = RedLightRule().check(make_track(moving(50, UP[:7])), near, RED_FROM_0)  # 96 -> 80: 16 px on
    assert v is not None and v.details["clear_frame"] == 6
    line = SCENE.stop_lines[0].model_copy(update={"clear_line": [[0, 85], [120, 85]]})
    with_line = SCENE.model_copy(update={"stop_lines": [line]})
    v = RedLightRule().check(make_track(moving(50, UP[:7])), with_line, RED_FROM_0)
    assert v is not None and v.details["clear_frame"] == 6
    assert RedLightRule().check(make_track(moving(50, UP[:6])), with_line, RED_FROM_0) is None


def test_proceeding_is_judged_relative_to_the_box_so_it_holds_at_any_resolution():
    """The same crossing filmed at twice the resolution (every coordinate doubled) is judged alike."""
    big = SCENE.scaled_to(400, 400)
    creep = [130, 120, 110, 102, 94, 90, 89, 90, 89, 89, 90]
    for scene, k in ((SCENE, 1), (big, 2)):
        def boxes(ys, k=k):
            return [(k * x1, k * y1, k * x2, k * y2) for x1, y1, x2, y2 in moving(50, ys)]
        assert RedLightRule().check(make_track(boxes(UP)), scene, RED_FROM_0) is not None, k
        assert RedLightRule().check(make_track(boxes(creep)), scene, RED_FROM_0) is None, k


ARROW_SCENE = parse_scene(
    {
        "camera": "test",
        "frame_size": [400, 400],
        "signals": [{"id": "main", "box": [380, 10, 390, 40]}, {"id": "right_arrow", "box": [360, 10, 370, 40]}],
        "stop_lines": [{"id": "stop", "line": [[0, 300], [300, 300]], "approach": [0, -1], "signal": "main",
                        "movements": {"right": "right_arrow"}}],
    }
)


class TwoHeads:
    """Round lamp red; the right-turn arrow green (or red)."""

    def __init__(self, arrow: Colour):
        self.boards = {"main": FixedBoard([(-5.0, Colour.RED)]),
                       "right_arrow": FixedBoard([(-5.0, arrow)], "right_arrow")}

    def state_at(self, signal_id, timestamp):
        board = self.boards.get(signal_id)
        return None if board is None else board.state_at(signal_id, timestamp)


def _path(points):
    return [(x - 10, y - 40, x + 10, y) for x, y in points]


RIGHT_TURN = [(100, 330), (100, 315), (102, 298), (110, 285), (130, 272), (160, 265), (200, 262), (240, 262)]
STRAIGHT = [(100, 330), (100, 315), (100, 298), (100, 280), (100, 260), (100, 240), (100, 220), (100, 200)]


@pytest.mark.parametrize(
    ("name", "path", "arrow", "reported"),
    [
        ("right-under-green-arrow", RIGHT_TURN, Colour.GREEN, None),
        ("straight-under-green-arrow", STRAIGHT, Colour.GREEN, "main"),
        ("right-under-red-arrow", RIGHT_TURN, Colour.RED, "main"),  # every head red: no need to tell
        ("straight-both-red", STRAIGHT, Colour.RED, "main"),
    ],
)
def test_movement_picks_the_head_that_controls_it(name, path, arrow, reported):
    v = RedLightRule().check(make_track(_path(path), label="motorcycle"), ARROW_SCENE, TwoHeads(arrow))
    assert (None if v is None else v.signal_id) == reported, name
    if v is not None:
        assert v.frame_index == 2


def test_a_right_turn_under_a_red_arrow_and_green_round_lamp_is_reported_on_the_arrow():
    boards = TwoHeads(Colour.RED)
    boards.boards = {"main": FixedBoard([(-5.0, Colour.GREEN)]),
                     "right_arrow": FixedBoard([(-5.0, Colour.RED)], "right_arrow")}
    v = RedLightRule().check(make_track(_path(RIGHT_TURN), label="motorcycle"), ARROW_SCENE, boards)
    assert v is not None and v.signal_id == "right_arrow" and v.details["movement"] == "right"
    assert RedLightRule().check(make_track(_path(STRAIGHT), label="motorcycle"), ARROW_SCENE, boards) is None


@pytest.mark.parametrize(("path", "movement"), [(RIGHT_TURN, "right"), (STRAIGHT, "straight")])
def test_an_arrow_that_is_off_gives_its_movement_back_to_the_round_head(path, movement):
    # round lamp red, arrow DARK: a right turn is no longer covered by the arrow, it obeys the round red
    v = RedLightRule().check(make_track(_path(path), label="motorcycle"), ARROW_SCENE, TwoHeads(Colour.DARK))
    assert v is not None and v.signal_id == "main" and v.details["movement"] == movement
    assert v.signal_colour is Colour.RED


def test_an_arrow_that_is_off_under_a_green_round_lamp_is_no_report():
    boards = TwoHeads(Colour.DARK)
    boards.boards["main"] = FixedBoard([(-5.0, Colour.GREEN)])
    for path in (RIGHT_TURN, STRAIGHT):
        assert RedLightRule().check(make_track(_path(path), label="motorcycle"), ARROW_SCENE, boards) is None


def test_movement_waits_until_the_path_tells():
    """Heads disagree: the report waits until the vehicle is two clear distances from the line."""
    short = make_track(_path(STRAIGHT[:5]), label="motorcycle")  # 38 px on: proceeded, movement not yet known
    assert RedLightRule().check(short, ARROW_SCENE, TwoHeads(Colour.GREEN)) is None
    v = RedLightRule().check(make_track(_path(STRAIGHT), label="motorcycle"), ARROW_SCENE, TwoHeads(Colour.GREEN))
    assert v is not None and v.details["movement"] == "straight" and v.signal_id == "main"


# A real rider: coco-n-f16 + ByteTrack on the Hanoi clip (6.017 fps), track 115 (a `person`: the
# bike was not detected), frames 171-191, on red. It crosses near_stop at frame 181 and rides on
# slowly into the junction, where the detector loses it 28 px past the line (truth: frame 186).
HANOI = parse_scene({
    "camera": "hanoi", "frame_size": [640, 480], "signals": [{"id": "main", "box": [549, 180, 568, 230]}],
    "stop_lines": [{"id": "near_stop", "line": [[189, 386.4], [531, 398.4]], "approach": [0.03, -1.0],
                    "signal": "main"}],
})
RIDER_115 = [
    (462, 340, 504, 414), (462, 338, 503, 411), (461, 336, 502, 410), (460, 333, 501, 408), (459, 331, 500, 407),
    (459, 329, 500, 406), (459, 327, 499, 403), (458, 326, 499, 404), (458, 325, 499, 405), (458, 323, 497, 398),
    (457, 321, 495, 395), (457, 320, 494, 391), (456, 318, 492, 389), (454, 314, 491, 388), (451, 312, 489, 388),
    (450, 311, 487, 387), (448, 309, 484, 383), (446, 308, 481, 382), (444, 305, 478, 377), (443, 303, 476, 372),
    (443, 300, 475, 368),
]


def test_real_rider_lost_in_the_junction_while_moving_on_is_reported_when_the_track_ends():
    track = make_track(RIDER_115, fps=6.017, label="person", start_frame=171)
    rule = RedLightRule()
    assert rule.check(track, HANOI, RED_FROM_0) is None  # 28 px on: not yet one box height (74 px)
    v = rule.finish(track, HANOI, RED_FROM_0)
    assert v is not None and v.frame_index == 181 and v.details["clear_frame"] == 191


def test_real_rider_creeping_over_the_line_and_standing_is_an_overrun_not_a_red_light():
    """The same rider up to frame 184 (8 px over the line), then standing there for 2 s."""
    creep = RIDER_115[:14] + [RIDER_115[13]] * 12
    track = make_track(creep, fps=6.017, label="person", start_frame=171)
    assert RedLightRule().check(track, HANOI, RED_FROM_0) is None
    assert RedLightRule().finish(track, HANOI, RED_FROM_0) is None  # lost standing: it did not go on
    v = StopLineOverrunRule().check(track, HANOI, RED_FROM_0)
    assert v is not None and v.rule == "stop_line_overrun" and v.frame_index == 181


def test_overrun_is_off_unless_enabled():
    from pipeline.rules import build_rules

    assert "stop_line_overrun" not in [r.name for r in build_rules(HANOI)]
    assert "stop_line_overrun" in [r.name for r in build_rules(HANOI, enable=["stop_line_overrun"])]
