"""The synthetic junction's world: road layout in metres, the camera that sees it, and the scene file.

World axes: X to the right across the road, Y up, Z along the approach road away from the camera
(the camera stands at Z = 0). The approach carriageway (traffic moving away from the camera,
towards the junction) is X in [0, 7] with two lanes split by a solid white line; the exit
carriageway (traffic coming back towards the camera) is X in [-6.5, 0], behind a solid yellow
centre line. The stop line, a zebra crossing, the cross street and the far road follow in Z.
Everything is projected with one pinhole camera, so the scene file written for a frame size is
exactly where the renderer draws the markings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Point = tuple[float, float]
Vec3 = tuple[float, float, float]

# Road layout, metres.
APPROACH_X = (0.0, 7.0)
EXIT_X = (-6.5, 0.0)
LANE_DIVIDER_X = 3.5
STOP_Z = 17.0  # centre of the painted stop line
STOP_WIDTH = 0.45
ZEBRA_Z = (18.0, 21.0)
CROSS_Z = (22.0, 34.0)  # the cross street
CROSS_LANES_Z = (25.5, 30.5)  # centres of its two lanes (left-to-right, right-to-left)
FAR_Z = 160.0
SIGNAL_POLE = (7.8, 15.0)  # X, Z of the signal pole on the near-right corner
SIGNAL_HEAD = (0.55, 1.45, 3.0)  # housing width, height, height of its bottom above the road

# Lanes of travel: lateral position (X) of each path vehicles follow.
LANE_X = {"A": 1.75, "B": 5.1, "E1": -1.7, "E2": -5.0, "W": -3.35}


@dataclass(frozen=True)
class Camera:
    """Pinhole camera over the approach road, pitched down, no roll.

    The focal length is proportional to the frame width, so every frame size sees the same view.
    """

    width: int
    height: int
    x: float = 2.0
    height_m: float = 7.5
    pitch_deg: float = 28.0
    focal_per_width: float = 0.8

    @property
    def focal(self) -> float:
        return self.focal_per_width * self.width

    def to_camera(self, p: Vec3) -> Vec3:
        """World point -> camera coordinates (right, down, forward)."""
        s, c = math.sin(math.radians(self.pitch_deg)), math.cos(math.radians(self.pitch_deg))
        dx, dy, dz = p[0] - self.x, p[1] - self.height_m, p[2]
        return dx, -(dy * c + dz * s), dz * c - dy * s

    def project(self, p: Vec3) -> Point:
        """Pixel coordinates of a world point (which must be in front of the camera)."""
        xc, yc, zc = self.to_camera(p)
        zc = max(zc, 0.05)
        return self.width / 2 + self.focal * xc / zc, self.height / 2 + self.focal * yc / zc

    def depth(self, p: Vec3) -> float:
        """Distance along the viewing direction (for painter's ordering)."""
        return self.to_camera(p)[2]

    def ground(self, x: float, z: float) -> Point:
        return self.project((x, 0.0, z))

    def ground_z_at_row(self, v: float) -> float:
        """The Z of the road at image row v (rows below the horizon only)."""
        s, c = math.sin(math.radians(self.pitch_deg)), math.cos(math.radians(self.pitch_deg))
        t = (v - self.height / 2) / self.focal  # tan of the angle below the optical axis
        # ray (0, -(t*c + s)... ) in world: direction down component d_y, forward d_z
        dy = -(t * c + s)
        dz = c - t * s
        if dy >= 0:
            return math.inf
        return self.height_m * dz / -dy

    @property
    def near_z(self) -> float:
        """Z of the road at the bottom row of the frame."""
        return self.ground_z_at_row(self.height)


def clip_polygon(poly: Sequence[Point], width: float, height: float) -> list[Point]:
    """Sutherland-Hodgman clip of a polygon to the frame rectangle [0, width] x [0, height]."""
    edges = [(0, 0.0, 1), (0, width, -1), (1, 0.0, 1), (1, height, -1)]  # axis, bound, keep side
    out = list(poly)
    for axis, bound, keep in edges:
        src, out = out, []
        for i, cur in enumerate(src):
            prev = src[i - 1]
            cur_in = (cur[axis] - bound) * keep >= 0
            prev_in = (prev[axis] - bound) * keep >= 0
            if cur_in != prev_in:
                t = (bound - prev[axis]) / (cur[axis] - prev[axis])
                out.append((prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])))
            if cur_in:
                out.append(cur)
        if not out:
            break
    return out


