"""Signal-head colour: raw readings on synthetic and real crops, and the hysteresis filter."""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
import pytest
import yaml

from detector.light import SignalReader, read_colour
from detector.signal_crops import YOLO_COLOURS, yolo_signal_crops
from detector.types import Colour
from tests.conftest import SHARED  # ../shared, or TRAFFICCAM_SHARED

HANOI = SHARED / "clips" / "hanoi_ltk_hangbai"
VN_LABELS = SHARED / "images" / "vn_cctv_labels"
FPS = 10.0

# BGR of a lit lamp of each colour: a red LED, an amber one, a bluish-green one
LAMP_BGR = {Colour.RED: (40, 30, 235), Colour.YELLOW: (0, 160, 255), Colour.GREEN: (170, 235, 0)}
LAMP_ORDER = (Colour.RED, Colour.YELLOW, Colour.GREEN)


def make_head(lit: Colour | None, *, size: tuple[int, int] = (40, 100), night: bool = False,
              vertical: bool = True) -> np.ndarray:
    """A 3-lamp signal head (red, amber, green from top / left); `lit` None = all lamps off."""
    big = np.full((300, 120, 3), 35, np.uint8)  # dark housing, drawn large then shrunk
    for i, colour in enumerate(LAMP_ORDER):
        centre = (60, 50 + 100 * i)
        if colour != lit:
            cv2.circle(big, centre, 38, (55, 55, 55), -1)
        elif night:  # sensor saturates: near-white core, colour only in the halo
            cv2.circle(big, centre, 46, LAMP_BGR[colour], -1)
            cv2.circle(big, centre, 30, (250, 250, 250), -1)
        else:
            cv2.circle(big, centre, 38, LAMP_BGR[colour], -1)
    if not vertical:
        big = np.ascontiguousarray(np.rot90(big, k=-1)[:, ::-1])  # red left, green right
    width, height = size if vertical else size[::-1]
    return cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA)


BOX = (60, 20, 80, 70)  # where make_frame puts a 20x50 head


def make_frame(lit: Colour | None) -> np.ndarray:
    frame = np.full((120, 160, 3), 90, np.uint8)
    x1, y1, x2, y2 = BOX
    frame[y1:y2, x1:x2] = make_head(lit, size=(x2 - x1, y2 - y1))
    return frame


def run(reader: SignalReader, sequence: list[Colour | None], start: int = 0):
    """Feed one synthetic frame per entry; return the state of signal "main" after each."""
    states = []
    for i, lit in enumerate(sequence, start=start):
        states.append(reader.update(make_frame(lit), i, i / FPS)["main"])
    return states


R, Y, G, OFF = Colour.RED, Colour.YELLOW, Colour.GREEN, None


# ---- raw readings on synthetic heads ---------------------------------------------------------


@pytest.mark.parametrize("lit", LAMP_ORDER)
@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # daylight, 40x100 px
        {"night": True},  # white core, coloured halo
        {"size": (10, 23)},  # as small as the Hanoi far repeater
        {"size": (10, 23), "night": True},
        {"vertical": False},  # horizontal head
    ],
)
def test_read_colour_synthetic_heads(lit, kwargs):
    colour, confidence = read_colour(make_head(lit, **kwargs))
    assert colour == lit
    assert 0.5 <= confidence <= 1.0


@pytest.mark.parametrize("crop", [make_head(None), np.full((50, 20, 3), 35, np.uint8), np.zeros((0, 5, 3), np.uint8)])
def test_read_colour_unknown_when_nothing_lit(crop):
    assert read_colour(crop) == (Colour.UNKNOWN, 0.0)


def test_read_colour_rejects_non_bgr_input():
    with pytest.raises(ValueError, match="uint8"):
        read_colour(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match="BGR"):
        read_colour(np.zeros((10, 10), np.uint8))


# ---- hysteresis ------------------------------------------------------------------------------


def test_first_reading_is_taken_as_the_state():
    states = run(SignalReader([("main", BOX)]), [G])
    assert (states[0].colour, states[0].since_frame, states[0].since) == (G, 0, 0.0)


