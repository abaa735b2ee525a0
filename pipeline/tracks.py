"""Tracker output -> `Track`s with bounded history and one stable label each."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from detector.types import Detection, Observation, Track


@dataclass
class _TrackState:
    history: deque[Observation]
    votes: Counter[str] = field(default_factory=Counter)
    last_seen: float = 0.0


class TrackStore:
    """Collects tracker detections into `Track`s.

    Memory stays flat over days: each track keeps at most `max_history` observations, and a
    track not seen for `max_age_s` seconds is dropped (its id is returned by `expire`).

    The label of a track is the confidence-weighted majority over its whole life, so a box
    that flickers between motorcycle, bicycle and person keeps one class for every rule.
    """

    def __init__(self, max_history: int = 150, max_age_s: float = 5.0):
        if max_history < 2:
            raise ValueError(f"max_history must be at least 2 to see movement, got {max_history}")
        self.max_history = max_history
        self.max_age_s = max_age_s
        self._tracks: dict[int, _TrackState] = {}

    def __len__(self) -> int:
        return len(self._tracks)

    def update(self, frame_index: int, timestamp: float, detections: list[Detection]) -> list[Track]:
        """Add one analysed frame; return the tracks it updated."""
        updated = []
        for det in detections:
            if det.track_id is None:
                continue
            state = self._tracks.get(det.track_id)
            if state is None:
                state = self._tracks[det.track_id] = _TrackState(deque(maxlen=self.max_history))
            state.history.append(Observation(frame_index, timestamp, det.box, det.confidence, det.label))
            state.votes[det.label] += det.confidence
            state.last_seen = timestamp
            updated.append(self._snapshot(det.track_id, state))
        return updated

    def expire(self, now: float) -> list[int]:
        """Drop tracks not seen for `max_age_s`; return their ids."""
        gone = [tid for tid, s in self._tracks.items() if now - s.last_seen > self.max_age_s]
        for tid in gone:
            del self._tracks[tid]
        return gone

    def get(self, track_id: int) -> Track | None:
        state = self._tracks.get(track_id)
        return None if state is None else self._snapshot(track_id, state)

    @staticmethod
    def _snapshot(track_id: int, state: _TrackState) -> Track:
        label = state.votes.most_common(1)[0][0]
        return Track(track_id, label, tuple(state.history))
