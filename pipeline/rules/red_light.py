"""Red light: crossing a stop line on red and proceeding into the junction (two-line trigger)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from detector.types import Colour, Track
from pipeline.rules.base import ObservationCache, SignalBoard, Violation
from pipeline.rules.stop_line import (
    clear_distance,
    crossed_on,
    crossings,
    depth,
    governing_head,
    movement,
    moving_on_at_end,
    progress,
    stood_still,
)
from pipeline.scene import Scene, StopLine

ROAD_USERS = frozenset({"car", "motorcycle", "bus", "truck", "bicycle", "person"})


@dataclass(frozen=True)
class RedLightRule:
    """The anchor (bottom-centre) crosses a stop line along its approach while the head that
    controls the vehicle's movement shows a `violate_on` colour, and then proceeds into the
    junction while it still does (see `pipeline.rules.stop_line`).

    The crossing counts when, at the first frame past the line, the head has shown the colour for
    at least `grace_s` and the vehicle was not already past the line when the colour began. It
    proceeds when it crosses the line's `clear_line`, or its anchor travels `clear_distance` (default
    `clear_box_heights` box heights) from where it crossed, within `max_clear_s`, without coming
    clearly back behind the stop line. A vehicle that stops past the line on the way (stands for
    `min_stop_s`) and goes on only once the light has changed is not reported (that is
    `stop_line_overrun`); one that goes on still on red is. A track lost before that (`finish`,
    called when a track ends) proceeded when it was still moving on, clearly past the line, when
    it was lost (`moving_on_at_end`). Creeping over the line and stopping is `stop_line_overrun`. The report
    is made once the vehicle has proceeded (up to `max_clear_s` after the crossing, or when its
    track ends), and keeps the crossing as its frame.

    Where the line names a head per movement (`movements`, e.g. a right-turn arrow), the movement
    is read from the anchor's path after the line; the report waits for it only while the heads
    disagree. A movement head that is DARK (an arrow that is off) gives its movement back to the
    line's own head. `labels` includes person: a person left after rider merging (detector/riders.py) is
    nearly always a rider whose two-wheeler the detector missed.
    """

    grace_s: float = 0.5
    violate_on: frozenset[Colour] = frozenset({Colour.RED})
    min_depth_px: float = 4.0
    labels: frozenset[str] = ROAD_USERS
    clear_box_heights: float = 1.0
    max_clear_s: float = 4.0
    turn_angle_deg: float = 35.0
    min_stop_s: float = 1.0
    name: str = "red_light"
    _depths: ObservationCache[float] = field(
        default_factory=lambda: ObservationCache(depth), init=False, repr=False, compare=False
    )

    def forget(self, track_ids: Iterable[int]) -> None:
        """Drop what is kept of tracks that ended."""
        self._depths.forget(track_ids)

    def check(self, track: Track, scene: Scene, signals: SignalBoard) -> Violation | None:
        return self._check(track, scene, signals, ended=False)

    def finish(self, track: Track, scene: Scene, signals: SignalBoard) -> Violation | None:
        """The last look at a track that has ended (lost, or the video is over)."""
        return self._check(track, scene, signals, ended=True)

    def _check(self, track: Track, scene: Scene, signals: SignalBoard, ended: bool) -> Violation | None:
        if track.label not in self.labels or len(track.observations) < 2:
            return None
        for stop_line in scene.stop_lines:
            violation = self._check_line(track, stop_line, signals, ended)
            if violation is not None:
                return violation
        return None

    def _check_line(self, track: Track, line: StopLine, signals: SignalBoard, ended: bool) -> Violation | None:
        obs = track.observations
        depths = self._depths.values(track, line)
        for i in crossings(obs, depths, line, self.min_depth_px):
            distance = clear_distance(line, obs[i], self.clear_box_heights)
            went = progress(obs, depths, i, line, distance, self.max_clear_s).proceeded
            if went is None and ended and obs[-1].timestamp - obs[i].timestamp <= self.max_clear_s:
                went = moving_on_at_end(obs, depths, i)
            if went is None:
                continue
            heads = line.heads
            turn = None
            if len(heads) > 1:
                on = [crossed_on(obs, depths, i, h, signals, self.violate_on, self.grace_s) for h in heads]
                if not any(on):
                    continue
                if not all(on):  # the heads disagree: which one this vehicle obeys depends on its movement
                    turn = movement(obs, i, line, distance, self.turn_angle_deg, ended)
                    if turn is None:
                        continue  # not far enough yet to tell its movement
            head = governing_head(line, turn, signals, obs[i].timestamp)
            red = crossed_on(obs, depths, i, head, signals, self.violate_on, self.grace_s)
            if red is None:
                continue
            if stood_still(obs, depths, i, went, self.min_stop_s) is not None:
                later = signals.state_at(head, obs[went].timestamp)
                if later is None or later.colour not in self.violate_on:
                    continue  # stopped past the line and went on once the light changed: an overrun
            details: dict[str, float | str] = {
                "prev_frame": obs[i - 1].frame_index, "clear_frame": obs[went].frame_index,
            }  # fmt: skip
            if turn is not None:
                details["movement"] = turn
            return Violation.at(
                self.name, line.id, track, obs[i],
                signal_id=head, signal_colour=red.state.colour, seconds_into_colour=round(red.seconds_in, 3),
                details=details,
            )  # fmt: skip
        return None
