"""Stop-line overrun: crossing the stop line on red and stopping there, short of the junction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from detector.types import Colour, Track
from pipeline.rules.base import ObservationCache, SignalBoard, Violation
from pipeline.rules.red_light import ROAD_USERS
from pipeline.rules.stop_line import clear_distance, crossed_on, crossings, depth, progress, stood_still
from pipeline.scene import Scene, StopLine


@dataclass(frozen=True)
class StopLineOverrunRule:
    """The anchor crosses a stop line on red (as for `red_light`: `grace_s`, not already past the
    line when the colour began) and then, before proceeding into the junction, stands past the
    line for `min_stop_s` (the anchor stays within a tenth of its box height): it stopped on the
    zebra or in the box in front of the line. Off by default (a queue creeping over the line is
    not what a red-light camera fines); an authority that fines it enables it per scene or with
    `--rule stop_line_overrun`. A vehicle that goes on without stopping is `red_light`'s; one that
    stops past the line and then goes on, still on red, is reported by both.

    The head is the line's `signal` (a standing vehicle makes no movement to pick an arrow by).
    """

    grace_s: float = 0.5
    violate_on: frozenset[Colour] = frozenset({Colour.RED})
    min_depth_px: float = 4.0
    min_stop_s: float = 1.0
    clear_box_heights: float = 1.0
    labels: frozenset[str] = ROAD_USERS
    name: str = "stop_line_overrun"
    _depths: ObservationCache[float] = field(
        default_factory=lambda: ObservationCache(depth), init=False, repr=False, compare=False
    )

    def forget(self, track_ids: Iterable[int]) -> None:
        self._depths.forget(track_ids)

    def check(self, track: Track, scene: Scene, signals: SignalBoard) -> Violation | None:
        if track.label not in self.labels or len(track.observations) < 2:
            return None
        for line in scene.stop_lines:
            violation = self._check_line(track, line, signals)
            if violation is not None:
                return violation
        return None

    def _check_line(self, track: Track, line: StopLine, signals: SignalBoard) -> Violation | None:
        obs = track.observations
        depths = self._depths.values(track, line)
        for i in crossings(obs, depths, line, self.min_depth_px):
            distance = clear_distance(line, obs[i], self.clear_box_heights)
            went = progress(obs, depths, i, line, distance, float("inf")).proceeded
            stood = stood_still(obs, depths, i, len(obs) - 1 if went is None else went, self.min_stop_s)
            if stood is None:
                continue  # went on into the junction without stopping, or not watched long enough yet
            red = crossed_on(obs, depths, i, line.signal, signals, self.violate_on, self.grace_s)
            if red is None:
                continue
            return Violation.at(
                self.name, line.id, track, obs[i],
                signal_id=line.signal, signal_colour=red.state.colour, seconds_into_colour=round(red.seconds_in, 3),
                details={"prev_frame": obs[i - 1].frame_index, "stood_until_frame": obs[stood].frame_index},
            )  # fmt: skip
        return None

