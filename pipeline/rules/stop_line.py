"""What the stop-line rules share: where a track crosses a stop line, whether it then proceeds
into the junction (the second trigger of a red-light camera), which movement it makes, and the
signal state it crossed on.

A red-light camera photographs a vehicle twice: on the stop line and again inside the junction.
Crossing the first line alone is no proof: in dense motorbike traffic riders edge over the line
at red and stop there. `proceeded` is the second trigger: the anchor crosses the stop line's
`clear_line`, or travels `clear_distance` (default: `clear_box_heights` times the vehicle's box
height at the crossing, so it scales with the vehicle and the frame) from where it crossed,
without coming back behind the stop line.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from detector.types import Colour, LightState, Observation
from pipeline.geometry import path_crosses_polyline, signed_distance
from pipeline.rules.base import SignalBoard
from pipeline.scene import StopLine


def depth(observation: Observation, line: StopLine) -> float:
    """How far the anchor is past the (straight) stop line, towards its approach direction."""
    return signed_distance(observation.box.anchor, line.line[0], line.line[-1], line.approach)


def crossings(
    obs: Sequence[Observation], depths: Sequence[float], line: StopLine, min_depth_px: float
) -> Iterator[int]:
    """Indices of the first observation past the line of every crossing along the approach.

    The anchor path between two analysed frames must meet the line (not pass beside it), and the
    anchor must get `min_depth_px` (or a tenth of the box height, if larger) past the line
    without coming back, so a box jittering on the line is not a crossing.
    """
    for i in range(1, len(obs)):
        if not (depths[i - 1] <= 0 < depths[i]):
            continue
        if not path_crosses_polyline(obs[i - 1].box.anchor, obs[i].box.anchor, line.line):
            continue
        need = max(min_depth_px, 0.1 * obs[i].box.height)
        for d in depths[i:]:
            if d <= 0:
                break  # came back before getting clearly across
            if d >= need:
                yield i
                break


def clear_distance(line: StopLine, crossing: Observation, box_heights: float) -> float:
    """How far the anchor must travel from its crossing point to have proceeded."""
    return line.clear_distance if line.clear_distance is not None else box_heights * crossing.box.height


@dataclass(frozen=True, slots=True)
class Progress:
    """What a track did after crossing at observation `crossing`: the first observation at which
    it had proceeded (None: not yet), and whether it has stayed past the stop line until then."""

    proceeded: int | None
    last_past: int  # the last observation since the crossing with the anchor still past the line


def progress(
    obs: Sequence[Observation], depths: Sequence[float], i: int, line: StopLine, distance: float, max_s: float
) -> Progress:
    """Follow the track from crossing `i` for at most `max_s` seconds, until it proceeds or goes
    clearly back behind the line (a tenth of its box height: a box that grows for a frame, as
    two road users are boxed together, moves its bottom edge back while the vehicle goes on)."""
    start = obs[i].box.anchor
    last = i
    for j in range(i, len(obs)):
        if obs[j].timestamp - obs[i].timestamp > max_s or depths[j] < -0.1 * obs[j].box.height:
            break
        last = j
        here = obs[j].box.anchor
        if line.clear_line is not None:
            if path_crosses_polyline(obs[j - 1].box.anchor, here, line.clear_line):
                return Progress(j, j)
        elif math.dist(start, here) >= distance:
            return Progress(j, j)
    return Progress(None, last)


def stood_still(
    obs: Sequence[Observation], depths: Sequence[float], i: int, until: int, min_stop_s: float
) -> int | None:
    """The end of the first stretch of at least `min_stop_s`, between the crossing `i` and
    `until`, over which the anchor stayed past the line within a tenth of the box height of where
    the stretch began (standing); None when there is none."""
    for j in range(i, until + 1):
        if depths[j] <= 0:
            return None  # backed off behind the line
        start, reach = obs[j].box.anchor, 0.1 * obs[j].box.height
        for k in range(j + 1, until + 1):
            if depths[k] <= 0 or math.dist(start, obs[k].box.anchor) > reach:
                break
            if obs[k].timestamp - obs[j].timestamp >= min_stop_s - 1e-9:
                return k
    return None


def moving_on_at_end(obs: Sequence[Observation], depths: Sequence[float], i: int, window_s: float = 1.0) -> int | None:
    """For a track that has ended: was it still going on into the junction when it was lost?

    Tracks of small road users are often lost a little past the line (occluded, or too small
    further away) before they have gone `clear_distance`. One that crossed at `i`, stayed past
    the line, ended at least a quarter of its box height past it, and was still moving on at the
    end (its depth grew by a tenth of its box height over the last `window_s`) proceeded; one
    that crept over and stood still did not. Returns the index of its last observation, or None.
    """
    last = len(obs) - 1
    if last <= i or any(d <= 0 for d in depths[i:]):
        return None
    height = obs[last].box.height
    if depths[last] < 0.25 * height:
        return None
    start = next(j for j in range(i, last + 1) if obs[last].timestamp - obs[j].timestamp <= window_s)
    if start == last:
        start = last - 1
    return last if depths[last] - depths[start] >= 0.1 * height else None


def movement(
    obs: Sequence[Observation], i: int, line: StopLine, distance: float, turn_angle_deg: float, ended: bool = False
) -> str | None:
    """The movement (straight, left, right, u_turn) of the track after crossing at `i`, from the
    direction of its anchor's displacement once it is `2 * distance` from the crossing point
    (for a track that has ended: at its last observation); None while it has not got that far.
    Left and right are the driver's, with the image's y axis pointing down (a vehicle driving up
    the image that turns right moves right)."""
    ax, ay = line.approach
    x0, y0 = obs[i].box.anchor
    for k, o in enumerate(obs[i + 1 :], start=i + 1):
        dx, dy = o.box.anchor[0] - x0, o.box.anchor[1] - y0
        if math.hypot(dx, dy) < 2 * distance and not (ended and k == len(obs) - 1):
            continue
        angle = math.degrees(math.atan2(ax * dy - ay * dx, ax * dx + ay * dy))  # > 0: to the right
        if abs(angle) < turn_angle_deg:
            return "straight"
        if abs(angle) > 135:
            return "u_turn"
        return "right" if angle > 0 else "left"
    return None


def governing_head(line: StopLine, turn: str | None, signals: SignalBoard, timestamp: float) -> str:
    """The head that `turn` over `line` obeys at `timestamp`: the movement's own head (an arrow)
    where the line names one, except while that head is DARK: an arrow that is off gives its
    movement back to the line's own head."""
    head = line.head_for(turn)
    if head != line.signal:
        state = signals.state_at(head, timestamp)
        if state is not None and state.colour is Colour.DARK:
            return line.signal
    return head


