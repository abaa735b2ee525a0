"""Applies every enabled rule to every updated track and reports each (track, rule, zone) once."""

from __future__ import annotations

from collections.abc import Iterable

from detector.types import Track
from pipeline.rules.base import Rule, SignalBoard, Violation
from pipeline.scene import Scene


class RuleEngine:
    def __init__(self, rules: Iterable[Rule]):
        self.rules = list(rules)
        self._reported: dict[int, set[tuple[str, str]]] = {}

    def check(self, tracks: Iterable[Track], scene: Scene, signals: SignalBoard) -> list[Violation]:
        found = []
        for track in tracks:
            seen = self._reported.setdefault(track.track_id, set())
            for rule in self.rules:
                violation = rule.check(track, scene, signals)
                if violation is None or (violation.rule, violation.where) in seen:
                    continue
                seen.add((violation.rule, violation.where))
                found.append(violation)
        return found

    def forget(self, track_ids: Iterable[int]) -> None:
        """Drop the memory of tracks that are gone, so it stays bounded."""
        track_ids = list(track_ids)
        for tid in track_ids:
            self._reported.pop(tid, None)
        for rule in self.rules:
            forget = getattr(rule, "forget", None)  # rules that keep per-track state
            if forget is not None:
                forget(track_ids)
