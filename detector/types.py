"""The one value type that flows from the detector to the rules.

Everything here is a frozen dataclass: cheap to pass between threads, impossible to
mutate by accident, and checked on construction so a bad value fails where it is made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

LABELS = ("car", "motorcycle", "bus", "truck", "bicycle", "person")
"""trafficcam's vehicle and road-user labels; every model's class names map onto these."""

Arrow = Literal["left", "right", "straight"]
"""The way an arrow lamp points (a head whose lamps are arrows controls that movement only)."""


class Colour(StrEnum):
    """State of a signal head.

    DARK is read only on arrow heads (a scene's `arrow:`): no lamp lit, which is part of an arrow's
    cycle and says the movement follows its stop line's own head. A round head with nothing lit is
    UNKNOWN: a head that is out says nothing, and its line is not enforced.
    """

    RED = "red"
    YELLOW = "yellow"
    GREEN = "green"
    UNKNOWN = "unknown"
    DARK = "dark"


@dataclass(frozen=True, slots=True)
class Box:
    """Axis-aligned box in pixels, (x1, y1) top-left, (x2, y2) bottom-right."""

    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        values = (self.x1, self.y1, self.x2, self.y2)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"Box coordinates must be finite numbers, got {values}")
        if self.x2 < self.x1 or self.y2 < self.y1:
            raise ValueError(f"Box needs x1 <= x2 and y1 <= y2, got {values}")

    @property
    def anchor(self) -> tuple[float, float]:
        """Bottom-centre: where the vehicle touches the road."""
        return ((self.x1 + self.x2) / 2.0, self.y2)

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return self.width * self.height

    def intersection(self, other: Box) -> float:
        """The area both boxes cover."""
        w = min(self.x2, other.x2) - max(self.x1, other.x1)
        h = min(self.y2, other.y2) - max(self.y1, other.y1)
        return max(0.0, w) * max(0.0, h)

    def share_of_smaller(self, other: Box) -> float:
        """How much of the smaller of the two boxes lies inside the other (0 to 1; 0 for an empty box)."""
        smaller = min(self.area, other.area)
        return self.intersection(other) / smaller if smaller > 0 else 0.0

    def scaled(self, sx: float, sy: float) -> Box:
        return Box(self.x1 * sx, self.y1 * sy, self.x2 * sx, self.y2 * sy)

    def as_list(self) -> list[float]:
        return [round(self.x1, 1), round(self.y1, 1), round(self.x2, 1), round(self.y2, 1)]


@dataclass(frozen=True, slots=True)
class Detection:
    """One object found in one frame; `track_id` is None until a tracker assigns one."""

    box: Box
    label: str
    confidence: float
    track_id: int | None = None

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"Detection label must be one of {LABELS}, got {self.label!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"Detection confidence must be in [0, 1], got {self.confidence}")


@dataclass(frozen=True, slots=True)
class LightState:
    """Colour of one signal head, and when (timestamp and frame) that colour began; for an arrow
    head, the direction its lit lamp was read to point (None: a round head, or not read)."""

    signal_id: str
    colour: Colour
    confidence: float
    since: float
    since_frame: int = 0
    arrow: Arrow | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """Where a track was at one analysed frame. `timestamp` is seconds: frame / fps for
    files, wall-clock seconds for streams."""

    frame_index: int
    timestamp: float
    box: Box
    confidence: float = 1.0
    label: str = "car"


@dataclass(frozen=True, slots=True)
class Track:
    """A tracked object: its stable label and its (bounded) recent observations, oldest first."""

    track_id: int
    label: str
    observations: tuple[Observation, ...]

    def __post_init__(self) -> None:
        if not self.observations:
            raise ValueError(f"Track {self.track_id} needs at least one observation")

    @property
    def last(self) -> Observation:
        return self.observations[-1]