@dataclass(frozen=True, slots=True)
class OnRed:
    """The signal state a crossing happened on, when it is one the rule reports."""

    head: str
    state: LightState
    seconds_in: float


def crossed_on(
    obs: Sequence[Observation], depths: Sequence[float], i: int, head: str, signals: SignalBoard,
    violate_on: frozenset[Colour], grace_s: float,
) -> OnRed | None:  # fmt: skip
    """The state of `head` at crossing `i`, when it is a `violate_on` colour shown for at least
    `grace_s` and the track was not already past the line when it began; else None. An UNKNOWN
    (unreadable) head is never a violation."""
    crossing = obs[i]
    state = signals.state_at(head, crossing.timestamp)
    if state is None or state.colour not in violate_on:
        return None
    seconds_in = crossing.timestamp - state.since
    if seconds_in < grace_s or _past_line_at(obs, depths, state.since):
        return None
    return OnRed(head, state, seconds_in)


def _past_line_at(obs: Sequence[Observation], depths: Sequence[float], since: float) -> bool:
    """Was the track past the line at `since`? Judged by its last observation at or before it;
    a track first seen later arrived during the colour, so it was not."""
    before = [d for o, d in zip(obs, depths, strict=True) if o.timestamp <= since]
    return bool(before) and before[-1] > 0
