"""The colour history of every signal head, as rules read it."""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from detector.types import Colour, LightState

if TYPE_CHECKING:
    from pipeline.scene import StopLine


class SignalTimeline:
    """Colour changes of one signal head, oldest first, bounded to `max_changes`."""

    def __init__(self, max_changes: int = 256):
        self._states: deque[LightState] = deque(maxlen=max_changes)

    def record(self, state: LightState) -> None:
        last = self._states[-1] if self._states else None
        if last is None or (state.colour, state.since_frame) != (last.colour, last.since_frame):
            # a change confirmed late may begin before the previous entry: drop superseded entries
            while self._states and self._states[-1].since >= state.since:
                self._states.pop()
            self._states.append(state)

    def state_at(self, timestamp: float) -> LightState | None:
        starts = [s.since for s in self._states]
        i = bisect.bisect_right(starts, timestamp) - 1
        return self._states[i] if i >= 0 else None

    def changes(self) -> list[LightState]:
        return list(self._states)

    def onset_seen(self, timestamp: float) -> bool:
        """Was the start of the colour shown at `timestamp` seen, i.e. did a known colour come
        before it? False when it was already on at the first reading (or after an unknown spell)."""
        starts = [s.since for s in self._states]
        i = bisect.bisect_right(starts, timestamp) - 1
        return i >= 1 and self._states[i - 1].colour is not Colour.UNKNOWN


class SignalBoard:
    """All signal heads of a scene; implements the rules' `SignalBoard` protocol."""

    def __init__(self, signal_ids: list[str], max_changes: int = 256):
        self._timelines = {sid: SignalTimeline(max_changes) for sid in signal_ids}

    def record(self, states: dict[str, LightState]) -> None:
        for sid, state in states.items():
            self._timelines[sid].record(state)

    def state_at(self, signal_id: str, timestamp: float) -> LightState | None:
        timeline = self._timelines.get(signal_id)
        return None if timeline is None else timeline.state_at(timestamp)

    def onset_seen(self, signal_id: str, timestamp: float) -> bool:
        """Whether the colour of `signal_id` at `timestamp` began while it was watched."""
        timeline = self._timelines.get(signal_id)
        return timeline is not None and timeline.onset_seen(timestamp)

    def timelines(self) -> dict[str, list[LightState]]:
        return {sid: t.changes() for sid, t in self._timelines.items()}

def unreadable_heads(stop_lines: Iterable[StopLine], states: Mapping[str, Colour]) -> list[str]:
    """The heads, of every stop line and every movement with a head of its own (a turn arrow),
    whose colour is UNKNOWN now: the traffic they control is not enforced. A movement head is
    named with its movement and line, `right_arrow (right at approach_stop)`."""
    unread: dict[str, None] = {}
    for line in stop_lines:
        if states.get(line.signal, Colour.UNKNOWN) is Colour.UNKNOWN:
            unread[line.signal] = None
        for move, head in line.movements.items():
            if head != line.signal and states.get(head, Colour.UNKNOWN) is Colour.UNKNOWN:
                unread[f"{head} ({move} at {line.id})"] = None
    return sorted(unread)
