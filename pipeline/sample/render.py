"""Render the synthetic junction: frames, the boxes of every road user in them, the scene and the truth.

`SampleSpec` says what to render; `Renderer.frames()` yields each frame with the exact box of
every road user in it (from the renderer's own state); `pipeline.sample.clip.render_sample`
writes the video, its `scene.yaml` and `truth.yaml` side by side.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from pipeline.sample.draw import Painter
from pipeline.sample.traffic import ScenarioBuilder, SignalPlan, Traffic
from pipeline.sample.vehicles import Projected, Projector
from pipeline.sample.world import Camera, Layout

MIN_VISIBLE_PX = 4.0  # a road user whose box inside the frame is thinner than this is not listed


@dataclass(frozen=True)
class SampleSpec:
    """What to render. The same spec always gives the same frames."""

    seconds: float = 32.0
    fps: float = 10.0
    width: int = 960
    height: int = 540
    night: bool = False
    seed: int = 7
    plan: SignalPlan = field(default_factory=SignalPlan)

    def __post_init__(self) -> None:
        if not (self.seconds > 0 and self.fps > 0):
            raise ValueError(f"seconds and fps must be positive, got seconds={self.seconds}, fps={self.fps}")
        if self.width < 160 or self.height < 90 or self.width % 2 or self.height % 2:
            raise ValueError(f"frame size must be even and at least 160x90, got {self.width}x{self.height}")

    @property
    def frames(self) -> int:
        return int(round(self.seconds * self.fps))


@dataclass(frozen=True)
class UserBox:
    """One road user in one frame: its box (clipped to the frame) and how much of it is in view."""

    agent_id: int
    label: str
    role: str
    box: tuple[float, float, float, float]
    in_frame: float  # share of the unclipped box inside the frame
    visible: float  # share of its pixels in the frame not hidden behind nearer road users


@dataclass(frozen=True)
class RenderedFrame:
    index: int
    time_s: float
    colour: str
    image: np.ndarray
    users: tuple[UserBox, ...]


class Renderer:
    """Runs the traffic simulation and draws it, frame by frame."""

    def __init__(self, spec: SampleSpec):
        self.spec = spec
        self.camera = Camera(spec.width, spec.height)
        self.layout = Layout(self.camera)
        self.projector = Projector(self.camera, spec.night)

    def traffic(self) -> Traffic:
        """A fresh simulation of the clip's scenario, at the start of its warm-up."""
        spec = self.spec
        return ScenarioBuilder(spec.seed, spec.seconds, self.camera.near_z, spec.plan).build()

    def frames(self, draw: bool = True, step: int = 1) -> Iterator[RenderedFrame]:
        """Every `step`-th frame in order; with `draw=False` only the boxes (image is an empty array)."""
        spec = self.spec
        traffic = self.traffic()
        painter = Painter(self.camera, spec.night, spec.seed) if draw else None
        for i in range(0, spec.frames, step):
            t = i / spec.fps
            traffic.advance_to(t)
            colour = spec.plan.colour_at(t)
            projected = [self.projector.project(a) for a in traffic.visible()]
            projected = [p for p in projected if _in_view(p, spec.width, spec.height)]
            users = _boxes(projected, spec.width, spec.height)
            image = painter.frame(t, colour, projected, i) if painter else np.empty((0, 0, 3), np.uint8)
            yield RenderedFrame(i, t, colour, image, users)


def _in_view(p: Projected, width: int, height: int) -> bool:
    x1, y1, x2, y2 = p.box
    return x2 > 0 and y2 > 0 and x1 < width and y1 < height and p.depth > 1.0


def _boxes(projected: list[Projected], width: int, height: int) -> tuple[UserBox, ...]:
    """Clipped boxes of the road users, with the share of each one's pixels not hidden by nearer ones."""
    order = sorted(projected, key=lambda p: -p.depth)
    ids = np.zeros((height, width), np.uint16)
    for n, p in enumerate(order, start=1):
        for poly in p.polygons:
            fill_id(ids, poly.points, n)
    shown = np.bincount(ids.ravel(), minlength=len(order) + 1)
    out = []
    for n, p in enumerate(order, start=1):
        x1, y1, x2, y2 = p.box
        cx1, cy1, cx2, cy2 = max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2)
        if cx2 - cx1 < MIN_VISIBLE_PX or cy2 - cy1 < MIN_VISIBLE_PX:
            continue
        own = _silhouette_px(p, (cx1, cy1, cx2, cy2))
        a = p.agent
        out.append(UserBox(a.id, a.look.kind, a.role, (round(cx1, 2), round(cy1, 2), round(cx2, 2), round(cy2, 2)),
                           float((cx2 - cx1) * (cy2 - cy1) / ((x2 - x1) * (y2 - y1))),
                           min(1.0, float(shown[n]) / own) if own else 0.0))
    return tuple(sorted(out, key=lambda u: u.agent_id))


def fill_id(img: np.ndarray, points: np.ndarray, value: int) -> None:
    arr = np.round(points * 16).astype(np.int32)
    cv2.fillPoly(img, [arr], (value,), cv2.LINE_8, 4)


def _silhouette_px(p: Projected, box: tuple[float, float, float, float]) -> int:
    """Pixels of one road user's drawing inside the frame (`box`: its clipped box)."""
    x0, y0 = int(box[0]), int(box[1])
    mask = np.zeros((int(math.ceil(box[3])) - y0 + 1, int(math.ceil(box[2])) - x0 + 1), np.uint8)
    for poly in p.polygons:
        fill_id(mask, poly.points - np.array([x0, y0]), 1)
    return int(mask.sum())
