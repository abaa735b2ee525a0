"""Applies every enabled rule to every updated track and reports each (vehicle, rule, zone) once."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from detector.riders import TWO_WHEELERS
from detector.types import Box, Track
from pipeline.rules.base import Rule, SignalBoard, Violation
from pipeline.scene import Scene


@dataclass(frozen=True, slots=True)
class _Report:
    violation: Violation
    track: Track  # the latest snapshot of the track that made it


class RuleEngine:
    """Reports each (track, rule, zone) once, and a second track of the same vehicle not again.

    The detector gives one road user several boxes: a whole rider-and-bike box with a smaller
    box of the bike inside it, or the rider as a `person` in some frames and the bike as a
    `motorcycle` in others (rider merging folds them only in frames where both are seen). Each
    box gets a track, and each track can report the same crossing a frame or two apart (COCO
    weights on the Hanoi clip: a person and a motorcycle track of one rider, twice).

    A report is held back when another track already made the same (rule, zone) within
    `max_gap_s` of it and the two are one road user: where both were seen in the same frames,
    they stood on the same spot in at least `min_share` of them; and at the frames of both
    reports, their boxes (the other one's interpolated, or extrapolated by at most `max_gap_s`,
    from its nearest observations) belong together: one rides the other (a person sitting on a
    two-wheeler), or the smaller lies `min_inside` inside the larger with their anchors
    (bottom-centres) within `max_anchor_offset` of the narrower box's width. A rider queued
    behind another touches the road a bike's length further down the image and riders side by
    side are a bike's width apart: both are reported.
    """

    def __init__(
        self, rules: Iterable[Rule], *, max_anchor_offset: float = 0.25, min_inside: float = 0.7,
        min_share: float = 0.8, min_common_frames: int = 3, max_gap_s: float = 1.0,
    ):  # fmt: skip
        for name, value in (("min_inside", min_inside), ("min_share", min_share)):
            if not 0 < value <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {value}")
        if max_anchor_offset < 0 or min_common_frames < 1 or max_gap_s < 0:
            raise ValueError(
                "max_anchor_offset and max_gap_s must not be negative and min_common_frames must be at least 1"
            )
        self.rules = list(rules)
        self.max_anchor_offset, self.min_inside = max_anchor_offset, min_inside
        self.min_share, self.min_common_frames, self.max_gap_s = min_share, min_common_frames, max_gap_s
        self._reported: dict[int, set[tuple[str, str]]] = {}
        self._reports: dict[tuple[str, str], list[_Report]] = {}  # reports made, per (rule, zone), newest last

    def check(self, tracks: Iterable[Track], scene: Scene, signals: SignalBoard) -> list[Violation]:
        found = []
        for track in tracks:
            seen = self._reported.setdefault(track.track_id, set())
            for rule in self.rules:
                violation = rule.check(track, scene, signals)
                if violation is not None and (violation.rule, violation.where) not in seen:
                    found += self._report(track, violation, seen)
            self._refresh(track)
        return found

    def finish(self, tracks: Iterable[Track], scene: Scene, signals: SignalBoard) -> list[Violation]:
        """A last look at tracks that ended, for rules that judge a track by how it ended (a
        red-light runner lost in the junction while still moving on)."""
        found = []
        for track in tracks:
            seen = self._reported.setdefault(track.track_id, set())
            for rule in self.rules:
                finish = getattr(rule, "finish", None)
                violation = None if finish is None else finish(track, scene, signals)
                if violation is not None and (violation.rule, violation.where) not in seen:
                    found += self._report(track, violation, seen)
        return found

    def _report(self, track: Track, violation: Violation, seen: set[tuple[str, str]]) -> list[Violation]:
        seen.add((violation.rule, violation.where))
        new = self.same_vehicle_reported(track, violation) is None
        self._reports.setdefault((violation.rule, violation.where), []).append(_Report(violation, track))
        return [violation] if new else []

    def same_vehicle_reported(self, track: Track, violation: Violation) -> int | None:
        """The id of another track that made the same report and is the same road user as `track`."""
        for report in self._reports.get((violation.rule, violation.where), ()):
            other = report.track
            if other.track_id == track.track_id:
                continue
            if abs(report.violation.timestamp - violation.timestamp) > self.max_gap_s:
                continue
            if self._one_road_user(track, other, (violation.frame_index, report.violation.frame_index)):
                return other.track_id
        return None

    def _refresh(self, track: Track) -> None:
        """Keep the latest snapshot of a track that reported, so later comparisons see its path."""
        for key in self._reported.get(track.track_id, ()):
            reports = self._reports.get(key, [])
            for i, r in enumerate(reports):
                if r.track.track_id == track.track_id:
                    reports[i] = _Report(r.violation, track)

    def _one_road_user(self, a: Track, b: Track, frames: tuple[int, int]) -> bool:
        boxes = {o.frame_index: o.box for o in b.observations}
        common = [(o.box, boxes[o.frame_index]) for o in a.observations if o.frame_index in boxes]
        if len(common) >= self.min_common_frames:
            together = sum(self._together(p, a.label, q, b.label) for p, q in common)
            if together < self.min_share * len(common):
                return False  # seen side by side: two road users
        for frame in frames:
            p, q = _box_at(a, frame, self.max_gap_s), _box_at(b, frame, self.max_gap_s)
            if p is None or q is None or not self._together(p, a.label, q, b.label):
                return False
        return True

    def _together(self, p: Box, p_label: str, q: Box, q_label: str) -> bool:
        """Are boxes `p` and `q`, seen at the same moment, parts of one road user?"""
        if p_label == "person" and q_label in TWO_WHEELERS:
            return _sits_on(p, q)
        if q_label == "person" and p_label in TWO_WHEELERS:
            return _sits_on(q, p)
        return p.share_of_smaller(q) >= self.min_inside and math.dist(p.anchor, q.anchor) <= (
            self.max_anchor_offset * min(p.width, q.width)
        )

    def forget(self, track_ids: Iterable[int]) -> None:
        """Drop the memory of tracks that are gone, so it stays bounded."""
        gone = set(track_ids)
        for tid in gone:
            self._reported.pop(tid, None)
        for key in list(self._reports):
            kept = [r for r in self._reports[key] if r.track.track_id not in gone]
            if kept:
                self._reports[key] = kept
            else:
                del self._reports[key]
        for rule in self.rules:
            forget = getattr(rule, "forget", None)  # rules that keep per-track state
            if forget is not None:
                forget(gone)


def _sits_on(person: Box, bike: Box) -> bool:
    """A person box that is a rider of `bike` (or of a rider-and-bike box): centred over it
    (within a quarter of its width), overlapping it, and with its lower edge in the bike's lower
    half, where a rider's feet and seat are. A rider queued in front of the bike has their feet a
    bike's length higher in the image; one beside it is off its centre."""
    centre = (person.x1 + person.x2) / 2
    slack = 0.25 * bike.width
    if not bike.x1 - slack <= centre <= bike.x2 + slack:
        return False
    if person.area == 0 or person.intersection(bike) < 0.2 * person.area:
        return False
    return bike.y1 + 0.5 * bike.height <= person.y2 <= bike.y2 + 0.25 * bike.height


