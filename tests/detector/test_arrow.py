"""Arrow heads, far heads and a head under its countdown, from real crops of the clips.

The repository keeps their labels (`eval/signals/crops.yaml`: clip, frame, box, colour, arrow,
checked by eye); the crops are cut from the videos in ../shared/clips when the tests load, so
without ../shared these skip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detector.arrow import read_arrow
from detector.light import SignalReader, is_dark, read_colour, read_head
from detector.signal_crops import SignalCrop, load_crop_set, yolo_signal_crops
from detector.types import Colour
from tests.conftest import SHARED

try:
    CROPS = {c.name: c for c in load_crop_set(Path(__file__).resolve().parents[2] / "eval" / "signals",
                                               SHARED / "clips")}  # fmt: skip
except FileNotFoundError as exc:
    CROPS = {}
    pytestmark = pytest.mark.skip(reason=f"the crops are cut from ../shared/clips: {exc}")


def crops(prefix: str) -> list[SignalCrop]:
    found = [c for name, c in sorted(CROPS.items()) if name.startswith(prefix)]
    assert found or not CROPS, f"no crop named {prefix}* in eval/signals"
    return found


LIT_RIGHT_ARROWS = [c for c in crops("vn_junction_rightarrow_right_arrow") if c.colour is Colour.GREEN]
DARK_ARROWS = [c for c in crops("vn_junction_rightarrow_right_arrow") if c.colour is Colour.DARK]


@pytest.mark.parametrize("crop", LIT_RIGHT_ARROWS, ids=lambda c: c.name)
def test_green_right_arrow_reads_green_and_right(crop):
    # a day CCTV arrow: white overexposed core in a green halo, 34x37 px head
    assert read_colour(crop.image)[0] is Colour.GREEN
    assert read_arrow(crop.image) == "right"


@pytest.mark.parametrize("crop", LIT_RIGHT_ARROWS[:2], ids=lambda c: c.name)
def test_the_same_arrow_turned_reads_its_new_direction(crop):
    mirrored = np.ascontiguousarray(crop.image[:, ::-1])
    assert read_arrow(mirrored) == "left"
    pointing_up = np.ascontiguousarray(np.rot90(crop.image))  # counter-clockwise: the head goes up
    assert read_arrow(pointing_up) == "straight"
    assert read_arrow(np.ascontiguousarray(np.rot90(crop.image, k=-1))) is None  # no lamp points down


@pytest.mark.parametrize("crop", DARK_ARROWS, ids=lambda c: c.name)
def test_an_arrow_that_is_off_reads_dark(crop):
    assert read_colour(crop.image) == (Colour.UNKNOWN, 0.0)  # no lamp lit...
    assert is_dark(crop.image)
    assert read_head(crop.image, "right") == (Colour.DARK, 1.0)  # ...on an arrow head: the arrow is off
    assert read_head(crop.image) == (Colour.UNKNOWN, 0.0)  # a round head that is out says nothing


def test_no_lit_head_reads_dark():
    # every lit crop: the 481 labelled heads of ../shared/images and the lit crops of the clips
    lit = [image for image, _ in yolo_signal_crops(SHARED / "images" / "vn_cctv_labels")]
    lit += [c.image for c in CROPS.values() if c.colour not in (Colour.DARK, Colour.UNKNOWN)]
    assert len(lit) > 400
    assert not [i for i, image in enumerate(lit) if is_dark(image)]


def test_glare_is_not_dark():
    glare = np.full((37, 34, 3), 70, np.uint8)
    glare[10:25, 8:26] = 250  # a white blot, no colour: glare or an overexposed core, not an arrow that is off
    assert not is_dark(glare)
    assert read_head(glare, "right")[0] is Colour.UNKNOWN


@pytest.mark.parametrize("crop", crops("us_fredmeyer_redlight_span_left"), ids=lambda c: c.name)
def test_arrow_too_small_to_see_has_no_direction(crop):
    # a 5 px red lamp that may be an arrow: its colour reads, its direction is not guessed
    assert read_colour(crop.image)[0] is Colour.RED
    assert read_arrow(crop.image) is None


@pytest.mark.parametrize("crop", crops("vn_hanoi_cuanam_dbp_near_main_with_countdown"), ids=lambda c: c.name)
def test_head_under_its_countdown_reads_the_lamp(crop):
    # the red / green two-digit countdown above the head is in the box; the lamp decides
    assert read_colour(crop.image)[0] is crop.colour
    assert read_arrow(crop.image) is None  # round lamps


@pytest.mark.parametrize("crop", crops("vn_hanoi_cuanam_dbp_far_left"), ids=lambda c: c.name)
def test_small_far_head_never_reads_a_wrong_colour(crop):
    # 10x26 px: red and green read; its amber (a 3 px orange blob) may be UNKNOWN, never another colour
    colour = read_colour(crop.image)[0]
    assert colour in (crop.colour, Colour.UNKNOWN)
    if crop.colour is not Colour.YELLOW:
        assert colour is crop.colour


def _frame(crop: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    frame = np.full((80, 80, 3), 90, np.uint8)
    h, w = crop.shape[:2]
    frame[10:10 + h, 10:10 + w] = crop
    return frame, (10, 10, 10 + w, 10 + h)


def test_reader_counts_an_arrow_heads_colour_only_on_its_own_arrow():
    frame, box = _frame(LIT_RIGHT_ARROWS[0].image)
    right = SignalReader([("a", box)], arrows={"a": "right"})
    left = SignalReader([("a", box)], arrows={"a": "left"})
    assert right.update(frame, 0, 0.0)["a"].colour is Colour.GREEN
    assert right.update(frame, 1, 0.1)["a"].arrow == "right"
    assert left.update(frame, 0, 0.0)["a"].colour is Colour.UNKNOWN  # a green RIGHT arrow says nothing of left turns


def test_an_arrow_going_off_reads_dark_like_any_change():
    lit, box = _frame(LIT_RIGHT_ARROWS[-1].image)
    dark, _ = _frame(DARK_ARROWS[0].image)
    reader = SignalReader([("a", box)], arrows={"a": "right"}, min_frames=2, unknown_after_s=2.0)
    states = [reader.update(img, i, i / 30) for i, img in enumerate([lit] * 3 + [dark] * 3 + [lit] * 2)]
    assert [s["a"].colour for s in states] == [Colour.GREEN] * 4 + [Colour.DARK] * 3 + [Colour.GREEN]
    assert states[5]["a"].since_frame == 3 and states[5]["a"].arrow is None  # dated from its first dark frame
    assert states[-1]["a"].arrow == "right"


def test_arrows_must_name_a_signal_and_a_direction():
    with pytest.raises(ValueError, match="arrows"):
        SignalReader([("a", (0, 0, 10, 10))], arrows={"b": "right"})
    with pytest.raises(ValueError, match="arrows"):
        SignalReader([("a", (0, 0, 10, 10))], arrows={"a": "up"})  # type: ignore[dict-item]
