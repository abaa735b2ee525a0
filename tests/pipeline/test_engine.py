"""One report per road user, whatever boxes the detector gives it, from real tracks.

The boxes below are real: COCO YOLOv8n (`coco-n-f16`) with ByteTrack on the Hanoi clip
(`hanoi_ltk_hangbai`, 6.017 fps), after rider merging. One rider in a white shirt is tracked as
a `person` (frames 231-243: the bike not detected) and then, as the detector finds the bike,
as a new `motorcycle` track (frames 239-249). Both anchors pass y = 452 (a stop line drawn for
the test) a frame apart: 243 and 242, the failure the issue reports from an unseen junction.
"""

from __future__ import annotations

from detector.types import Box, Observation, Track
from pipeline.engine import RuleEngine
from pipeline.rules.base import Violation

FPS = 6.017
RIDER_AS_PERSON = {  # track 149
    231: (467, 396, 534, 479), 232: (470, 398, 535, 479), 233: (472, 394, 538, 478), 234: (474, 392, 538, 478),
    235: (475, 387, 539, 475), 236: (476, 382, 541, 473), 237: (477, 378, 544, 474), 238: (478, 372, 545, 472),
    243: (489, 362, 537, 439),
}
RIDER_AS_MOTORCYCLE = {  # track 167
    239: (481, 371, 543, 466), 240: (483, 364, 544, 460), 241: (487, 358, 542, 456), 242: (488, 354, 541, 450),
    243: (495, 390, 536, 445), 244: (488, 349, 537, 438), 245: (489, 343, 537, 431), 246: (489, 338, 539, 424),
    247: (488, 332, 540, 417), 248: (489, 326, 538, 407), 249: (490, 314, 537, 399),
}
LINE_Y = 452


def track(track_id: int, label: str, boxes: dict[int, tuple[float, float, float, float]], dx=0.0, dy=0.0,
          shift=0) -> Track:  # fmt: skip
    obs = tuple(
        Observation(f + shift, (f + shift) / FPS, Box(b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy), 0.8, label)
        for f, b in sorted(boxes.items())
    )
    return Track(track_id, label, obs)


class CrossingRule:
    """A stand-in rule for this engine test: the anchor passes y = `line_y` going up."""

    name = "red_light"

    def __init__(self, line_y: float = LINE_Y):
        self.line_y = line_y

    def check(self, t: Track, scene, signals) -> Violation | None:
        for a, b in zip(t.observations, t.observations[1:], strict=False):
            if a.box.y2 >= self.line_y > b.box.y2:
                return Violation.at(self.name, "stop", t, b)
        return None


def run(*tracks: Track, line_y: float = LINE_Y) -> list[Violation]:
    """Feed the tracks frame by frame, as the pipeline does, and collect the reports."""
    engine = RuleEngine([CrossingRule(line_y)])
    frames = sorted({o.frame_index for t in tracks for o in t.observations})
    found = []
    for f in frames:
        updated = [Track(t.track_id, t.label, tuple(o for o in t.observations if o.frame_index <= f))
                   for t in tracks if any(o.frame_index == f for o in t.observations)]
        found += engine.check(updated, None, None)  # type: ignore[arg-type]
    return found


def test_rider_as_person_and_as_motorcycle_one_frame_apart_report_once():
    found = run(track(149, "person", RIDER_AS_PERSON), track(167, "motorcycle", RIDER_AS_MOTORCYCLE))
    assert [(v.track_id, v.frame_index) for v in found] == [(167, 242)]


def test_bike_alone_and_rider_alone_each_report_when_alone():
    assert len(run(track(149, "person", RIDER_AS_PERSON))) == 1
    assert len(run(track(167, "motorcycle", RIDER_AS_MOTORCYCLE))) == 1


def test_a_rider_queued_a_bike_length_behind_is_reported_too():
    """The same motorbike track again, 45 px lower (a bike's length) and two frames later: a
    second rider following the first over the line."""
    follower = track(300, "motorcycle", RIDER_AS_MOTORCYCLE, dy=45, shift=2)
    found = run(track(149, "person", RIDER_AS_PERSON), track(167, "motorcycle", RIDER_AS_MOTORCYCLE), follower)
    assert sorted(v.track_id for v in found) == [167, 300]


def test_riders_side_by_side_are_two_reports():
    beside = track(301, "person", RIDER_AS_PERSON, dx=-60)
    found = run(beside, track(167, "motorcycle", RIDER_AS_MOTORCYCLE))
    assert sorted(v.track_id for v in found) == [167, 301]


# vn_junction_rightarrow (30 fps), coco-n-f16: a two-up motorbike (truth: red light at frame 112)
# boxed as rider-and-bike under two tracks, one mostly `person`, one `motorcycle` that is lost
# between frames 97 and 117 while it crosses the stop line (y ~ 380 there): 112 and 117.
TWO_UP_AS_PERSON = {
    97: (856, 306, 949, 458), 107: (859, 283, 943, 433), 108: (863, 278, 945, 426), 109: (862, 271, 941, 415),
    112: (858, 229, 931, 364), 113: (848, 207, 931, 344), 114: (855, 204, 922, 326), 115: (855, 201, 920, 320),
    116: (855, 201, 918, 318), 124: (849, 166, 903, 272), 125: (849, 165, 902, 271),
}
TWO_UP_AS_MOTORCYCLE = {
    95: (850, 308, 949, 480), 96: (853, 306, 948, 466), 97: (855, 304, 945, 463), 117: (849, 191, 925, 311),
    118: (850, 185, 922, 306), 119: (851, 183, 921, 305), 120: (851, 182, 919, 300), 121: (850, 180, 916, 295),
    122: (849, 171, 912, 282), 123: (849, 168, 910, 278),
}


def test_two_up_motorbike_tracked_twice_with_a_gap_reports_once():
    def track30(tid, label, boxes):
        return Track(tid, label, tuple(Observation(f, f / 30.0, Box(*b), 0.8, label) for f, b in sorted(boxes.items())))

    found = run(track30(7, "person", TWO_UP_AS_PERSON), track30(9, "motorcycle", TWO_UP_AS_MOTORCYCLE), line_y=380)
    assert [(v.track_id, v.frame_index) for v in found] == [(7, 112)]
