from __future__ import annotations

import numpy as np
import pytest

from detector.tiling import (
    cut_at_inner_edge,
    detection_windows,
    merge_boxes,
    parse_tiles,
    tile_windows,
    to_frame,
)


@pytest.mark.parametrize(
    ("region", "cols", "rows", "overlap"),
    [
        ((0, 0, 640, 480), 2, 2, 0.2),  # the usual 2x2
        ((0, 0, 1280, 720), 3, 2, 0.25),  # wide frame, more columns
        ((37, 101, 600, 479), 2, 1, 0.0),  # a region of interest, no overlap
        ((0, 0, 640, 480), 1, 1, 0.2),  # one tile is the region itself
    ],
)
def test_tiles_cover_the_region_exactly_and_overlap_as_asked(region, cols, rows, overlap):
    tiles = tile_windows(region, cols, rows, overlap)
    assert len(tiles) == cols * rows
    x1, y1, x2, y2 = region
    assert min(t[0] for t in tiles) == x1 and min(t[1] for t in tiles) == y1
    assert max(t[2] for t in tiles) == x2 and max(t[3] for t in tiles) == y2
    widths = {t[2] - t[0] for t in tiles}
    assert max(widths) - min(widths) <= 1  # equal sizes, up to rounding
    if cols > 1:
        left, right = tiles[0], tiles[1]
        shared = left[2] - right[0]
        assert shared == pytest.approx(overlap * (left[2] - left[0]), abs=1.5)


def test_bad_tiles_are_refused_with_what_was_expected():
    with pytest.raises(ValueError, match="at least 1 x 1"):
        tile_windows((0, 0, 10, 10), 0, 2)
    with pytest.raises(ValueError, match=r"overlap must be in \[0, 1\)"):
        tile_windows((0, 0, 10, 10), 2, 2, overlap=1.0)
    with pytest.raises(ValueError, match="COLSxROWS"):
        parse_tiles("2by2")
    assert parse_tiles("3x2") == (3, 2)


def test_windows_of_a_frame_with_and_without_the_whole_region():
    assert detection_windows((640, 480)) == [(0, 0, 640, 480)]
    assert detection_windows((640, 480), region=(-5, 100, 700, 480)) == [(0, 100, 640, 480)]
    tiles = detection_windows((640, 480), tiles=(2, 2))
    assert len(tiles) == 4
    assert detection_windows((640, 480), tiles=(2, 2), whole_region=True) == [(0, 0, 640, 480), *tiles]


def test_boxes_found_in_a_window_are_shifted_to_frame_coordinates():
    boxes = np.array([[0, 0, 10, 20], [5, 5, 6, 7]], np.float32)
    assert to_frame(boxes, (300, 200, 620, 440)).tolist() == [[300, 200, 310, 220], [305, 205, 306, 207]]


def test_a_box_touching_a_seam_inside_the_frame_is_cut_but_not_at_the_frame_edge():
    bounds = (0, 0, 640, 480)
    window = (0, 0, 356, 267)  # top-left tile: its right and bottom edges are seams
    boxes = np.array([
        [0, 0, 30, 40],  # on the frame's own corner: whole
        [330, 10, 356, 50],  # touches the right seam: cut
        [100, 240, 140, 266],  # touches the bottom seam: cut
        [100, 100, 140, 150],  # inside: whole
    ], np.float32)  # fmt: skip
    assert cut_at_inner_edge(boxes, window, bounds).tolist() == [False, True, True, False]


def merged(rows, cut=None, **kw):
    a = np.array(rows, np.float64)
    xyxy, conf, cls = merge_boxes(a[:, :4], a[:, 4], a[:, 5], None if cut is None else np.array(cut), **kw)
    return [[*map(float, b), float(c), float(k)] for b, c, k in zip(xyxy, conf, cls, strict=True)]


@pytest.mark.parametrize(
    ("rows", "cut", "expected"),
    [
        # the same motorbike seen by two overlapping tiles: the more confident box stays
        ([[100, 100, 130, 180, 0.6, 3], [101, 99, 131, 181, 0.8, 3]], None, [[101, 99, 131, 181, 0.8, 3]]),
        # two motorbikes side by side, barely touching: both stay
        ([[100, 100, 130, 180, 0.6, 3], [128, 100, 158, 180, 0.7, 3]], None,
         [[128, 100, 158, 180, 0.7, 3], [100, 100, 130, 180, 0.6, 3]]),
        # a car and a motorbike on the same spot: classes do not suppress each other
        ([[100, 100, 200, 180, 0.6, 2], [101, 100, 200, 180, 0.7, 3]], None,
         [[101, 100, 200, 180, 0.7, 3], [100, 100, 200, 180, 0.6, 2]]),
        # the left half of a car cut by a seam inside the car seen whole: one box, the whole car
        ([[100, 100, 200, 160, 0.5, 2], [100, 100, 150, 160, 0.9, 2]], [False, True], [[100, 100, 200, 160, 0.9, 2]]),
        # two halves of a car on a seam, each cut: grown into one box over both
        ([[100, 100, 160, 160, 0.6, 2], [140, 100, 200, 160, 0.7, 2]], [True, True],
         [[100, 100, 200, 160, 0.7, 2]]),
    ],
)
def test_merging_duplicates_from_overlapping_windows(rows, cut, expected):
    assert merged(rows, cut) == expected


def test_merging_nothing_gives_nothing():
    xyxy, conf, cls = merge_boxes(np.zeros((0, 4)), np.zeros(0), np.zeros(0))
    assert xyxy.shape == (0, 4) and len(conf) == len(cls) == 0