def _box_at(track: Track, frame: int, max_gap_s: float) -> Box | None:
    """The track's box at `frame`: observed, else interpolated between the observations either
    side of it, else extrapolated (by at most `max_gap_s`) from the two nearest on one side."""
    obs = track.observations
    for o in obs:
        if o.frame_index == frame:
            return o.box
    if len(obs) < 2:
        return None
    before = [o for o in obs if o.frame_index < frame]
    after = [o for o in obs if o.frame_index > frame]
    if before and after:
        o1, o2 = before[-1], after[0]
    else:
        o1, o2 = (before[-2:] if before else after[:2])
    span = o2.frame_index - o1.frame_index
    fps = span / (o2.timestamp - o1.timestamp) if o2.timestamp > o1.timestamp else 0.0
    if fps <= 0 or min(abs(frame - o1.frame_index), abs(frame - o2.frame_index)) / fps > max_gap_s:
        return None
    t = (frame - o1.frame_index) / span
    a, b = o1.box, o2.box
    x1, y1, x2, y2 = (u + t * (v - u) for u, v in zip((a.x1, a.y1, a.x2, a.y2), (b.x1, b.y1, b.x2, b.y2), strict=True))
    return Box(x1, y1, x2, y2) if x1 <= x2 and y1 <= y2 else None
