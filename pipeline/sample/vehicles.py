"""Road users as a few shaded boxes in 3D (body, cabin, wheels, rider), projected by the camera.

A part is an axis-aligned box in the vehicle's own frame (u: to its right, y: up, f: forward);
its faces that look at the camera are drawn, shaded by their angle to the sun, with details
(windows, lights, number plate) as quads inside a face. The box a detector should find is the
extent of every drawn part, which is what the truth and the training labels use.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from pipeline.sample.traffic import Agent, Look
from pipeline.sample.world import Camera, Vec3

GLASS = (70, 55, 45)
TYRE = (28, 28, 30)
TAIL = (30, 30, 200)
HEAD = (200, 235, 245)
PLATE = (225, 230, 230)
NEAR_M = 0.3  # the camera's near plane: anything closer is not drawn
SUN = (-0.35, 0.8, -0.5)  # towards the sun: up, slightly left and behind the camera


@dataclass(frozen=True)
class Detail:
    face: str  # rear, front, left, right, top
    a0: float
    a1: float
    b0: float
    b1: float
    colour: tuple[int, int, int]
    light: bool = False  # glows at night


@dataclass(frozen=True)
class Part:
    u0: float
    u1: float
    y0: float
    y1: float
    f0: float
    f1: float
    colour: tuple[int, int, int]
    details: tuple[Detail, ...] = field(default=())


def _scale(c: tuple[int, int, int], k: float) -> tuple[int, int, int]:
    return (min(255, int(c[0] * k)), min(255, int(c[1] * k)), min(255, int(c[2] * k)))


def parts_of(look: Look) -> list[Part]:
    """The boxes that make up a road user, in drawing order (lower and inner parts first)."""
    hl, hw = look.length / 2, look.width / 2
    if look.kind == "motorcycle":
        return [
            Part(-0.06, 0.06, 0.0, 0.58, -hl, -hl + 0.58, TYRE),
            Part(-0.06, 0.06, 0.0, 0.58, hl - 0.58, hl, TYRE),
            Part(-hw * 0.45, hw * 0.45, 0.3, 0.82, -hl + 0.15, hl - 0.25, look.body,
                 (Detail("rear", 0.3, 0.7, 0.55, 0.8, TAIL, True), Detail("front", 0.3, 0.7, 0.5, 0.85, HEAD, True))),
            Part(-hw * 0.35, hw * 0.35, 0.82, 1.0, -hl + 0.25, hl - 0.8, _scale(look.body, 0.6)),
            Part(-hw, hw, 0.45, 0.92, -0.25, 0.3, _scale(look.rider, 0.55)),  # legs and knees
            Part(-0.22, 0.22, 0.95, 1.55, -0.35, -0.02, look.rider),  # torso
            Part(-0.13, 0.13, 1.55, 1.82, -0.32, -0.04, look.helmet),  # head in a helmet
        ]
    if look.kind == "bus":
        side = (Detail("left", 0.05, 0.95, 0.55, 0.88, GLASS), Detail("right", 0.05, 0.95, 0.55, 0.88, GLASS),
                Detail("left", 0.0, 1.0, 0.3, 0.4, look.accent), Detail("right", 0.0, 1.0, 0.3, 0.4, look.accent))
        ends = (Detail("rear", 0.12, 0.88, 0.6, 0.9, GLASS), Detail("rear", 0.04, 0.14, 0.18, 0.3, TAIL, True),
                Detail("rear", 0.86, 0.96, 0.18, 0.3, TAIL, True), Detail("rear", 0.4, 0.6, 0.08, 0.17, PLATE),
                Detail("front", 0.06, 0.94, 0.45, 0.92, GLASS), Detail("front", 0.05, 0.18, 0.1, 0.2, HEAD, True),
                Detail("front", 0.82, 0.95, 0.1, 0.2, HEAD, True), Detail("rear", 0.0, 1.0, 0.3, 0.4, look.accent))
        return [
            *_wheels(hw, hl, 0.95, 2.2, 1.0),
            Part(-hw, hw, 0.35, 3.1, -hl, hl, look.body, side + ends),
        ]
    cabin = (Detail("rear", 0.08, 0.92, 0.12, 0.88, GLASS), Detail("front", 0.06, 0.94, 0.1, 0.92, GLASS),
             Detail("left", 0.06, 0.94, 0.15, 0.85, GLASS), Detail("right", 0.06, 0.94, 0.15, 0.85, GLASS))
    body = (Detail("rear", 0.03, 0.2, 0.5, 0.85, TAIL, True), Detail("rear", 0.8, 0.97, 0.5, 0.85, TAIL, True),
            Detail("rear", 0.38, 0.62, 0.2, 0.45, PLATE), Detail("front", 0.04, 0.22, 0.5, 0.8, HEAD, True),
            Detail("front", 0.78, 0.96, 0.5, 0.8, HEAD, True), Detail("front", 0.38, 0.62, 0.15, 0.4, PLATE))
    return [
        *_wheels(hw - 0.02, hl, 0.62, 0.75, 0.22),
        Part(-hw, hw, 0.24, 0.88, -hl, hl, look.body, body),
        Part(-hw + 0.12, hw - 0.12, 0.88, 1.42, -hl * 0.62, hl * 0.28, look.body, cabin),
    ]


def _wheels(hw: float, hl: float, diameter: float, inset: float, width: float) -> list[Part]:
    return [
        Part(su * hw - (width if su > 0 else 0), su * hw + (0 if su > 0 else width), 0.0, diameter,
             sf * (hl - inset) - diameter / 2, sf * (hl - inset) + diameter / 2, TYRE)
        for su in (-1, 1) for sf in (-1, 1)
    ]


# face -> (corner indices over (a, b) = (0,0), (1,0), (1,1), (0,1)), local normal (u, y, f)
_FACES = {
    "rear": (lambda p, a, b: (p.u0 + a * (p.u1 - p.u0), p.y0 + b * (p.y1 - p.y0), p.f0), (0.0, 0.0, -1.0)),
    "front": (lambda p, a, b: (p.u1 - a * (p.u1 - p.u0), p.y0 + b * (p.y1 - p.y0), p.f1), (0.0, 0.0, 1.0)),
    "left": (lambda p, a, b: (p.u0, p.y0 + b * (p.y1 - p.y0), p.f1 - a * (p.f1 - p.f0)), (-1.0, 0.0, 0.0)),
    "right": (lambda p, a, b: (p.u1, p.y0 + b * (p.y1 - p.y0), p.f0 + a * (p.f1 - p.f0)), (1.0, 0.0, 0.0)),
    "top": (lambda p, a, b: (p.u0 + a * (p.u1 - p.u0), p.y1, p.f0 + b * (p.f1 - p.f0)), (0.0, 1.0, 0.0)),
}


@dataclass
class Polygon:
    points: np.ndarray  # (n, 2) float pixels
    colour: tuple[int, int, int]
    light: bool = False


@dataclass
class Projected:
    """One road user as the camera sees it."""

    agent: Agent
    depth: float
    polygons: list[Polygon]
    shadow: np.ndarray  # (4, 2) ground footprint, pixels
    box: tuple[float, float, float, float]  # extent of every drawn part, not clipped to the frame


class Projector:
    """Projects road users for one camera; `night` turns shading flat (street lights do the rest)."""

    def __init__(self, camera: Camera, night: bool = False):
        self.camera = camera
        self.night = night
        n = math.sqrt(sum(c * c for c in SUN))
        self.sun = tuple(c / n for c in SUN)

    def project(self, agent: Agent) -> Projected:
        cam = self.camera
        x0, z0 = agent.ground()
        dx, dz = agent.heading()
        rx, rz = dz, -dx

        def world(u: float, y: float, f: float) -> Vec3:
            return (x0 + u * rx + f * dx, y, z0 + u * rz + f * dz)

        eye = (cam.x, cam.height_m, 0.0)
        polygons: list[Polygon] = []
        xs: list[float] = []
        ys: list[float] = []
        for part in parts_of(agent.look):
            for name, (corner, (nu, ny, nf)) in _FACES.items():
                normal = (nu * rx + nf * dx, ny, nu * rz + nf * dz)
                centre = world(*corner(part, 0.5, 0.5))
                to_eye = (eye[0] - centre[0], eye[1] - centre[1], eye[2] - centre[2])
                if sum(n * e for n, e in zip(normal, to_eye, strict=True)) <= 0:
                    continue
                quad = self._quad(world, corner, part, 0.0, 1.0, 0.0, 1.0)
                if quad is None:
                    continue
                xs += list(quad[:, 0])
                ys += list(quad[:, 1])
                polygons.append(Polygon(quad, self._shade(part.colour, normal)))
                for d in part.details:
                    detail = self._quad(world, corner, part, d.a0, d.a1, d.b0, d.b1) if d.face == name else None
                    if detail is not None:
                        colour = d.colour if d.light else self._shade(d.colour, normal)
                        polygons.append(Polygon(detail, colour, d.light))
        hl, hw = agent.look.length / 2 + 0.15, agent.look.width / 2 + 0.15
        shadow = np.array([cam.ground(*_xz(world(u, 0.0, f))) for u, f in ((-hw, -hl), (hw, -hl), (hw, hl),
                                                                             (-hw, hl))])
        box = (float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys))) if xs else (0.0, 0.0, 0.0, 0.0)
        return Projected(agent, cam.depth(world(0.0, 0.5, 0.0)), polygons, shadow, box)

    def _quad(self, world, corner, part: Part, a0: float, a1: float, b0: float, b1: float) -> np.ndarray | None:  # type: ignore[no-untyped-def]
        """The projected quad, clipped to the part in front of the camera; None when none of it is."""
        cam = self.camera
        pts = [cam.to_camera(world(*corner(part, a, b))) for a, b in ((a0, b0), (a1, b0), (a1, b1), (a0, b1))]
        if min(p[2] for p in pts) < NEAR_M:
            pts = _clip_near(pts)
            if len(pts) < 3:
                return None
        f, cx, cy = cam.focal, cam.width / 2, cam.height / 2
        return np.array([(cx + f * x / z, cy + f * y / z) for x, y, z in pts], dtype=np.float64)

    def _shade(self, colour: tuple[int, int, int], normal: Vec3) -> tuple[int, int, int]:
        if self.night:
            k = 0.85 if normal[1] > 0.5 else 0.7
        else:
            k = 0.55 + 0.6 * max(0.0, sum(n * s for n, s in zip(normal, self.sun, strict=True)))
        return _scale(colour, k)


def _clip_near(pts: list[Vec3]) -> list[Vec3]:
    """The part of a polygon (camera coordinates) at least NEAR_M in front of the camera."""
    out: list[Vec3] = []
    for i, cur in enumerate(pts):
        prev = pts[i - 1]
        if (cur[2] >= NEAR_M) != (prev[2] >= NEAR_M):
            t = (NEAR_M - prev[2]) / (cur[2] - prev[2])
            out.append(tuple(p + t * (c - p) for p, c in zip(prev, cur, strict=True)))  # type: ignore[arg-type]
        if cur[2] >= NEAR_M:
            out.append(cur)
    return out


def _xz(p: Vec3) -> tuple[float, float]:
    return p[0], p[2]


def by_depth(projected: list[Projected]) -> Iterator[Projected]:
    """Far to near, for the painter's algorithm."""
    return iter(sorted(projected, key=lambda p: -p.depth))