def clip_segment(a: Point, b: Point, width: float, height: float) -> tuple[Point, Point] | None:
    """Liang-Barsky clip of segment a-b to the frame rectangle; None when it lies outside."""
    t0, t1 = 0.0, 1.0
    dx, dy = b[0] - a[0], b[1] - a[1]
    for p, q in ((-dx, a[0]), (dx, width - a[0]), (-dy, a[1]), (dy, height - a[1])):
        if p == 0:
            if q < 0:
                return None
            continue
        r = q / p
        if p < 0:
            t0 = max(t0, r)
        else:
            t1 = min(t1, r)
        if t0 > t1:
            return None
    return (a[0] + t0 * dx, a[1] + t0 * dy), (a[0] + t1 * dx, a[1] + t1 * dy)


def _r(p: Point) -> list[float]:
    return [round(p[0], 1), round(p[1], 1)]


def _unit(v: Point) -> list[float]:
    n = math.hypot(*v)
    return [round(v[0] / n, 3), round(v[1] / n, 3)]


@dataclass(frozen=True)
class Layout:
    """Image-space geometry of the junction for one camera: what the scene file says."""

    camera: Camera

    @property
    def near_z(self) -> float:
        return self.camera.near_z + 0.05

    def stop_line(self) -> list[Point]:
        cam = self.camera
        a, b = cam.ground(APPROACH_X[0], STOP_Z), cam.ground(APPROACH_X[1], STOP_Z)
        seg = clip_segment(a, b, cam.width, cam.height)
        assert seg is not None, "the stop line must be in view"
        return list(seg)

    def solid_line(self, x: float) -> list[Point]:
        cam = self.camera
        seg = clip_segment(cam.ground(x, self.near_z), cam.ground(x, STOP_Z), cam.width, cam.height)
        assert seg is not None, f"the solid line at X={x} must be in view"
        return list(seg)

    def lane_polygon(self, x0: float, x1: float) -> list[Point]:
        cam = self.camera
        z0 = self.near_z - 3.0  # below the frame: the clip gives the bottom edge
        quad = [cam.ground(x0, z0), cam.ground(x1, z0), cam.ground(x1, STOP_Z), cam.ground(x0, STOP_Z)]
        return clip_polygon(quad, cam.width, cam.height)

    def direction(self, x: float, towards_junction: bool) -> list[float]:
        cam = self.camera
        a, b = cam.ground(x, self.near_z + 1.0), cam.ground(x, STOP_Z)
        v = (b[0] - a[0], b[1] - a[1]) if towards_junction else (a[0] - b[0], a[1] - b[1])
        return _unit(v)

    def signal_box(self) -> tuple[float, float, float, float]:
        """Pixel box around the signal housing (a small margin included)."""
        cam = self.camera
        w, h, bottom = SIGNAL_HEAD
        x, z = SIGNAL_POLE
        tl = cam.project((x - w / 2, bottom + h, z))
        br = cam.project((x + w / 2, bottom, z))
        m = 0.08 * (br[0] - tl[0])
        return (
            max(0.0, round(tl[0] - m, 1)),
            max(0.0, round(tl[1] - m, 1)),
            min(float(cam.width), round(br[0] + m, 1)),
            min(float(cam.height), round(br[1] + m, 1)),
        )

    def scene(self, camera_id: str = "sample-junction") -> dict[str, Any]:
        """The scene file (DESIGN.md format) for this view, as a plain mapping."""
        cam = self.camera
        return {
            "camera": camera_id,
            "frame_size": [cam.width, cam.height],
            "signals": [{"id": "main", "box": list(self.signal_box())}],
            "stop_lines": [
                {
                    "id": "stop",
                    "line": [_r(p) for p in self.stop_line()],
                    "approach": self.direction(LANE_DIVIDER_X, towards_junction=True),
                    "signal": "main",
                }
            ],
            "lanes": [
                {
                    "id": "approach",
                    "polygon": [_r(p) for p in self.lane_polygon(*APPROACH_X)],
                    "direction": self.direction(LANE_DIVIDER_X, towards_junction=True),
                    "allowed": None,
                },
                {
                    "id": "exit",
                    "polygon": [_r(p) for p in self.lane_polygon(*EXIT_X)],
                    "direction": self.direction(sum(EXIT_X) / 2, towards_junction=False),
                    "allowed": None,
                },
            ],
            "solid_lines": [
                {"id": "centre", "line": [_r(p) for p in self.solid_line(0.0)]},
                {"id": "lane_divider", "line": [_r(p) for p in self.solid_line(LANE_DIVIDER_X)]},
            ],
            "rules": {
                "red_light": {"grace_s": 0.5, "violate_on": ["red"]},
                "solid_line": {"min_frames": 3},
                "wrong_way": {"min_travel_px": round(60.0 * cam.height / 360.0, 1), "min_duration_s": 1.0},
            },
        }
