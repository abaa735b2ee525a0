"""Wrong way: a vehicle inside a lane moves against the lane's direction of travel."""

from __future__ import annotations

import math
from dataclasses import dataclass

from detector.types import Track
from pipeline.geometry import cosine, point_in_polygon
from pipeline.rules.base import SignalBoard, Violation
from pipeline.scene import Lane, Scene

VEHICLES = frozenset({"car", "motorcycle", "bus", "truck", "bicycle"})


@dataclass(frozen=True)
class WrongWayRule:
    """Inside a lane with a `direction`, the anchor's displacement opposes that direction.

    For each observation in the lane, the recent history is the shortest stretch of in-lane
    observations ending there that lasts `min_duration_s` and over which the anchor has moved
    `min_travel_px` (looking back at most `max_window_s`, so a slow rider still counts but old
    history does not). It is wrong way when that displacement's cosine with the lane direction
    is below `max_cosine` (-0.5: more than 120 degrees off). A vehicle standing still never
    travels far enough and one crossing the lane at a right angle has a cosine near 0, while
    one that turns round and drives back qualifies once its way back is long enough.

    The violation frame is the first observation of the first qualifying window: about where
    the wrong-way movement began, not the moment it had lasted `min_duration_s`.
    """

    min_travel_px: float = 60.0
    min_duration_s: float = 1.0
    max_cosine: float = -0.5
    max_window_s: float = 4.0
    labels: frozenset[str] = VEHICLES
    name: str = "wrong_way"

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
        anchors = [o.box.anchor for o in obs]
        inside = [point_in_polygon(p, lane.polygon) for p in anchors]
        if not _spread_at_least(anchors, inside, self.min_travel_px):
            return None  # standing (or jittering) in the lane: no window can travel far enough
        run = 0  # first observation of the current stretch inside the lane
        last = 0  # latest window start that is min_duration_s before `end`
        for end, (x1, y1) in enumerate(anchors):
            if not inside[end]:
                run = last = end + 1
                continue
            now = obs[end].timestamp
            while last + 1 < end and now - obs[last + 1].timestamp >= self.min_duration_s:
                last += 1
            # the shortest window ending here that lasts min_duration_s and travels min_travel_px
            for s in range(min(last, end - 1), run - 1, -1):
                if now - obs[s].timestamp > max(self.max_window_s, self.min_duration_s):
                    break
                move = (x1 - anchors[s][0], y1 - anchors[s][1])
                if now - obs[s].timestamp < self.min_duration_s or math.hypot(*move) < self.min_travel_px:
                    continue
                cos = cosine(move, lane.direction)
                if cos < self.max_cosine:
                    return self._violation(track, lane, s, end, cos)
                break
        return None

    def _violation(self, track: Track, lane: Lane, first: int, last: int, cos: float) -> Violation:
        o = track.observations[first]
        return Violation(
            rule=self.name,
            where=lane.id,
            track_id=track.track_id,
            label=track.label,
            frame_index=o.frame_index,
            timestamp=o.timestamp,
            box=o.box,
            confidence=o.confidence,
            details={"confirmed_frame": track.observations[last].frame_index, "cosine": round(cos, 3)},
        )


def _spread_at_least(anchors: list[tuple[float, float]], inside: list[bool], distance: float) -> bool:
    """Is the extent of the in-lane anchors at least `distance` across?"""
    pts = [p for p, ok in zip(anchors, inside, strict=True) if ok]
    if len(pts) < 2:
        return False
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return math.hypot(max(xs) - min(xs), max(ys) - min(ys)) >= distance
