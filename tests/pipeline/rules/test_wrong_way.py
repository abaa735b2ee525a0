from __future__ import annotations

import pytest

from detector.types import Box, Detection
from pipeline.engine import RuleEngine
from pipeline.rules import REGISTRY
from pipeline.rules.wrong_way import WrongWayRule
from pipeline.scene import parse_scene
from pipeline.tracks import TrackStore
from tests.conftest import FixedBoard, make_track, moving

# a 200 x 200 frame split at x = 100: traffic goes up on the right half, down on the left half
LANES = [
    {"id": "up", "polygon": [[100, 0], [200, 0], [200, 200], [100, 200]], "direction": [0, -1]},
    {"id": "down", "polygon": [[0, 0], [100, 0], [100, 200], [0, 200]], "direction": [0, 1]},
]
SCENE = parse_scene({"camera": "test", "frame_size": [200, 200], "lanes": LANES})
NO_SIGNALS = FixedBoard([])


def at(points: list[tuple[float, float]]) -> list[tuple[float, float, float, float]]:
    """Boxes whose bottom-centre is at each (x, y)."""
    return [(x - 10, y - 30, x + 10, y) for x, y in points]


def steps(start: float, step: float, n: int) -> list[float]:
    return [start + step * i for i in range(n)]


@pytest.mark.parametrize(
    ("name", "boxes", "label", "expected"),
    [
        # drives the right way (up) in the up lane
        ("right-way", moving(150, steps(190, -10, 15)), "car", None),
        # drives down the up lane for 1.5 s, 10 px per frame: confirmed, and reported, at frame 10
        # (1 s over frames 0-10)
        ("wrong-way", moving(150, steps(40, 10, 15)), "car", ("up", 10)),
        # the same in the down lane, going up
        ("wrong-way-other-lane", moving(50, steps(190, -10, 15)), "motorcycle", ("down", 10)),
        # slow rider, 3 px per frame: 60 px takes 2 s (frames 0-20), reported at its end
        ("slow-wrong-way", moving(150, steps(40, 3, 30)), "bicycle", ("up", 20)),
        # creeps backwards 1 px per frame for 8 s: under 60 px in the 4 s it looks back
        ("creeps-backwards", moving(150, steps(40, 1, 80)), "car", None),
        # wrong way for only 0.8 s before leaving the frame
        ("too-short", moving(150, steps(40, 10, 9)), "car", None),
        # stopped in lane: the box jitters by a few pixels for 5 s
        ("stopped-in-lane", moving(150, [100, 103, 98, 102, 97, 101] * 8), "car", None),
        # turning across the lane at a right angle
        ("turning-across", at([(105 + 6 * i, 100) for i in range(16)]), "car", None),
        # comes up the lane, then turns right across it and leaves
        ("turns-off", at([(150, y) for y in steps(190, -10, 7)] + [(150 + 8 * i, 120) for i in range(1, 7)]), "car",
         None),
        # U-turn: up to y = 100 at frame 9, then back down; the first window that opposes is
        # frames 7-17 (y 120 -> 180)
        ("u-turn", moving(150, steps(190, -10, 10) + steps(110, 10, 9)), "car", ("up", 17)),
        # U-turn into the other half, then down it the right way
        ("u-turn-into-own-lane", at([(150, y) for y in steps(190, -10, 10)] + [(120, 90), (90, 90), (70, 100)]
                                    + [(70, y) for y in steps(110, 10, 9)]), "car", None),
        # a pedestrian walking against the traffic is not a vehicle
        ("person", moving(150, steps(40, 10, 15)), "person", None),
    ],
)
def test_wrong_way_cases(name, boxes, label, expected):
    violation = WrongWayRule().check(make_track(boxes, label=label), SCENE, NO_SIGNALS)
    if expected is None:
        assert violation is None, name
    else:
        assert violation is not None, name
        assert (violation.rule, violation.where, violation.frame_index) == ("wrong_way", *expected)
        assert violation.box == Box(*boxes[expected[1]])
        assert violation.details["cosine"] < -0.5


def test_reported_where_the_first_wrong_way_window_confirms_it():
    # right way for 1 s, stops for 1 s, then reverses down the lane from frame 120: confirmed at
    # frame 126 (1 s and 60 px back, so the window is frames 116-126), reported there
    ys = steps(190, -10, 10) + [100] * 10 + steps(100, 10, 10)
    violation = WrongWayRule().check(make_track(moving(150, ys), start_frame=100), SCENE, NO_SIGNALS)
    assert violation is not None
    assert violation.frame_index == 126
    assert (violation.details["first_frame"], violation.details["confirmed_frame"]) == (116, 126)


def test_lane_without_direction_is_never_wrong_way():
    scene = parse_scene({"camera": "test", "frame_size": [200, 200], "lanes": [{**LANES[0], "direction": None}]})
    assert WrongWayRule().check(make_track(moving(150, steps(40, 10, 15))), scene, NO_SIGNALS) is None


def test_class_flicker_uses_the_stable_label():
    # a pedestrian detected as a bicycle now and then stays a pedestrian: no wrong-way vehicle
    store = TrackStore()
    track = None
    for i, box in enumerate(moving(150, steps(40, 10, 15))):
        label = "bicycle" if i % 4 == 0 else "person"
        track = store.update(i, i / 10, [Detection(Box(*box), label, 0.8, track_id=3)])[0]
    assert track.label == "person"
    assert WrongWayRule().check(track, SCENE, NO_SIGNALS) is None


