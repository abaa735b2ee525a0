from __future__ import annotations

import pytest

from detector.types import Box, Detection
from pipeline.rules import REGISTRY
from pipeline.rules.lane_class import LaneClassRule
from pipeline.scene import parse_scene
from pipeline.tracks import TrackStore
from tests.conftest import FixedBoard, make_track, moving

# a 200 x 200 frame: a car lane on the right half, a lane open to every class on the left
LANES = [
    {"id": "cars", "polygon": [[100, 0], [200, 0], [200, 200], [100, 200]], "allowed": ["car", "bus", "truck"]},
    {"id": "mixed", "polygon": [[0, 0], [100, 0], [100, 200], [0, 200]], "allowed": None},
]
SCENE = parse_scene({"camera": "test", "frame_size": [200, 200], "lanes": LANES})
NO_SIGNALS = FixedBoard([])


def at(points: list[tuple[float, float]]) -> list[tuple[float, float, float, float]]:
    """Boxes whose bottom-centre is at each (x, y)."""
    return [(x - 10, y - 30, x + 10, y) for x, y in points]


UP_CARS = moving(150, [190 - 5 * i for i in range(30)])  # 3 s up the car lane at 10 fps
UP_MIXED = moving(50, [190 - 5 * i for i in range(30)])  # the same in the mixed lane


@pytest.mark.parametrize(
    ("name", "boxes", "label", "expected"),
    [
        # motorbike rides up the car lane for 3 s: found at its first frame there
        ("motorbike-in-car-lane", UP_CARS, "motorcycle", ("cars", 0)),
        # a bicycle stopped in the car lane for 3 s
        ("stopped-in-lane", moving(150, [120, 121, 119, 120] * 8), "bicycle", ("cars", 0)),
        # a car in the car lane
        ("car-in-car-lane", UP_CARS, "car", None),
        # a bus is allowed too
        ("bus-in-car-lane", UP_CARS, "bus", None),
        # a motorbike in the lane open to every class (allowed: null)
        ("allowed-null", UP_MIXED, "motorcycle", None),
        # passes through the car lane in 1.5 s, then back to the mixed lane
        ("passes-through", at([(50, 150)] * 5 + [(150, 150)] * 15 + [(50, 150)] * 10), "motorcycle", None),
        # comes over from the mixed lane at frame 5 and stays 2.5 s
        ("moves-in", at([(50, 150)] * 5 + [(150, 150)] * 25), "motorcycle", ("cars", 5)),
        # two short visits of 1.5 s each: neither lasts 2 s
        ("in-and-out", at([(150, 150)] * 15 + [(50, 150)] * 3 + [(150, 150)] * 15), "motorcycle", None),
        # a pedestrian in the car lane is not a vehicle
        ("person", UP_CARS, "person", None),
    ],
)
def test_lane_class_cases(name, boxes, label, expected):
    violation = LaneClassRule().check(make_track(boxes, label=label), SCENE, NO_SIGNALS)
    if expected is None:
        assert violation is None, name
    else:
        assert violation is not None, name
        assert (violation.rule, violation.where, violation.frame_index) == ("lane_class", *expected)
        assert violation.label == label
        assert violation.box == Box(*boxes[expected[1]])


def track_from_detections(boxes, labels, track_id=5):
    """The track TrackStore builds from per-frame detections with flickering labels."""
    store = TrackStore()
    for i, (box, label) in enumerate(zip(boxes, labels, strict=True)):
        (track,) = store.update(i, i / 10, [Detection(Box(*box), label, 0.8, track_id=track_id)])
    return store.get(track.track_id)


def test_class_flicker_car_stays_a_car():
    # a car read as a motorcycle in 1 frame of 5: its stable class is car, allowed in the lane
    labels = ["motorcycle" if i % 5 == 2 else "car" for i in range(30)]
    track = track_from_detections(UP_CARS, labels)
    assert track.label == "car"
    assert LaneClassRule().check(track, SCENE, NO_SIGNALS) is None


def test_class_flicker_motorbike_stays_a_motorbike():
    # a motorbike flickering to bicycle, person and car now and then: judged as a motorcycle
    flicker = {3: "bicycle", 7: "person", 11: "car", 19: "bicycle", 23: "car"}
    track = track_from_detections(UP_CARS, [flicker.get(i, "motorcycle") for i in range(30)])
    assert track.label == "motorcycle"
    violation = LaneClassRule().check(track, SCENE, NO_SIGNALS)
    assert violation is not None and (violation.label, violation.frame_index) == ("motorcycle", 0)


def test_min_duration_from_the_constructor():
    track = make_track(UP_CARS, label="motorcycle")
    assert LaneClassRule(min_duration_s=2.9).check(track, SCENE, NO_SIGNALS) is not None
    assert LaneClassRule(min_duration_s=3.0).check(track, SCENE, NO_SIGNALS) is None


def test_registry_reads_the_scene_settings():
    scene = parse_scene({"camera": "test", "frame_size": [200, 200], "lanes": LANES,
                         "rules": {"lane_class": {"min_duration_s": 0.5}}})
    rule = REGISTRY["lane_class"](scene)
    assert (rule.name, rule.min_duration_s) == ("lane_class", 0.5)
