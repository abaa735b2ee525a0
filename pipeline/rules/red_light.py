"""Red light: crossing a stop line, along its approach, while its signal shows a stopping colour."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from detector.types import Colour, Observation, Track
from pipeline.geometry import path_crosses_polyline, signed_distance
from pipeline.rules.base import ObservationCache, SignalBoard, Violation
from pipeline.scene import Scene, StopLine

ROAD_USERS = frozenset({"car", "motorcycle", "bus", "truck", "bicycle", "person"})


@dataclass(frozen=True)
class RedLightRule:
    """The anchor (bottom-centre) moves from the approach side of a stop line to the far side.

    It is a violation when, at the first frame past the line, the controlling signal has shown
    a `violate_on` colour for at least `grace_s`, and the vehicle was not already past the line
    when that colour began. `labels` includes person by default: a person left after rider
    merging (see detector/riders.py) is nearly always a rider whose two-wheeler the detector
    missed; pedestrians cross the road along the zebra, not over the stop line along the approach,
    and the reviewer rejects the rare exception. The crossing counts once the anchor reaches `min_depth_px` (or a
    tenth of the box height, if larger) beyond the line without coming back, so a box jittering
    on the line is not a crossing.
    """

    grace_s: float = 0.5
    violate_on: frozenset[Colour] = frozenset({Colour.RED})
    min_depth_px: float = 4.0
    labels: frozenset[str] = ROAD_USERS
    name: str = "red_light"
    _depths: ObservationCache[float] = field(
        default_factory=lambda: ObservationCache(_depth), init=False, repr=False, compare=False
    )

    def forget(self, track_ids: Iterable[int]) -> None:
        """Drop what is kept of tracks that ended."""
        self._depths.forget(track_ids)

    def check(self, track: Track, scene: Scene, signals: SignalBoard) -> Violation | None:
        if track.label not in self.labels or len(track.observations) < 2:
            return None
        for stop_line in scene.stop_lines:
            violation = self._check_line(track, stop_line, signals)
            if violation is not None:
                return violation
        return None

    def _check_line(self, track: Track, line: StopLine, signals: SignalBoard) -> Violation | None:
        obs = track.observations
        depth = self._depths.values(track, line)
        for i in range(1, len(obs)):
            if not (depth[i - 1] <= 0 < depth[i]):
                continue
            if not path_crosses_polyline(obs[i - 1].box.anchor, obs[i].box.anchor, line.line):
                continue  # passed beside the stop line, not over it
            if not self._confirmed(depth[i:], obs[i].box.height):
                continue
            crossing = obs[i]
            state = signals.state_at(line.signal, crossing.timestamp)
            if state is None or state.colour not in self.violate_on:
                continue
            seconds_in = crossing.timestamp - state.since
            if seconds_in < self.grace_s:
                continue
            if _past_line_at(obs, depth, state.since):
                continue
            return Violation.at(
                self.name, line.id, track, crossing,
                signal_id=line.signal,
                signal_colour=state.colour,
                seconds_into_colour=round(seconds_in, 3),
                details={"prev_frame": obs[i - 1].frame_index},
            )
        return None

    def _confirmed(self, depths_after: Iterable[float], box_height: float) -> bool:
        need = max(self.min_depth_px, 0.1 * box_height)
        for d in depths_after:
            if d <= 0:
                return False  # came back before getting clearly across
            if d >= need:
                return True
        return False


def _depth(observation: Observation, line: StopLine) -> float:
    """How far the anchor is past the (straight) stop line, towards its approach direction."""
    return signed_distance(observation.box.anchor, line.line[0], line.line[-1], line.approach)


def _past_line_at(obs: tuple[Observation, ...], depth: list[float], since: float) -> bool:
    """Was the track past the line at `since`? Judged by its last observation at or before it;
    a track first seen later arrived during the colour, so it was not."""
    before = [d for o, d in zip(obs, depth, strict=True) if o.timestamp <= since]
    return bool(before) and before[-1] > 0
