"""Applies every enabled rule to every updated track and reports each (vehicle, rule, zone) once."""

from __future__ import annotations

import math
from collections.abc import Iterable

from detector.types import Track
from pipeline.rules.base import Rule, SignalBoard, Violation
from pipeline.scene import Scene


class RuleEngine:
    """Reports each (track, rule, zone) once, and a second track of the same vehicle not again.

    The detector sometimes finds one vehicle twice, and both boxes survive suppression: a whole
    rider-and-bike box with a smaller box of the bike inside it (COCO weights on the Hanoi clip
    gave one wrong-way rider two tracks this way, and two reports). A track is taken as a second
    track of a vehicle that already reported (rule, zone) when the two stand on the same spot of
    road: in at least `min_share` of the frames both were seen (and at least `min_common_frames`),
    their anchors (bottom-centres) lie within `max_anchor_offset` of the narrower box's width and
    at least `min_inside` of the smaller box lies inside the larger. A rider queued behind another
    touches the road a bike's length further up the image, riders side by side a bike's width
    apart: both are reported.
    """

    def __init__(
        self, rules: Iterable[Rule], *, max_anchor_offset: float = 0.25, min_inside: float = 0.7,
        min_share: float = 0.8, min_common_frames: int = 3,
    ):  # fmt: skip
        for name, value in (("min_inside", min_inside), ("min_share", min_share)):
            if not 0 < value <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {value}")
        if max_anchor_offset < 0 or min_common_frames < 1:
            raise ValueError("max_anchor_offset must not be negative and min_common_frames must be at least 1")
        self.rules = list(rules)
        self.max_anchor_offset, self.min_inside = max_anchor_offset, min_inside
        self.min_share, self.min_common_frames = min_share, min_common_frames
        self._reported: dict[int, set[tuple[str, str]]] = {}
        self._latest: dict[int, Track] = {}  # the latest snapshot of each track that reported

    def check(self, tracks: Iterable[Track], scene: Scene, signals: SignalBoard) -> list[Violation]:
        found = []
        for track in tracks:
            seen = self._reported.setdefault(track.track_id, set())
            if seen:
                self._latest[track.track_id] = track
            for rule in self.rules:
                violation = rule.check(track, scene, signals)
                if violation is None or (violation.rule, violation.where) in seen:
                    continue
                seen.add((violation.rule, violation.where))
                self._latest[track.track_id] = track
                if self.same_vehicle_reported(track, (violation.rule, violation.where)) is None:
                    found.append(violation)
        return found

    def same_vehicle_reported(self, track: Track, key: tuple[str, str]) -> int | None:
        """The id of another track that reported `key` and stood on the same spot as `track`."""
        for tid, other in self._latest.items():
            if tid != track.track_id and key in self._reported.get(tid, ()) and self._same_spot(track, other):
                return tid
        return None

    def _same_spot(self, a: Track, b: Track) -> bool:
        boxes = {o.frame_index: o.box for o in b.observations}
        common = [(o.box, boxes[o.frame_index]) for o in a.observations if o.frame_index in boxes]
        if len(common) < self.min_common_frames:
            return False
        together = sum(
            p.share_of_smaller(q) >= self.min_inside
            and math.dist(p.anchor, q.anchor) <= self.max_anchor_offset * min(p.width, q.width)
            for p, q in common
        )
        return together >= self.min_share * len(common)

    def forget(self, track_ids: Iterable[int]) -> None:
        """Drop the memory of tracks that are gone, so it stays bounded."""
        track_ids = list(track_ids)
        for tid in track_ids:
            self._reported.pop(tid, None)
            self._latest.pop(tid, None)
        for rule in self.rules:
            forget = getattr(rule, "forget", None)  # rules that keep per-track state
            if forget is not None:
                forget(track_ids)

