"""Which way a lit arrow lamp points, from the shape of its brightest light.

An arrow lamp's lit shape is a shaft with a head at one end: the head is two to three times as
thick, across the shaft, as the shaft itself. So the reader takes the brightest connected blob of
the crop (an overexposed arrow is a white core in a coloured halo, an LED arrow its lit LEDs),
finds its long axis (horizontal: left or right; vertical: straight on), and puts the head at the
end that is clearly thicker. A blob too small to have a shape, a squarish one (a round lamp, or an
arrow blurred into a disc) or one with no clearly thicker end reads None: not sure, never a guess.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from detector.types import Arrow

_SHAPE_SIDE = 48  # small crops are upscaled towards this, so the blob's outline is smooth
_MIN_PEAK_V = 110  # nothing brighter than this: no lamp is lit
_LIT_FRACTION = 0.8  # pixels this bright relative to the crop's peak form the lit shape
_MIN_LENGTH_PX = 8  # a lit blob shorter than this (frame pixels) has no shape to read
_MIN_ELONGATION = 1.25  # the blob's long side over its short side, for it to have an axis
_END_SHARE = 0.35  # each end is this share of the blob's length...
_HEAD_RATIO = 1.5  # ...and the head's end is at least this much thicker than the other


def read_arrow(crop: np.ndarray) -> Arrow | None:
    """The direction of the lit arrow in a crop of one lamp or head: ``"left"``, ``"right"``,
    ``"straight"``, or None when the lit shape is not clearly an arrow.

    Read it only where `detector.light.read_colour` finds a lamp lit: of a dark head this reads
    the shape of whatever is brightest (sky behind the housing).

    Args:
        crop: BGR uint8 image of the head (or of the arrow lamp alone).
    """
    if not isinstance(crop, np.ndarray) or crop.dtype != np.uint8 or crop.ndim != 3 or min(crop.shape[:2]) < 2:
        return None
    short = min(crop.shape[:2])
    scale = max(1, math.ceil(_SHAPE_SIDE / short))
    bgr = cv2.resize(crop[..., :3], None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR) if scale > 1 else crop
    value = bgr.max(axis=2)
    peak = float(np.percentile(value, 99.5))
    if peak < _MIN_PEAK_V:
        return None
    blob = _largest_blob(value >= _LIT_FRACTION * peak)
    if blob is None:
        return None
    height, width = blob.shape
    if max(height, width) < _MIN_LENGTH_PX * scale:
        return None
    if width >= _MIN_ELONGATION * height:
        left, right = _end_thickness(blob, axis=0)
        if right >= _HEAD_RATIO * left:
            return "right"
        if left >= _HEAD_RATIO * right:
            return "left"
        return None
    if height >= _MIN_ELONGATION * width:
        top, bottom = _end_thickness(blob, axis=1)
        return "straight" if top >= _HEAD_RATIO * bottom else None  # no lamp points down the road
    return None


def _largest_blob(mask: np.ndarray) -> np.ndarray | None:
    """The largest 8-connected blob of `mask`, cut to its bounding box."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count < 2:
        return None
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = (int(stats[best, k]) for k in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH,
                                                  cv2.CC_STAT_HEIGHT))
    return labels[y:y + h, x:x + w] == best


def _end_thickness(blob: np.ndarray, axis: int) -> tuple[float, float]:
    """Mean thickness across the long axis at the blob's first and last `_END_SHARE` of its length.

    axis 0: thickness per column (the blob runs left-right); axis 1: per row (it runs up-down).
    """
    thickness = blob.sum(axis=axis).astype(np.float64)
    end = max(1, round(len(thickness) * _END_SHARE))
    return float(thickness[:end].mean()), float(thickness[-end:].mean())

