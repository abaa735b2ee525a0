from __future__ import annotations

import pytest

from detector.types import Box, Detection
from pipeline.engine import RuleEngine
from pipeline.rules import REGISTRY
from pipeline.rules.solid_line import SolidLineRule
from pipeline.scene import parse_scene
from pipeline.tracks import TrackStore
from tests.conftest import FixedBoard, make_track

# a vertical solid line at x = 100 from y = 40 down to the bottom of a 200 x 200 frame
SCENE = parse_scene(
    {"camera": "test", "frame_size": [200, 200], "solid_lines": [{"id": "centre", "line": [[100, 40], [100, 200]]}]}
)
NO_SIGNALS = FixedBoard([])


def at(points: list[tuple[float, float]], w: float = 20, h: float = 40) -> list[tuple[float, float, float, float]]:
    """Boxes whose bottom-centre is at each (x, y)."""
    return [(x - w / 2, y - h, x + w / 2, y) for x, y in points]


def across(xs: list[float], y: float = 150) -> list[tuple[float, float, float, float]]:
    """Boxes moving sideways at one height, bottom-centre at each x."""
    return at([(x, y) for x in xs])


@pytest.mark.parametrize(
    ("name", "boxes", "label", "expected_frame"),
    [
        # crosses cleanly: first observation clear of the far side is frame 4
        ("crosses", across([80, 85, 90, 95, 105, 110, 115, 120]), "car", 4),
        # fast: one analysed step jumps right over the line
        ("one-step", across([60, 140, 145, 150]), "motorcycle", 1),
        # rides along the line, its bottom-centre 3 px left of it (inside the dead band), never across
        ("rides-along", at([(97, y) for y in range(190, 50, -10)]), "car", None),
        # rides along just beside the line, clear of it
        ("rides-beside", at([(92, y) for y in range(190, 50, -10)]), "car", None),
        # jitter of a box sitting on the line: every anchor within the dead band
        ("jitter-on-line", across([98, 102, 97, 103, 99, 101, 96, 104, 98, 102]), "car", None),
        # larger jitter: clear of the line on alternate sides, but never min_frames in a row across
        ("jitter-across", across([94, 106, 105, 94, 106, 94, 107, 106, 93, 106]), "car", None),
        # crosses and comes back: the first crossing is the violation
        ("crosses-and-returns", across([80, 90, 110, 115, 120, 110, 90, 80, 75]), "car", 2),
        # straddles the line for a while, then moves over: first clear frame on the far side
        ("straddles-then-crosses", across([90, 97, 100, 103, 108, 112, 115]), "bus", 4),
        # disappears mid-crossing: only 2 observations on the far side (min_frames is 3)
        ("disappears-mid-crossing", across([80, 90, 110, 115]), "car", None),
        # first seen on the line, then drives away from it: never on the near side, so no crossing
        ("starts-on-line", across([100, 102, 108, 115, 120]), "car", None),
        # goes round the top end of the line (y < 40) instead of over it
        ("round-the-end", at([(80, 70), (80, 50), (80, 30), (100, 20), (120, 30), (120, 50), (120, 70)]), "car", None),
        # a pedestrian crossing the road is not a vehicle
        ("person", across([80, 85, 90, 95, 105, 110, 115, 120]), "person", None),
    ],
)
def test_solid_line_cases(name, boxes, label, expected_frame):
    violation = SolidLineRule(min_frames=3).check(make_track(boxes, label=label), SCENE, NO_SIGNALS)
    if expected_frame is None:
        assert violation is None, name
    else:
        assert violation is not None, name
        assert (violation.rule, violation.where, violation.frame_index) == ("solid_line", "centre", expected_frame)
        assert violation.box == Box(*boxes[expected_frame])


def test_crossing_and_returning_is_reported_once():
    # the engine sees the track grow frame by frame, as in a run; the return is not a second violation
    boxes = across([80, 90, 110, 115, 120, 110, 90, 80, 75, 70, 110, 120, 130])
    engine = RuleEngine([SolidLineRule(min_frames=3)])
    found = [v for n in range(1, len(boxes) + 1) for v in engine.check([make_track(boxes[:n])], SCENE, NO_SIGNALS)]
    assert [(v.where, v.frame_index) for v in found] == [("centre", 2)]


def test_min_frames_is_the_hysteresis():
    boxes = across([80, 90, 110, 115])
    assert SolidLineRule(min_frames=2).check(make_track(boxes), SCENE, NO_SIGNALS) is not None
    assert SolidLineRule(min_frames=3).check(make_track(boxes), SCENE, NO_SIGNALS) is None


def test_wide_box_needs_a_wider_margin():
    # a 100 px wide car: its bottom-centre must be 10 px (a tenth of the width) clear of the line
    boxes = at([(x, 150) for x in (80, 90, 106, 108, 106, 108)], w=100)
    assert SolidLineRule().check(make_track(boxes), SCENE, NO_SIGNALS) is None
    boxes = at([(x, 150) for x in (80, 90, 112, 115, 118)], w=100)
    assert SolidLineRule().check(make_track(boxes), SCENE, NO_SIGNALS).frame_index == 2


def test_class_flicker_uses_the_stable_label():
    # a rider detected as person in a few frames and as motorcycle in most: one motorcycle track
    store = TrackStore()
    labels = ["motorcycle", "person", "motorcycle", "motorcycle", "person", "motorcycle", "motorcycle"]
    track = None
    for i, (box, label) in enumerate(zip(across([80, 90, 110, 115, 120, 125, 130]), labels, strict=True)):
        track = store.update(i, i / 10, [Detection(Box(*box), label, 0.8, track_id=7)])[0]
    assert track.label == "motorcycle"
    violation = SolidLineRule().check(track, SCENE, NO_SIGNALS)
    assert violation is not None and violation.label == "motorcycle" and violation.frame_index == 2


def test_registry_reads_the_scene_settings():
    scene = parse_scene(
        {"camera": "test", "frame_size": [200, 200], "rules": {"solid_line": {"min_frames": 5}},
         "solid_lines": [{"id": "centre", "line": [[100, 40], [100, 200]]}]}
    )
    rule = REGISTRY["solid_line"](scene)
    assert (rule.name, rule.min_frames) == ("solid_line", 5)
