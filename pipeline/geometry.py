"""Plane geometry on image coordinates: side of a line, segment crossing, point in polygon."""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = tuple[float, float]


def cross(o: Point, a: Point, b: Point) -> float:
    """z of (a - o) x (b - o): > 0 when b is counter-clockwise of o->a in maths axes."""
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def signed_distance(p: Point, a: Point, b: Point, towards: Point) -> float:
    """Distance of p from the infinite line a-b, positive on the side `towards` points to."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = math.hypot(dx, dy)
    if length == 0:
        raise ValueError(f"line endpoints must differ, got {a} and {b}")
    nx, ny = -dy / length, dx / length
    if nx * towards[0] + ny * towards[1] < 0:
        nx, ny = -nx, -ny
    return (p[0] - a[0]) * nx + (p[1] - a[1]) * ny


def segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """True when segment p1-p2 meets segment q1-q2 (touching counts)."""
    d1, d2 = cross(q1, q2, p1), cross(q1, q2, p2)
    d3, d4 = cross(p1, p2, q1), cross(p1, p2, q2)
    if ((d1 > 0) != (d2 > 0) or d1 == 0 or d2 == 0) and ((d3 > 0) != (d4 > 0) or d3 == 0 or d4 == 0):
        if d1 == d2 == 0:  # collinear: overlap of projections
            return _on_segment(q1, q2, p1) or _on_segment(q1, q2, p2) or _on_segment(p1, p2, q1)
        return True
    return False


def _on_segment(a: Point, b: Point, p: Point) -> bool:
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def path_crosses_polyline(p1: Point, p2: Point, line: Sequence[Point]) -> bool:
    """True when the step p1 -> p2 meets any segment of the polyline."""
    return any(segments_intersect(p1, p2, line[i], line[i + 1]) for i in range(len(line) - 1))


def point_in_polygon(p: Point, polygon: Sequence[Point]) -> bool:
    """Even-odd ray casting; points on an edge may fall either way."""
    x, y = p
    inside = False
    n = len(polygon)
    for i in range(n):
        (xa, ya), (xb, yb) = polygon[i], polygon[(i + 1) % n]
        if (ya > y) != (yb > y) and x < xa + (y - ya) * (xb - xa) / (yb - ya):
            inside = not inside
    return inside


def side_of_polyline(p: Point, line: Sequence[Point]) -> float:
    """Signed distance from p to the nearest segment of a polyline; the sign says which side
    (positive: left of the polyline's direction in image axes, i.e. cross > 0)."""
    best = math.inf
    sign = 1.0
    for i in range(len(line) - 1):
        a, b = line[i], line[i + 1]
        dist = _distance_to_segment(p, a, b)
        if dist < best:
            best = dist
            sign = 1.0 if cross(a, b, p) >= 0 else -1.0
    return sign * best


def _distance_to_segment(p: Point, a: Point, b: Point) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2))
    return math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy)


def cosine(u: Point, v: Point) -> float:
    """Cosine of the angle between two vectors; 0 when either is zero."""
    nu, nv = math.hypot(*u), math.hypot(*v)
    if nu == 0 or nv == 0:
        return 0.0
    return (u[0] * v[0] + u[1] * v[1]) / (nu * nv)