def test_one_flickering_frame_does_not_change_the_state():
    states = run(SignalReader([("main", BOX)]), [R, R, R, G, R, R, Y, R])
    assert [s.colour for s in states] == [R] * 8
    assert {s.since_frame for s in states} == {0}


def test_new_colour_since_is_its_first_frame_not_the_confirming_one():
    states = run(SignalReader([("main", BOX)], min_frames=3), [R, R, G, G, G, G], start=100)
    assert [s.colour for s in states] == [R, R, R, R, G, G]
    assert states[4].since_frame == 102  # green first read at 102, confirmed at 104
    assert states[4].since == pytest.approx(10.2)


def test_short_unknown_keeps_the_state():
    # 1.5 s of dark lamps at 10 fps, shorter than unknown_after_s=2
    states = run(SignalReader([("main", BOX)], unknown_after_s=2.0), [R] * 3 + [OFF] * 15 + [R] * 2)
    assert [s.colour for s in states] == [R] * 20
    assert states[-1].since_frame == 0


def test_long_unknown_becomes_unknown_then_recovers():
    reader = SignalReader([("main", BOX)], unknown_after_s=1.0)
    states = run(reader, [R] * 3 + [OFF] * 12 + [G] * 3)
    colours = [s.colour for s in states]
    assert colours[:13] == [R] * 13  # off from frame 3; still red until 1 s of unknown has passed
    assert colours[13:16] == [Colour.UNKNOWN] * 3
    assert (states[13].since_frame, states[13].since) == (3, pytest.approx(0.3))
    assert colours[16:] == [G, G]  # green again after min_frames=2 readings, dated from frame 15
    assert states[-1].since_frame == 15


def test_unknown_between_readings_breaks_the_streak():
    states = run(SignalReader([("main", BOX)], min_frames=2), [R, G, OFF, G, G])
    # green after a gap: the gap was a change, so red is not held over it (UNKNOWN from frame 2)
    assert [s.colour for s in states] == [R, R, R, Colour.UNKNOWN, G]
    assert states[3].since_frame == 2
    assert states[-1].since_frame == 3


def test_red_straight_after_green_is_unknown_until_an_amber_could_have_passed():
    # a far head's amber read as red (Cua Nam's 10x26 px repeaters): green never goes straight to red
    reader = SignalReader([("main", BOX)], min_frames=2, min_amber_s=1.0)
    states = run(reader, [G] * 3 + [R] * 15)
    colours = [s.colour for s in states]
    assert Colour.RED not in colours[:13]  # red read from 0.3 s, within 1 s of the last green
    assert colours[-1] is R and states[-1].since_frame == 12  # first red read 1 s after the last green


def test_red_after_amber_is_red_at_once():
    states = run(SignalReader([("main", BOX)], min_frames=2, min_amber_s=3.0), [G, G, Y, Y, R, R])
    assert [s.colour for s in states] == [G, G, G, Y, Y, R]
    assert states[-1].since_frame == 4


def test_gap_then_the_same_colour_is_a_flicker():
    states = run(SignalReader([("main", BOX)], min_frames=2), [R, R, OFF, OFF, R, R])
    assert [s.colour for s in states] == [R] * 6
    assert {s.since_frame for s in states} == {0}


def test_box_partly_or_wholly_outside_the_frame():
    frame = make_frame(R)
    signals = [("left", (-30, 10, 15, 60)), ("corner", (150, 110, 190, 170)), ("outside", (300, 300, 320, 350)),
               ("main", BOX)]
    states = SignalReader(signals).update(frame, 0, 0.0)
    assert states["outside"].colour == Colour.UNKNOWN
    assert states["main"].colour == R
    # a head cut by the frame edge is still read from what is visible
    clipped = np.full((120, 160, 3), 90, np.uint8)
    clipped[20:70, 0:12] = make_head(G, size=(20, 50))[:, 8:]
    assert SignalReader([("edge", (-8, 20, 12, 70))]).update(clipped, 0, 0.0)["edge"].colour == G


