"""Wrong way: a vehicle inside a lane moves against the lane's direction of travel."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from detector.types import Observation, Track
from pipeline.geometry import cosine, point_in_polygon
from pipeline.rules.base import VEHICLES, ObservationCache, SignalBoard, Violation
from pipeline.scene import Lane, Scene


@dataclass(frozen=True)
class WrongWayRule:
    """Inside a lane with a `direction`, the anchor's displacement opposes that direction.

    At each observation in the lane, the recent history is the shortest stretch of in-lane
    observations ending there that lasts `min_duration_s` and over which the anchor moved
    `min_travel_px` (looking back at most `max_window_s`: slow riders count, old history does
    not). It is wrong way when that displacement's cosine with the direction is below
    `max_cosine`. Standing still never travels far enough, crossing the lane at a right angle
    has a cosine near 0, and turning round and driving back qualifies once the way back is long.

    The violation frame is the middle of the first qualifying window (its ends are in
    `details`), within half a window of where the movement began and where it was confirmed.
    """

    min_travel_px: float = 60.0
    min_duration_s: float = 1.0
    max_cosine: float = -0.5
    max_window_s: float = 4.0
    labels: frozenset[str] = VEHICLES
    name: str = "wrong_way"
    _anchors: ObservationCache[tuple[float, float]] = field(
        default_factory=lambda: ObservationCache(lambda o, _: o.box.anchor), init=False, repr=False, compare=False
    )
    _inside: ObservationCache[bool] = field(
        default_factory=lambda: ObservationCache(_in_lane), init=False, repr=False, compare=False
    )

    def forget(self, track_ids: Iterable[int]) -> None:
        """Drop what is kept of tracks that ended."""
        track_ids = list(track_ids)
        self._anchors.forget(track_ids)
        self._inside.forget(track_ids)

    def check(self, track: Track, scene: Scene, signals: SignalBoard) -> Violation | None:
        if track.label not in self.labels or len(track.observations) < 2:
            return None
        for lane in scene.lanes:
            if lane.direction is None:
                continue
            violation = self._check_lane(track, lane)
            if violation is not None:
                return violation
        return None

    def _check_lane(self, track: Track, lane: Lane) -> Violation | None:
        assert lane.direction is not None
        obs = track.observations
        anchors = self._anchors.values(track)
        inside = self._inside.values(track, lane)
        if not _spread_at_least([p for p, ok in zip(anchors, inside, strict=True) if ok], self.min_travel_px):
            return None  # standing (or jittering) in the lane: no window can travel far enough
        look_back = max(self.max_window_s, self.min_duration_s)
        run = last = 0  # first observation of the stretch in the lane; latest window start long enough
        for end, (x, y) in enumerate(anchors):
            if not inside[end]:
                run = last = end + 1
                continue
            now = obs[end].timestamp
            while last + 1 < end and now - obs[last + 1].timestamp >= self.min_duration_s:
                last += 1
            # the shortest window ending here that lasts min_duration_s and travels min_travel_px
            for s in range(min(last, end - 1), run - 1, -1):
                move = (x - anchors[s][0], y - anchors[s][1])
                if now - obs[s].timestamp > look_back:
                    break
                if now - obs[s].timestamp >= self.min_duration_s and math.hypot(*move) >= self.min_travel_px:
                    cos = cosine(move, lane.direction)
                    if cos < self.max_cosine:
                        return self._violation(track, lane, s, end, cos)
                    break
        return None

    def _violation(self, track: Track, lane: Lane, first: int, last: int, cos: float) -> Violation:
        obs = track.observations
        middle = (obs[first].timestamp + obs[last].timestamp) / 2
        o = min(obs[first : last + 1], key=lambda o: abs(o.timestamp - middle))
        return Violation.at(
            self.name, lane.id, track, o,
            details={"first_frame": obs[first].frame_index, "confirmed_frame": obs[last].frame_index,
                     "cosine": round(cos, 3)},
        )


def _in_lane(observation: Observation, lane: Lane) -> bool:
    return point_in_polygon(observation.box.anchor, lane.polygon)


def _spread_at_least(points: list[tuple[float, float]], distance: float) -> bool:
    """Is the bounding box of `points` at least `distance` across?"""
    if len(points) < 2:
        return False
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return math.hypot(max(xs) - min(xs), max(ys) - min(ys)) >= distance
