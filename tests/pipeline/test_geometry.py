from __future__ import annotations

import pytest

from pipeline.geometry import (
    cosine,
    path_crosses_polyline,
    point_in_polygon,
    segments_intersect,
    side_of_polyline,
    signed_distance,
)


@pytest.mark.parametrize(
    ("p1", "p2", "q1", "q2", "expected"),
    [
        ((0, 0), (10, 10), (0, 10), (10, 0), True),  # an X
        ((0, 0), (10, 0), (0, 1), (10, 1), False),  # parallel
        ((0, 0), (5, 5), (6, 6), (10, 10), False),  # collinear, apart
        ((0, 0), (6, 6), (5, 5), (10, 10), True),  # collinear, overlapping
        ((5, 0), (5, 10), (0, 5), (4, 5), False),  # would meet only if the line were longer
        ((5, 0), (5, 5), (0, 5), (10, 5), True),  # ends exactly on the line
    ],
)
def test_segments_intersect(p1, p2, q1, q2, expected):
    assert segments_intersect(p1, p2, q1, q2) is expected
    assert segments_intersect(q1, q2, p1, p2) is expected


def test_signed_distance_follows_approach():
    # line y = 100; travelling up the image (approach [0, -1]) the far side is y < 100
    assert signed_distance((50, 90), (0, 100), (200, 100), (0, -1)) == pytest.approx(10)
    assert signed_distance((50, 110), (0, 100), (200, 100), (0, -1)) == pytest.approx(-10)
    assert signed_distance((50, 110), (200, 100), (0, 100), (0, 1)) == pytest.approx(10)  # endpoint order irrelevant


def test_signed_distance_rejects_degenerate_line():
    with pytest.raises(ValueError, match="endpoints must differ"):
        signed_distance((0, 0), (1, 1), (1, 1), (0, 1))


def test_path_crosses_polyline_checks_every_segment():
    line = [(0, 0), (10, 10), (20, 0)]
    assert path_crosses_polyline((15, -5), (15, 10), line)
    assert not path_crosses_polyline((25, -5), (25, 10), line)


@pytest.mark.parametrize(
    ("point", "inside"),
    [((5, 5), True), ((15, 5), False), ((-1, 5), False), ((9.9, 0.1), True)],
)
def test_point_in_polygon(point, inside):
    assert point_in_polygon(point, [(0, 0), (10, 0), (10, 10), (0, 10)]) is inside


def test_side_of_polyline_sign_and_distance():
    line = [(0, 0), (0, 100)]
    left, right = side_of_polyline((-5, 50), line), side_of_polyline((5, 50), line)
    assert abs(left) == pytest.approx(5) and abs(right) == pytest.approx(5)
    assert left * right < 0


def test_cosine():
    assert cosine((1, 0), (-2, 0)) == pytest.approx(-1)
    assert cosine((1, 0), (0, 3)) == pytest.approx(0)
    assert cosine((0, 0), (1, 0)) == 0.0
