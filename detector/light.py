"""Signal-head colour from the image: a per-crop reading plus per-signal hysteresis.

`read_colour` judges one crop of a signal head. A lit lamp is bright *and* coloured, an unlit
one dark or grey, so only bright, saturated pixels vote, each with its hue: red (wrapping
round 0/180), amber (~12-38) or green (~38-100, LED greens are often cyan-ish at ~85). At
night a lamp saturates to a near-white core whose colour only shows in the halo around it;
the core has no saturation and does not vote, the halo does. Red and amber overlap around
hue 4-12 (a saturated red LED drifts to orange, some amber LEDs sit at ~12), so two more cues
split them: crimson (hue >= 150 or < 4) only ever comes from red lamps and counts extra, and
in an elongated head (row or column of lamps, told by the box's aspect ratio) a lamp in the
middle is amber while one at either end is not. Where the cues leave it unsure (two colours
nearly tie, amber at an end with no red rim on a head wide enough to show one) it says UNKNOWN:
a wrong colour makes false reports and hides real ones, UNKNOWN only stops enforcing.

`SignalReader` crops every configured head from each frame, filters the raw readings so one
odd frame does not change the state, and remembers when the current colour began. It also
knows the cycle (green goes to red only through amber) and arrow heads (`detector/arrow.py`,
`read_head`): a lit arrow counts only as the arrow the scene names, and an arrow with nothing lit
reads DARK.
Its state is a few fields per head, whatever the length of the stream.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from detector.arrow import read_arrow
from detector.types import Arrow, Colour, LightState

_COLOURS = (Colour.RED, Colour.YELLOW, Colour.GREEN)

# OpenCV hue (0..180) bands. Red wraps around 0. Crimson (>= 150 or < 4) only comes from red
# lamps; orange (4..12) comes from saturated red and from some amber lamps alike.
_CRIMSON_BELOW = 4
_CRIMSON_ABOVE = 150
_ORANGE_BELOW = 12
_AMBER_BELOW = 38
_GREEN_BELOW = 100
_CRIMSON_BOOST = 6.0  # a little crimson in the halo outweighs much orange: amber never shows it

_MIN_SIDE = 24  # tiny crops are upscaled towards this...
_MAX_SIDE = 96  # ...and big ones shrunk to it: beyond it pixels add time, not information
_MIN_PEAK_V = 110  # nothing brighter than this: no lamp is lit
_MIN_LAMP_CHROMA = 45  # a lit lamp has some strongly coloured pixels; grey housing and bridges don't
_MIN_CONTRAST = 45  # the lit lamp outshines the crop's median brightness...
_GLOW_CHROMA = 90  # ...or, in a crop of the lamp alone, glows in a strong colour
_MIN_CHROMA = 28  # below this a pixel is grey/white: its hue means nothing
_LIT_FRACTION = 0.35  # pixels at least this bright relative to the crop's peak may vote...
_VOTE_FRACTION = 0.7  # ...if their saturation is at least this share of the crop's top one
_ELONGATED = 1.5  # aspect ratio from which the crop is taken as a row / column of lamps
_POSITION_WEIGHT = 0.6  # how far the lamp's place can tip a split between red and amber
_MIN_SHARE = 0.5  # the winning colour must hold this share of the evidence...
_MIN_MARGIN = 0.1  # ...and this much more than the next colour
_NEAR_FRACTION = 0.1  # a lamp's white core touches its coloured votes within this share of the short side
_MIN_RIM = 0.005  # crimson share of the votes (above noise) that makes end-lamp amber an overexposed red
_SMALL_SIDE = 16  # heads narrower than this (in the frame) are far heads: a lamp is 3-5 px
_CORE_FRACTION = 0.9  # pixels this bright relative to the peak are the lit lamp's core
_END_PLACE = 0.25  # a lit area whose middle-ness (0 = an end lamp, 1 = the middle one) is at most this is an end lamp
_MIDDLE_PLACE = 0.75  # ...and at least this, the middle lamp
_DARK_PEAK_V = 200  # a dark head has nothing near white (an overexposed lit lamp's core is)...
_DARK_CHROMA = 28  # ...and no pixel of any colour: every lit lamp, by day or night, has a coloured halo


def read_colour(crop: np.ndarray) -> tuple[Colour, float]:
    """Read which lamp of a signal head is lit.

    Args:
        crop: BGR (or BGRA) uint8 image of one signal head, all lamps inside.

    Returns:
        The colour and a confidence in 0..1; ``(Colour.UNKNOWN, 0.0)`` when no lamp is
        clearly lit.
    """
    bgr = _as_bgr(crop, "crop")
    if bgr.shape[0] < 2 or bgr.shape[1] < 2:
        return Colour.UNKNOWN, 0.0
    evidence = _lamp_evidence(_resize(bgr))
    if evidence is None:
        return Colour.UNKNOWN, 0.0
    raw, strength, middle, crimson = evidence
    shares = raw if middle is None else _by_place(raw, middle, crimson, small=min(bgr.shape[:2]) < _SMALL_SIDE)
    if shares is None:
        return Colour.UNKNOWN, 0.0
    order = np.argsort(shares[:3])
    best, second = int(order[-1]), int(order[-2])
    if shares[best] < _MIN_SHARE or shares[best] - shares[second] < _MIN_MARGIN:
        return Colour.UNKNOWN, 0.0  # two colours nearly tie: either may be wrong
    return _COLOURS[best], round(float(shares[best]) * (0.5 + 0.5 * strength), 3)


def is_dark(crop: np.ndarray) -> bool:
    """No lamp of the head is lit: nothing in the crop near white, and no coloured pixel at all.

    Stricter than `read_colour` finding no lamp: a dull lamp, a glint or glare that it does not
    read as a colour is not dark either, it is unread (the reader says UNKNOWN).
    """
    bgr = _resize(_as_bgr(crop, "crop"))
    if bgr.shape[0] < 2 or bgr.shape[1] < 2:
        return False
    value = bgr.max(axis=2).astype(np.float32)
    chroma = value - bgr.min(axis=2)
    return _percentile(value, 99) < _DARK_PEAK_V and _percentile(chroma, 99) < _DARK_CHROMA


def read_head(crop: np.ndarray, arrow: Arrow | None = None) -> tuple[Colour, float]:
    """Read one head: `read_colour` for round lamps; for an arrow head (`arrow`: the way its
    lamp points), the colour only while the lit shape reads as that arrow (another arrow, or a
    shape that can't be told, is UNKNOWN), and DARK when nothing is lit (`is_dark`)."""
    colour, confidence = read_colour(crop)
    if arrow is None:
        return colour, confidence
    if colour is Colour.UNKNOWN:
        return (Colour.DARK, 1.0) if is_dark(crop) else (Colour.UNKNOWN, 0.0)
    if read_arrow(crop) != arrow:
        return Colour.UNKNOWN, 0.0  # lit, but not the arrow this head shows
    return colour, confidence


def _by_place(shares: np.ndarray, middle: float, crimson: float, small: bool) -> np.ndarray | None:
    """Reconcile the lit lamp's hue with its place in a row / column of three lamps.

    Amber sits in the middle of every three-lamp head; red and green at the ends. An overexposed
    red lamp's core saturates to orange, yellow or white with only a red rim (a day CCTV camera,
    the far heads of US mast arms), so amber-hued light at an end of the housing is a red lamp:
    green is never orange. On a small far head (under `_SMALL_SIDE` px across, where a few pixels
    of glow blur the lamps together), amber light between the middle and an end may be either:
    the reader says UNKNOWN rather than a colour that may be wrong.

    On a head wide enough to resolve it, the overexposed red lamp keeps a crimson rim (`crimson`,
    its share of the votes); amber light at an end with no crimson at all is not explained by
    either lamp (a bright hood or glint put the core at the end, or the box is not the whole
    head): UNKNOWN. On a far head the rim blurs away, and the place decides alone.
    """
    shares = shares.copy()
    if middle <= _END_PLACE:
        if not small and int(np.argmax(shares[:3])) == 1 and crimson < _MIN_RIM:
            return None
        shares[0] += shares[1]
        shares[1] = 0.0
    elif small and middle < _MIDDLE_PLACE and int(np.argmax(shares[:3])) == 1:
        return None  # amber light neither clearly in the middle nor at an end of a far head
    return shares


def _lamp_evidence(bgr: np.ndarray) -> tuple[np.ndarray, float, float | None, float] | None:
    """Shares of red, amber, green and other light in a crop, how strongly it glows (0..1), how
    near the middle of an elongated housing the lit area is (None: a squarish crop), and the
    share of crimson among the votes.

    None when nothing in the crop looks like a lit lamp.
    """
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    value = hsv[..., 2].astype(np.float32)
    b, g, r = bgr[..., 0], bgr[..., 1], bgr[..., 2]
    chroma = np.maximum(np.maximum(b, g), r).astype(np.float32) - np.minimum(np.minimum(b, g), r)
    peak = _percentile(value, 99)
    if peak < _MIN_PEAK_V:
        return None
    lit = value >= _LIT_FRACTION * peak
    chroma_peak = _percentile(chroma[lit], 99)
    contrast = peak - _percentile(value, 50)
    if chroma_peak < _MIN_LAMP_CHROMA or (contrast < _MIN_CONTRAST and chroma_peak < _GLOW_CHROMA):
        return None
    # Votes: bright, coloured pixels about as saturated as the crop's most saturated ones.
    # Saturation rather than chroma, so a pale sky behind a dull red lamp can't outvote it.
    sat = hsv[..., 1].astype(np.float32)
    coloured = lit & (chroma >= _MIN_CHROMA)
    votes = coloured & (sat >= _VOTE_FRACTION * _percentile(sat[coloured], 99))
    weight = chroma[votes] * sat[votes]
    shares, crimson = _hue_shares(hsv[..., 0][votes], weight)
    # where the lamp is: its brightest pixels (an overexposed core is white, its colour only in
    # a faint rim, and on a 10 px head the coloured rim spills over the unlit lamps beside it),
    # but only next to the coloured light: a glint on an unlit lens, a bright hood or the sky
    # behind a far head is brighter than a dull lamp and is not where the lamp is
    core = _touching(value >= _CORE_FRACTION * peak, cv2.dilate(votes.astype(np.uint8), _kernel(bgr.shape[:2])) > 0)
    middle = _middleness(core, value[core])
    if middle is not None:
        prior = np.array([1.0 - middle, middle, 1.0 - middle])
        shares[:3] *= 1.0 - _POSITION_WEIGHT + _POSITION_WEIGHT * prior
    return shares / shares.sum(), min(1.0, max(contrast, chroma_peak) / 128.0), middle, crimson


def _touching(mask: np.ndarray, near: np.ndarray) -> np.ndarray:
    """The connected blobs of `mask` that reach into `near` (all of `mask` if none does)."""
    _, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    keep = np.unique(labels[mask & near])
    keep = keep[keep > 0]
    return np.isin(labels, keep) if keep.size else mask


def _kernel(shape: tuple[int, ...]) -> np.ndarray:
    """A disc about a tenth of the crop's short side: how far an overexposed core reaches from
    the coloured rim around it."""
    radius = max(1, round(min(shape[:2]) * _NEAR_FRACTION))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _percentile(values: np.ndarray, q: float) -> float:
    """`np.percentile(values, q)` (linear interpolation), by partial sort: np.percentile costs
    about 60 us on a lamp-sized crop, 10x this, and runs three times per signal per frame."""
    flat = values.ravel()
    pos = q / 100.0 * (flat.size - 1)
    lo = int(pos)
    hi = min(lo + 1, flat.size - 1)
    part = np.partition(flat, (lo, hi)) if hi != lo else np.partition(flat, lo)
    return float(part[lo] + (pos - lo) * (part[hi] - part[lo]))


def _as_bgr(image: np.ndarray, what: str) -> np.ndarray:
    """The BGR channels of an OpenCV image, or a ValueError that says what was wrong."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError(f"{what} must be a uint8 numpy array (BGR, as OpenCV decodes), got {type(image).__name__}"
                         f" of dtype {getattr(image, 'dtype', None)}")
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"{what} must have shape (height, width, 3) in BGR order, got {image.shape}")
    return image if image.shape[2] == 3 else np.ascontiguousarray(image[..., :3])


def _resize(bgr: np.ndarray) -> np.ndarray:
    """Upscale tiny crops so halo and core get pixels of their own; shrink big ones for speed."""
    short, long = sorted(bgr.shape[:2])
    if short < _MIN_SIDE:
        scale = min(math.ceil(_MIN_SIDE / short), max(1, _MAX_SIDE // long))
        return cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    if short > _MAX_SIDE:
        scale = _MAX_SIDE / short
        return cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return bgr


def _hue_shares(hue: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, float]:
    """Evidence for red, amber, green and any other hue (sky, signs) among the voting pixels,
    and the share of crimson among them."""
    crimson = (hue < _CRIMSON_BELOW) | (hue >= _CRIMSON_ABOVE)
    orange = (hue >= _CRIMSON_BELOW) & (hue < _ORANGE_BELOW)
    amber = (hue >= _ORANGE_BELOW) & (hue < _AMBER_BELOW)
    green = (hue >= _AMBER_BELOW) & (hue < _GREEN_BELOW)
    other = ~(crimson | orange | amber | green)
    total = float(weight.sum())
    crimson_w, orange_w, amber_w, green_w, other_w = (float(weight[m].sum()) / total for m in
                                                      (crimson, orange, amber, green, other))
    red = min(1.0, _CRIMSON_BOOST * crimson_w) + orange_w / 2
    return np.array([red, amber_w + orange_w / 2, green_w, other_w], dtype=np.float64), crimson_w


def _middleness(votes: np.ndarray, weight: np.ndarray) -> float | None:
    """How near the middle of an elongated housing the lit area is: 1 in the middle (amber's
    place), 0 at either end (red's and green's).

    Returns None for a squarish crop (a single lamp, or a head whose layout can't be told).
    """
    height, width = votes.shape
    if height >= _ELONGATED * width:
        axis, length = 0, height
    elif width >= _ELONGATED * height:
        axis, length = 1, width
    else:
        return None
    coords = np.nonzero(votes)[axis].astype(np.float64)
    where = float((coords + 0.5) @ weight / weight.sum()) / length  # 0 = top/left, 1 = bottom/right
    # Ends, not top-vs-bottom: red and green differ in hue anyway, and horizontal heads put
    # red on the left in some countries and on the right in others.
    return max(0.0, 1.0 - abs(where - 0.5) * 3.0)


@dataclass(slots=True)
class _Track:
    """Filter state of one signal head: the held colour and the streak that may replace it."""

    box: tuple[int, int, int, int]
    arrow: Arrow | None = None  # the way the head's arrow lamp points; None: round lamps
    state: LightState | None = None
    candidate: Colour | None = None
    candidate_count: int = 0
    candidate_since: tuple[float, int] = (0.0, 0)
    unknown_since: tuple[float, int] | None = None
    last_green: float | None = None  # when green was last read in a green state, no amber read since


class SignalReader:
    """Reads every configured signal head in each frame, with hysteresis.

    Args:
        signals: ``(signal_id, (x1, y1, x2, y2))`` per head, in pixels of the frames given
            to :meth:`update`; boxes may reach past the frame edge.
        min_frames: consecutive raw readings of a new colour needed before it replaces the
            current one.
        unknown_after_s: how long raw readings must stay unknown before the state becomes
            ``Colour.UNKNOWN``; shorter gaps keep the current colour when it comes back after
            them (a flickering LED, a passing truck). A gap followed by another colour was a
            change: the state turns UNKNOWN, dated from the gap's start, as soon as that colour
            is read, so the timeline never holds the old colour over a phase it did not see.
        min_amber_s: a head goes from green to red through amber, for at least this long. Red
            read sooner after green, with no amber read between, is an amber misread (a far
            head's amber lamp looks orange-red) or an amber not seen: UNKNOWN, not red.
        arrows: signal id -> the way its arrow lamp points, for heads of arrow lamps. A colour
            read on such a head counts only when the lit shape reads as that arrow
            (`detector.arrow.read_arrow`); another arrow, or a shape that can't be told, is UNKNOWN.
            An arrow lamp goes dark as part of its cycle: with nothing lit it reads DARK
            (`read_head`), a state like a colour, which the rules take as "this movement follows
            the line's own head".
    """

    def __init__(
        self,
        signals: Sequence[tuple[str, tuple[float, float, float, float]]],
        *,
        min_frames: int = 2,
        unknown_after_s: float = 2.0,
        min_amber_s: float = 3.0,
        arrows: Mapping[str, Arrow] | None = None,
    ) -> None:
        if min_frames < 1:
            raise ValueError(f"min_frames must be >= 1 (1 = no hysteresis), got {min_frames}")
        if not unknown_after_s >= 0.0:
            raise ValueError(f"unknown_after_s must be >= 0 seconds, got {unknown_after_s}")
        if not min_amber_s >= 0.0:
            raise ValueError(f"min_amber_s must be >= 0 seconds (0: off), got {min_amber_s}")
        self.min_frames = min_frames
        self.unknown_after_s = unknown_after_s
        self.min_amber_s = min_amber_s
        self._tracks: dict[str, _Track] = {}
        for signal_id, box in signals:
            if signal_id in self._tracks:
                raise ValueError(f"signal ids must be unique, {signal_id!r} appears twice")
            self._tracks[signal_id] = _Track(_pixel_box(signal_id, box))
        for signal_id, arrow in (arrows or {}).items():
            if signal_id not in self._tracks or arrow not in ("left", "right", "straight"):
                raise ValueError(f"arrows: {signal_id!r}: {arrow!r} must name a configured signal and one of "
                                 f"left, right, straight")
            self._tracks[signal_id].arrow = arrow

    def update(self, frame: np.ndarray, frame_index: int, timestamp: float) -> dict[str, LightState]:
        """Read every signal in this frame and return its filtered state per signal id.

        ``LightState.since`` / ``since_frame`` are the timestamp / frame index of the first raw
        reading of the current colour, not of the frame where it was confirmed.
        """
        bgr = _as_bgr(frame, "frame")
        states = {}
        for signal_id, track in self._tracks.items():
            colour, confidence = read_head(_crop(bgr, track.box), track.arrow)
            colour, confidence = self._in_phase_order(track, colour, confidence, timestamp)
            states[signal_id] = self._step(signal_id, track, colour, confidence, frame_index, timestamp)
        return states

    def _in_phase_order(self, track: _Track, colour: Colour, confidence: float,
                        timestamp: float) -> tuple[Colour, float]:
        if colour is Colour.GREEN:
            if track.state is not None and track.state.colour is Colour.GREEN:
                track.last_green = timestamp  # a green phase; not one green frame flickering in red
        elif colour is Colour.YELLOW:
            track.last_green = None
        elif colour is Colour.RED and track.last_green is not None:
            if timestamp - track.last_green < self.min_amber_s - 1e-9:
                return Colour.UNKNOWN, 0.0  # red straight after green: no head skips its amber
            track.last_green = None
        return colour, confidence

    def _step(self, signal_id: str, track: _Track, colour: Colour, confidence: float,
              frame_index: int, timestamp: float) -> LightState:
        now = (timestamp, frame_index)
        state = track.state
        if state is None or colour == state.colour:
            since = now if state is None else (state.since, state.since_frame)
            track.state = LightState(signal_id, colour, confidence, since[0], since[1], _arrow(track, colour))
            track.candidate, track.candidate_count, track.unknown_since = None, 0, None
        elif colour == Colour.UNKNOWN:
            track.candidate, track.candidate_count = None, 0
            if track.unknown_since is None:
                track.unknown_since = now
            if timestamp - track.unknown_since[0] >= self.unknown_after_s - 1e-9:  # float timestamps
                start = track.unknown_since
                track.state = LightState(signal_id, Colour.UNKNOWN, 0.0, start[0], start[1])
        else:
            if track.unknown_since is not None and state.colour is not Colour.UNKNOWN:
                # unreadable, then another colour: the gap was a change (an amber too faint to
                # read, a lamp fading), not a flicker of the held colour, which it must not keep
                start = track.unknown_since
                track.state = LightState(signal_id, Colour.UNKNOWN, 0.0, start[0], start[1])
            track.unknown_since = None
            if colour != track.candidate:
                track.candidate, track.candidate_count, track.candidate_since = colour, 0, now
            track.candidate_count += 1
            if track.candidate_count >= self.min_frames:
                start = track.candidate_since
                track.state = LightState(signal_id, colour, confidence, start[0], start[1], _arrow(track, colour))
                track.candidate, track.candidate_count = None, 0
        assert track.state is not None  # set by the first reading
        return track.state


def _arrow(track: _Track, colour: Colour) -> Arrow | None:
    return track.arrow if colour in _COLOURS else None


def _pixel_box(signal_id: str, box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    values = tuple(float(v) for v in box)
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"signal {signal_id!r}: box must be 4 finite numbers x1, y1, x2, y2, got {box}")
    x1, y1, x2, y2 = values
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"signal {signal_id!r}: box needs x1 < x2 and y1 < y2, got {box}")
    return math.floor(x1), math.floor(y1), math.ceil(x2), math.ceil(y2)


def _crop(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The box's pixels; parts outside the frame are black, so lamp positions keep their place."""
    x1, y1, x2, y2 = box
    height, width = frame.shape[:2]
    if x1 >= 0 and y1 >= 0 and x2 <= width and y2 <= height:
        return frame[y1:y2, x1:x2]
    out = np.zeros((y2 - y1, x2 - x1, 3), dtype=np.uint8)
    ix1, iy1, ix2, iy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
    if ix1 < ix2 and iy1 < iy2:
        out[iy1 - y1:iy2 - y1, ix1 - x1:ix2 - x1] = frame[iy1:iy2, ix1:ix2]
    return out
