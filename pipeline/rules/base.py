"""What every rule shares: the Rule protocol, the Violation it returns, the signal board it reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from detector.types import Box, Colour, LightState, Observation, Track
from pipeline.scene import Scene

VEHICLES = frozenset({"car", "motorcycle", "bus", "truck", "bicycle"})
"""The labels the lane rules apply to (a person is not held to lane markings)."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One vehicle breaking one rule at one place (`where` = stop line, solid line or lane id)."""

    rule: str
    where: str
    track_id: int
    label: str
    frame_index: int
    timestamp: float
    box: Box
    confidence: float
    signal_id: str | None = None
    signal_colour: Colour | None = None
    seconds_into_colour: float | None = None
    details: dict[str, float | str] = field(default_factory=dict)

    @classmethod
    def at(
        cls, rule: str, where: str, track: Track, observation: Observation, **extra: object
    ) -> Violation:
        """The violation of `track` at one of its observations (frame, time, box, confidence)."""
        return cls(
            rule=rule, where=where, track_id=track.track_id, label=track.label,
            frame_index=observation.frame_index, timestamp=observation.timestamp, box=observation.box,
            confidence=observation.confidence, **extra,  # type: ignore[arg-type]
        )  # fmt: skip

    @property
    def key(self) -> tuple[int, str, str]:
        """Identity within one run: the engine reports each (track, rule, where) once."""
        return (self.track_id, self.rule, self.where)


class SignalBoard(Protocol):
    """Read-only view of the signal heads' colour history."""

    def state_at(self, signal_id: str, timestamp: float) -> LightState | None:
        """The state of `signal_id` at `timestamp`, or None when nothing is known then."""
        ...


class Rule(Protocol):
    @property
    def name(self) -> str: ...

    def check(self, track: Track, scene: Scene, signals: SignalBoard) -> Violation | None: ...