def test_registry_reads_the_scene_settings():
    scene = parse_scene({"camera": "test", "frame_size": [200, 200], "lanes": LANES,
                         "rules": {"wrong_way": {"min_travel_px": 30, "min_duration_s": 2.0}}})
    rule = REGISTRY["wrong_way"](scene)
    assert (rule.name, rule.min_travel_px, rule.min_duration_s) == ("wrong_way", 30, 2.0)


# a long lane: traffic goes up, riders come down it at 5 px a frame (50 px/s at 10 fps)
LONG = parse_scene({"camera": "test", "frame_size": [200, 600], "lanes": [
    {"id": "up", "polygon": [[100, 0], [200, 0], [200, 600], [100, 600]], "direction": [0, -1]}]})


def rider(tracker_id: int, frames: range, dx: float = 0, dy: float = 0, w: float = 40, h: float = 60):
    """Boxes of a rider coming down the up lane, anchored at (150 + dx, 20 + 5 f + dy)."""
    return [(f, Detection(Box(*moving(150 + dx, [20 + 5 * f + dy], w, h)[0]), "motorcycle", 0.6, tracker_id))
            for f in frames]


def wrong_way_reports(*riders: list[tuple[int, Detection]]) -> list[tuple[int, int]]:
    """(track id, frame) of every wrong-way report, through the real track store and engine."""
    by_frame: dict[int, list[Detection]] = {}
    for f, det in sorted((p for r in riders for p in r), key=lambda p: p[0]):
        by_frame.setdefault(f, []).append(det)
    store, engine, found = TrackStore(), RuleEngine([WrongWayRule()]), []
    for f in range(max(by_frame) + 1):
        found += engine.check(store.update(f, f / 10, by_frame.get(f, [])), LONG, NO_SIGNALS)
        engine.forget(store.expire(f / 10))
    return [(v.track_id, v.frame_index) for v in found]


@pytest.mark.parametrize(
    ("name", "second", "reports"),
    [
        # the bike alone found as well, inside the rider-and-bike box, from a frame later: one vehicle
        ("bike-inside-rider-box", rider(2, range(1, 25), dx=2, dy=-1, w=36, h=35), 1),
        # ... even where the two boxes part for a frame in ten
        ("bike-inside-mostly", [(f, d) if f % 10 else (f, Detection(Box(150, d.box.y1, 186, d.box.y2), d.label, 0.6, 2))
                                for f, d in rider(2, range(1, 25), dx=2, w=36, h=35)], 1),
        # a rider queued right behind: the same width, touching the road 25 px (0.6 widths) further up
        ("queued-behind", rider(2, range(0, 25), dy=-25, h=50), 2),
        # riders side by side, 30 px apart, boxes overlapping
        ("side-by-side", rider(2, range(0, 25), dx=30), 2),
        # a small rider passing in front of the first for two frames only, going the same way
        ("passing", rider(2, range(0, 3), w=30, h=30) + rider(2, range(3, 25), dx=45, w=30, h=30), 2),
        # the same rider found again after the first track ended (not a second track at the same time)
        ("found-again-later", rider(2, range(26, 50)), 2),
    ],
)
def test_a_second_track_of_the_same_vehicle_is_not_reported_again(name, second, reports):
    first = rider(1, range(0, 25))  # reported at the end of frames 0-12
    assert len(wrong_way_reports(first)) == 1
    assert len(wrong_way_reports(first, second)) == reports, name


# A rider standing in the queue at the Hanoi junction (coco-n-f16, track 115 at frame 171: box
# 462,340,504,414), here in a lane whose traffic goes up. Over 1.5 s the rider queued behind is
# boxed together with it, the box growing 70 px down to the second rider's wheels, then both
# are boxed apart again: the bottom edge travels 70 px "backwards", the rider does not move.
STANDING = (462, 340, 504, 414)
QUEUE = parse_scene({"camera": "test", "frame_size": [640, 480], "lanes": [
    {"id": "approach", "polygon": [[380, 250], [600, 250], [600, 479], [380, 479]], "direction": [0.05, -1.0]}]})


def test_growing_box_of_a_standing_rider_is_not_travel():
    grow = [0, 5, 12, 20, 30, 40, 50, 60, 66, 70, 70, 70, 66, 50, 30, 10, 0, 0]
    boxes = [(x1, y1, x2, y2 + g) for g in grow for (x1, y1, x2, y2) in [STANDING]]
    track = make_track(boxes, fps=6.017, label="motorcycle")
    assert WrongWayRule(min_travel_px=60).check(track, QUEUE, NO_SIGNALS) is None
    # the same 70 px as real travel of the whole box down the lane is wrong way
    moved = [(x1, y1 + g, x2, y2 + g) for g in grow[:10] for (x1, y1, x2, y2) in [STANDING]]
    assert WrongWayRule(min_travel_px=60).check(make_track(moved, fps=6.017, label="motorcycle"), QUEUE,
                                                NO_SIGNALS) is not None

