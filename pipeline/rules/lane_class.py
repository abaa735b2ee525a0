"""Lane class: a vehicle of a class the lane does not allow stays in it (motorbike in a car lane)."""

from __future__ import annotations

from dataclasses import dataclass

from detector.types import Track
from pipeline.geometry import point_in_polygon
from pipeline.rules.base import VEHICLES, SignalBoard, Violation
from pipeline.scene import Lane, Scene


@dataclass(frozen=True)
class LaneClassRule:
    """The anchor (bottom-centre) of a vehicle whose class is not in a lane's `allowed` list
    stays inside that lane for at least `min_duration_s` without leaving it.

    The class is the track's stable label (the majority over its life, see `TrackStore`), so a
    box flickering between motorcycle and bicycle is judged by one class. Lanes with
    `allowed: null` take every class. The violation frame is the first observation of the stay.
    """

    min_duration_s: float = 2.0
    labels: frozenset[str] = VEHICLES
    name: str = "lane_class"

    def check(self, track: Track, scene: Scene, signals: SignalBoard) -> Violation | None:
        if track.label not in self.labels:
            return None
        for lane in scene.lanes:
            if lane.allowed is None or track.label in lane.allowed:
                continue
            violation = self._check_lane(track, lane)
            if violation is not None:
                return violation
        return None

    def _check_lane(self, track: Track, lane: Lane) -> Violation | None:
        obs = track.observations
        entered: int | None = None  # first observation of the current stay in the lane
        for i, o in enumerate(obs):
            if not point_in_polygon(o.box.anchor, lane.polygon):
                entered = None
                continue
            if entered is None:
                entered = i
            if o.timestamp - obs[entered].timestamp >= self.min_duration_s:
                return self._violation(track, lane, entered, i)
        return None

    def _violation(self, track: Track, lane: Lane, first: int, last: int) -> Violation:
        o = track.observations[first]
        return Violation.at(
            self.name, lane.id, track, o,
            details={"confirmed_frame": track.observations[last].frame_index, "allowed": ", ".join(lane.allowed or [])},
        )
