"""What every rule shares: the Rule protocol, the Violation it returns, the signal board it reads."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from detector.types import Box, Colour, LightState, Observation, Track
from pipeline.scene import Scene

T = TypeVar("T")

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


class _Column(Generic[T]):
    __slots__ = ("shape", "observations", "values")

    def __init__(self, shape: object) -> None:
        self.shape = shape  # held, so the id in the key cannot be reused while the column lives
        self.observations: list[Observation] = []
        self.values: list[T] = []


class ObservationCache(Generic[T]):
    """Per track and shape (a scene's line or lane), `fn(observation, shape)` for every observation
    of the track, each computed once.

    Rules re-read a track's whole (bounded) history at every frame; its geometry against a fixed
    line never changes, so only the observations added since the last call are computed. The
    history only grows at its end and loses its oldest entries (`TrackStore`); anything else
    (a new track reusing an id) is detected by observation identity and computed afresh.
    `forget` drops the tracks that ended; at most `max_tracks` are kept in any case (the earliest
    seen dropped first), so memory stays bounded in a daemon that runs for days.
    """

    def __init__(self, fn: Callable[[Observation, Any], T], max_tracks: int = 1024) -> None:
        self._fn = fn
        self.max_tracks = max_tracks
        self._tracks: dict[int, dict[int, _Column[T]]] = {}

    def values(self, track: Track, shape: object = None) -> list[T]:
        obs = track.observations
        columns = self._tracks.get(track.track_id)
        if columns is None:
            while len(self._tracks) >= self.max_tracks:
                del self._tracks[next(iter(self._tracks))]
            columns = self._tracks[track.track_id] = {}
        col = columns.get(id(shape))
        if col is None or col.shape is not shape:
            col = columns[id(shape)] = _Column[T](shape)
        kept = _common_run(col.observations, obs)
        if kept is None:
            col.observations, col.values = [], []
            kept = 0
        dropped = len(col.observations) - kept
        fn = self._fn
        col.values = col.values[dropped:] + [fn(o, shape) for o in obs[kept:]]
        col.observations = list(obs)
        return col.values

    def forget(self, track_ids: Iterable[int]) -> None:
        for tid in track_ids:
            self._tracks.pop(tid, None)

    def __len__(self) -> int:
        """Tracks held."""
        return len(self._tracks)


def _common_run(cached: list[Observation], obs: tuple[Observation, ...]) -> int | None:
    """How many of `obs`' first observations are the last ones of `cached` (oldest ones dropped,
    new ones appended), or None when `obs` is not a continuation of `cached`."""
    if not cached:
        return 0
    first = obs[0]
    for dropped, o in enumerate(cached):
        if o is first:
            kept = len(cached) - dropped
            if kept <= len(obs) and cached[-1] is obs[kept - 1]:
                return kept
            return None
        if o.frame_index > first.frame_index:
            break
    return None