@pytest.mark.parametrize(
    "signals, kwargs, message",
    [
        ([("a", (0, 0, 10, 20)), ("a", (5, 5, 15, 25))], {}, "unique"),
        ([("a", (10, 0, 5, 20))], {}, "x1 < x2"),
        ([("a", (0, 0, float("nan"), 20))], {}, "finite"),
        ([("a", (0, 0, 10, 20))], {"min_frames": 0}, "min_frames"),
        ([("a", (0, 0, 10, 20))], {"unknown_after_s": -1.0}, "unknown_after_s"),
        ([("a", (0, 0, 10, 20))], {"min_amber_s": -1.0}, "min_amber_s"),
    ],
)
def test_bad_configuration_is_refused(signals, kwargs, message):
    with pytest.raises(ValueError, match=message):
        SignalReader(signals, **kwargs)


# ---- the Hanoi clip (../shared) --------------------------------------------------------------


def _truth_colour(timeline: list[dict], frame: int) -> Colour:
    return Colour([seg["colour"] for seg in timeline if seg["start_frame"] <= frame][-1])


@pytest.fixture(scope="module")
def hanoi():
    """Run the reader over the whole clip once; keep the filtered states and three raw frames."""
    video = HANOI / "16h30.25.9.22.mp4"
    if not video.exists():
        pytest.skip(f"shared test data not found at {HANOI} (expected ../shared beside the repo)")
    scene = yaml.safe_load((HANOI / "scene.yaml").read_text())
    truth = yaml.safe_load((HANOI / "truth.yaml").read_text())
    boxes = {s["id"]: tuple(s["box"]) for s in scene["signals"]}
    reader = SignalReader(list(boxes.items()))
    capture = cv2.VideoCapture(str(video))
    states, kept = [], {}
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        index = len(states)
        if index in (1, 100, 300):
            kept[index] = frame
        states.append(reader.update(frame, index, index / truth["fps"]))
    capture.release()
    return {"boxes": boxes, "truth": truth["signals"], "states": states, "frames": kept}


@pytest.mark.parametrize("frame, expected", [(1, Colour.YELLOW), (100, Colour.RED), (300, Colour.GREEN)])
@pytest.mark.parametrize("signal_id", ["near_right_main", "far_right_repeater"])
def test_hanoi_crops_read_right(hanoi, frame, expected, signal_id):
    x1, y1, x2, y2 = hanoi["boxes"][signal_id]
    colour, _ = read_colour(hanoi["frames"][frame][y1:y2, x1:x2])
    assert colour == expected


@pytest.mark.parametrize("signal_id", ["near_right_main", "far_right_repeater"])
def test_hanoi_timeline_agrees_with_truth(hanoi, signal_id):
    states = [s[signal_id] for s in hanoi["states"]]
    timeline = hanoi["truth"][signal_id]
    agree = np.mean([s.colour == _truth_colour(timeline, i) for i, s in enumerate(states)])
    assert agree >= 0.97, f"{signal_id}: filtered timeline agrees with truth.yaml on {agree:.3f} of frames"
    # measured 0.995: the 1-frame confirmation lag at 3 and 255 (min_frames=2) is the only miss
    green_start = next(seg["start_frame"] for seg in timeline if seg["colour"] == "green")
    assert states[-1].colour == Colour.GREEN
    assert abs(states[-1].since_frame - green_start) <= 1


# ---- labelled Vietnamese CCTV crops (../shared) ----------------------------------------------

@pytest.fixture(scope="module")
def vn_results():
    if not (VN_LABELS / "labels").is_dir():
        pytest.skip(f"shared test data not found at {VN_LABELS} (expected ../shared beside the repo)")
    results: dict[Colour, Counter] = {c: Counter() for c in YOLO_COLOURS.values()}
    for crop, truth in yolo_signal_crops(VN_LABELS):
        results[truth][read_colour(crop)[0]] += 1
    return results


