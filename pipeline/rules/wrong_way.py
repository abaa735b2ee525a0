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
    """Inside a lane with a `direction`, the vehicle travels against that direction.

    Travel is the movement of the box *centre*, not of an edge: a box that grows and shrinks
    round a queued vehicle (occlusion, a rider and bike boxed together then apart) moves its
    bottom edge while the vehicle stands still. At each observation in the lane (judged by the
    anchor, where the vehicle touches the road), the recent history is the shortest stretch of
    in-lane observations ending there that lasts `min_duration_s` and over which the centre moved
    at least `min_travel_px` and `min_box_heights` times the tallest box of the stretch (so the
    threshold scales with the vehicle and the frame, and a box doubling its height cannot fake
    it), looking back at most `max_window_s`. It is wrong way when that displacement's cosine
    with the direction is below `max_cosine` *and* the movement is consistent: neither half of the
    stretch moves with the direction. Standing still never travels far enough, crossing
    the lane at a right angle has a cosine near 0, and turning round and driving back qualifies
    once the way back is long.

    The violation frame is the end of the first qualifying window, where the wrong-way travel is
    established (the window's first frame is in `details`). A person marking a wrong-way rider
    marks a frame where the rider is evidently going the wrong way, not where the ride began:
    the four wrong-way riders of the shared Hanoi truth are marked 65-88% of the way through
    their wrong-way stretch, and the middle of the first window put two of them 1.3-1.5 s before
    that frame, outside the 1 s a report may be from the truth.
    """

    min_travel_px: float = 60.0
    min_duration_s: float = 1.0
    max_cosine: float = -0.5
    max_window_s: float = 4.0
    min_box_heights: float = 0.5
    labels: frozenset[str] = VEHICLES
    name: str = "wrong_way"
    _centres: ObservationCache[tuple[float, float]] = field(
        default_factory=lambda: ObservationCache(_centre), init=False, repr=False, compare=False
    )
    _inside: ObservationCache[bool] = field(
        default_factory=lambda: ObservationCache(_in_lane), init=False, repr=False, compare=False
    )

    def forget(self, track_ids: Iterable[int]) -> None:
        """Drop what is kept of tracks that ended."""
        track_ids = list(track_ids)
        self._centres.forget(track_ids)
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
        centres = self._centres.values(track)
        inside = self._inside.values(track, lane)
        if not _spread_at_least([p for p, ok in zip(centres, inside, strict=True) if ok], self.min_travel_px):
            return None  # standing (or jittering) in the lane: no window can travel far enough
        look_back = max(self.max_window_s, self.min_duration_s)
        run = last = 0  # first observation of the stretch in the lane; latest window start long enough
        for end, (x, y) in enumerate(centres):
            if not inside[end]:
                run = last = end + 1
                continue
            now = obs[end].timestamp
            while last + 1 < end and now - obs[last + 1].timestamp >= self.min_duration_s:
                last += 1
            # the shortest window ending here that lasts min_duration_s and travels min_travel_px
            first = min(last, end - 1)
            tallest = max((o.box.height for o in obs[first + 1 : end + 1]), default=0.0)
            for s in range(first, run - 1, -1):
                move = (x - centres[s][0], y - centres[s][1])
                if now - obs[s].timestamp > look_back:
                    break
                tallest = max(tallest, obs[s].box.height)
                need = max(self.min_travel_px, self.min_box_heights * tallest)
                if now - obs[s].timestamp >= self.min_duration_s and math.hypot(*move) >= need:
                    cos = cosine(move, lane.direction)
                    if cos < self.max_cosine and _consistent(centres[s : end + 1], lane.direction):
                        return self._violation(track, lane, s, end, cos)
                    break
        return None

    def _violation(self, track: Track, lane: Lane, first: int, last: int, cos: float) -> Violation:
        obs = track.observations
        return Violation.at(
            self.name, lane.id, track, obs[last],
            details={"first_frame": obs[first].frame_index, "confirmed_frame": obs[last].frame_index,
                     "cosine": round(cos, 3)},
        )


def _centre(observation: Observation, _: object) -> tuple[float, float]:
    b = observation.box
    return ((b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2)


def _consistent(centres: list[tuple[float, float]], direction: tuple[float, float], parts: int = 2) -> bool:
    """Does no `parts`-th of the path move with `direction`? A box wobbling back and forth (or a
    track jumping between two road users) nets its displacement in one part and gives it back in
    another; a vehicle driving the wrong way, or standing a while first, does not."""
    n = len(centres) - 1
    if n < parts:
        return False
    cuts = [round(k * n / parts) for k in range(parts + 1)]
    for a, b in zip(cuts, cuts[1:], strict=False):
        dx, dy = centres[b][0] - centres[a][0], centres[b][1] - centres[a][1]
        if dx * direction[0] + dy * direction[1] > 0:
            return False
    return True


def _in_lane(observation: Observation, lane: Lane) -> bool:
    return point_in_polygon(observation.box.anchor, lane.polygon)


def _spread_at_least(points: list[tuple[float, float]], distance: float) -> bool:
    """Is the bounding box of `points` at least `distance` across?"""
    if len(points) < 2:
        return False
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return math.hypot(max(xs) - min(xs), max(ys) - min(ys)) >= distance
