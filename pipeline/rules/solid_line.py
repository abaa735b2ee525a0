"""Solid line: a vehicle's bottom-centre path crosses a solid lane marking and stays across."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise

from detector.types import Observation, Track
from pipeline.geometry import path_crosses_polyline, side_of_polyline
from pipeline.rules.base import VEHICLES, ObservationCache, SignalBoard, Violation
from pipeline.scene import Scene, SolidLine


@dataclass(frozen=True)
class SolidLineRule:
    """The anchor (bottom-centre) crosses a solid polyline and stays on the far side.

    Each observation is on one side of the line, or *on* it when its anchor lies within
    `min_depth_px` (or a tenth of the box width, if larger) of the line; on-line observations
    count for neither side, so a box straddling the marking never crosses it. The track's
    side changes once it has been on the other side for `min_frames` observations without
    coming back; that change is a violation when the anchor path between the two sides meets
    the line (not when it goes round an end of it). The violation frame is the first one on
    the far side. A track that crosses and comes back yields the same `where` (the line id),
    so the engine reports it once.
    """

    min_frames: int = 3
    min_depth_px: float = 4.0
    labels: frozenset[str] = VEHICLES
    name: str = "solid_line"
    _sides: ObservationCache[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.min_frames < 1:
            raise ValueError(f"min_frames must be at least 1, got {self.min_frames}")
        object.__setattr__(self, "_sides", ObservationCache(self._side))

    def forget(self, track_ids: Iterable[int]) -> None:
        """Drop what is kept of tracks that ended."""
        self._sides.forget(track_ids)

    def check(self, track: Track, scene: Scene, signals: SignalBoard) -> Violation | None:
        if track.label not in self.labels or len(track.observations) <= self.min_frames:
            return None
        for line in scene.solid_lines:
            violation = self._check_line(track, line)
            if violation is not None:
                return violation
        return None

    def _side(self, observation: Observation, line: SolidLine) -> int:
        """+1 / -1 for the two sides of the line, 0 for on the line (inside the dead band)."""
        box = observation.box
        distance = side_of_polyline(box.anchor, line.line)
        if abs(distance) <= max(self.min_depth_px, 0.1 * box.width):
            return 0
        return 1 if distance > 0 else -1

    def _check_line(self, track: Track, line: SolidLine) -> Violation | None:
        obs = track.observations
        sides = self._sides.values(track, line)
        settled = 0  # the side the track is known to be on; 0 until first seen clear of the line
        last_settled = -1  # index of the latest observation on the settled side
        run_start, run_len = -1, 0  # current streak on the other side
        for i, side in enumerate(sides):
            if side == 0:
                continue
            if settled == 0 or side == settled:
                settled, last_settled, run_len = side, i, 0
                continue
            if run_len == 0:
                run_start = i
            run_len += 1
            if run_len < self.min_frames:
                continue
            path = [o.box.anchor for o in obs[last_settled : run_start + 1]]
            if any(path_crosses_polyline(p, q, line.line) for p, q in pairwise(path)):
                return self._violation(track, line, run_start, last_settled)
            settled, last_settled, run_len = side, i, 0  # went round the end of the line
        return None

    def _violation(self, track: Track, line: SolidLine, far: int, near: int) -> Violation:
        o = track.observations[far]
        return Violation.at(
            self.name, line.id, track, o,
            details={"prev_frame": track.observations[near].frame_index},
        )
