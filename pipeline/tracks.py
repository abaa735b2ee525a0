"""Tracker output -> `Track`s with bounded history and one stable label each."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from detector.types import Detection, Observation, Track


@dataclass
class _TrackState:
    track_id: int
    history: deque[Observation]
    votes: Counter[str] = field(default_factory=Counter)
    last_seen: float = 0.0
    ended: bool = False


class TrackStore:
    """Collects tracker detections into `Track`s.

    Memory stays flat over days: each track keeps at most `max_history` observations, and a
    track not seen for `max_age_s` seconds is dropped (its id is returned by `expire`).

    The label of a track is the confidence-weighted majority over its whole life, so a box
    that flickers between motorcycle, bicycle and person keeps one class for every rule.

    Track ids are this store's own. A tracker id seen again after more than `max_gap_s` without
    a box starts a new track: ByteTrack keeps a lost track for 30 analysed frames whatever the
    frame rate, moving its predicted box on at the last speed, and at 6 fps (5 s) that box drifts
    onto another road user. ultralytics sizes that memory for 30 fps, so 1 s is its own default
    in time. In the Hanoi clip such a jump carried a rider's track 250 px across the junction onto
    a distant car and made a red-light report of it (MODELS.md, "Tracker").
    """

    def __init__(self, max_history: int = 150, max_age_s: float = 5.0, max_gap_s: float = 1.0):
        if max_history < 2:
            raise ValueError(f"max_history must be at least 2 to see movement, got {max_history}")
        if max_gap_s <= 0:
            raise ValueError(f"max_gap_s must be positive, got {max_gap_s}")
        self.max_history = max_history
        self.max_age_s = max_age_s
        self.max_gap_s = max_gap_s
        self._tracks: dict[int, _TrackState] = {}  # by this store's track id
        self._current: dict[int, _TrackState] = {}  # by the tracker's id: the track its boxes extend
        self._next_id = 1

    def __len__(self) -> int:
        return len(self._tracks)

    def update(self, frame_index: int, timestamp: float, detections: list[Detection]) -> list[Track]:
        """Add one analysed frame; return the tracks it updated."""
        updated = []
        for det in detections:
            if det.track_id is None:
                continue
            state = self._current.get(det.track_id)
            if state is None or timestamp - state.last_seen > self.max_gap_s:
                state = _TrackState(self._next_id, deque(maxlen=self.max_history))
                self._next_id += 1
                self._tracks[state.track_id] = self._current[det.track_id] = state
            state.history.append(Observation(frame_index, timestamp, det.box, det.confidence, det.label))
            state.votes[det.label] += det.confidence
            state.last_seen = timestamp
            updated.append(self._snapshot(state))
        return updated

    def ended(self, now: float) -> list[Track]:
        """Tracks that ended since the last call: no box for more than `max_gap_s` (a box of their
        tracker id after that starts a new track), each returned once, for a last look."""
        done = []
        for state in self._tracks.values():
            if not state.ended and now - state.last_seen > self.max_gap_s:
                state.ended = True
                done.append(self._snapshot(state))
        return done

    def live(self) -> list[Track]:
        """Every track not yet returned by `ended` (at the end of a video: they all end now)."""
        return [self._snapshot(s) for s in self._tracks.values() if not s.ended]

    def expire(self, now: float) -> list[int]:
        """Drop tracks not seen for `max_age_s`; return their ids."""
        gone = [tid for tid, s in self._tracks.items() if now - s.last_seen > self.max_age_s]
        for tid in gone:
            del self._tracks[tid]
        self._current = {k: s for k, s in self._current.items() if now - s.last_seen <= self.max_age_s}
        return gone

    def get(self, track_id: int) -> Track | None:
        state = self._tracks.get(track_id)
        return None if state is None else self._snapshot(state)

    @staticmethod
    def _snapshot(state: _TrackState) -> Track:
        label = state.votes.most_common(1)[0][0]
        return Track(state.track_id, label, tuple(state.history))