# measured on this set: green 0.958 (n=189), red 0.945 (n=220), yellow 0.778 (n=72), 3 of 481 read
# another colour (issue 18, second round: 0.958 / 0.941 / 0.778 and 9 before); most misses are
# UNKNOWN on label boxes that hold no lit lamp (countdown digits,
# blank 10x11 px boxes). Yellow was 0.847 before issue 18: amber light on a head under 16 px
# across that is neither clearly in the middle lamp nor at an end now reads UNKNOWN (on the far
# US heads it was an overexposed red read as amber on 55-99% of frames), and amber light at the
# end of an elongated crop now reads red (2 labelled amber crops; 0.28 -> 0.999 on the
# overexposed Vietnamese round head), so the yellow floor went from 0.80 to 0.75.
@pytest.mark.parametrize("colour, floor", [(Colour.GREEN, 0.93), (Colour.RED, 0.92), (Colour.YELLOW, 0.75)])
def test_vn_cctv_accuracy_per_colour(vn_results, colour, floor):
    counts = vn_results[colour]
    accuracy = counts[colour] / sum(counts.values())
    assert accuracy >= floor, f"{colour.value}: {accuracy:.3f} right, readings {dict(counts)}"


def test_vn_cctv_wrong_colours_are_rare(vn_results):
    """Calling a lit lamp the wrong colour is worse than UNKNOWN: it could make a red-light case."""
    total = sum(sum(c.values()) for c in vn_results.values())
    wrong = sum(n for truth, c in vn_results.items() for got, n in c.items() if got not in (truth, Colour.UNKNOWN))
    # measured 3 of 481 (0.6%; 9, 1.9%, before issue 18's second round): a green 15x19 crop whose
    # lamp is a few teal pixels beside orange ones, a blank 10x11 box, and a box on a rider in red
    assert wrong / total <= 0.01, f"{wrong} of {total} crops read as another colour"


@pytest.mark.parametrize("size", [1, 2, 3, 50, 951])
def test_fast_percentile_is_numpys_linear_percentile(size):
    from detector.light import _percentile

    rng = np.random.default_rng(size)
    values = rng.integers(0, 256, size).astype(np.float32)
    for q in (0, 50, 99, 100):
        assert _percentile(values, q) == pytest.approx(float(np.percentile(values, q)), abs=1e-4)


# ---- heads that read a wrong colour before (issue 18), cut from the shared clips at run time ----
# Boxes and colours checked by eye (eval/clips/<clip>/truth.yaml has the full timelines):
# vn_junction_rightarrow: a day CCTV feed whose red lamp is overexposed to an orange-yellow core
# with a red rim (read as amber before: 0.28 agreement), and a separate green right-turn ARROW
# head, lit until frame 737; us_cspr003_redlight: far mast-arm heads 9-11 px wide whose red lamp
# is a white core (read as amber on 55-99% of frames before).
FAR_AND_ARROW_HEADS = [
    ("vn_junction_rightarrow", "test2.mp4", "main_round_overexposed_red", (1545, 20, 1577, 103), Colour.RED, 730),
    ("vn_junction_rightarrow", "test2.mp4", "right_arrow_green", (1548, 115, 1582, 152), Colour.GREEN, 730),
    ("us_cspr003_redlight", "demo1.mp4", "small_far_head_mast_4_11x18", (452, 20, 463, 38), Colour.RED, 298),
    ("us_cspr003_redlight", "demo1.mp4", "small_far_head_pole_right_9x20", (542, 62, 551, 82), Colour.RED, 298),
]


@pytest.mark.parametrize(("clip", "video", "name", "box", "colour", "until"), FAR_AND_ARROW_HEADS,
                         ids=[h[2] for h in FAR_AND_ARROW_HEADS])
def test_hard_heads_never_read_a_wrong_colour(clip, video, name, box, colour, until):
    path = SHARED / "clips" / clip / video
    if not path.exists():
        pytest.skip(f"shared test data not found at {path} (expected ../shared beside the repo)")
    capture = cv2.VideoCapture(str(path))
    # the filtered state, as the rules read it; the arrow head as its scene declares it (`arrow: right`)
    reader = SignalReader([(name, box)], arrows={name: "right"} if name.startswith("right_arrow") else None)
    readings: Counter = Counter()
    for index in range(until):
        ok, frame = capture.read()
        if not ok:
            break
        readings[reader.update(frame, index, index / 30.0)[name].colour] += 1
    capture.release()
    total = sum(readings.values())
    wrong = sum(n for c, n in readings.items() if c not in (colour, Colour.UNKNOWN))
    assert total > 0
    assert wrong / total <= 0.01, f"{name}: {dict(readings)}"
    assert readings[colour] / total >= 0.9, f"{name}: {dict(readings)}"
