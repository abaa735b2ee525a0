"""Rules keep per-track geometry between frames; what they report must not depend on it.

A rule instance that has seen every earlier snapshot of a track (as the engine calls it, frame by
frame, with `TrackStore` dropping the oldest observations) must report exactly what a fresh
instance reports for the same snapshot, also when a new track reuses an old id.
"""

from __future__ import annotations

import random

import pytest

from detector.types import Box, Colour, Detection
from pipeline.rules.base import ObservationCache
from pipeline.rules.red_light import RedLightRule
from pipeline.rules.solid_line import SolidLineRule
from pipeline.rules.wrong_way import WrongWayRule
from pipeline.scene import parse_scene
from pipeline.tracks import TrackStore
from tests.conftest import FixedBoard

SCENE = parse_scene(
    {
        "camera": "test",
        "frame_size": [200, 200],
        "signals": [{"id": "main", "box": [180, 10, 190, 40]}],
        "stop_lines": [{"id": "stop", "line": [[0, 100], [120, 100]], "approach": [0, -1], "signal": "main"}],
        "lanes": [
            {"id": "up", "polygon": [[0, 100], [100, 100], [100, 200], [0, 200]], "direction": [0, -1]},
            {"id": "down", "polygon": [[100, 0], [200, 0], [200, 200], [100, 200]], "direction": [0, 1]},
        ],
        "solid_lines": [{"id": "centre", "line": [[100, 40], [100, 200]]}],
    }
)
BOARD = FixedBoard([(0.0, Colour.GREEN), (2.0, Colour.RED), (6.0, Colour.GREEN), (9.0, Colour.RED)])
RULES = [RedLightRule, SolidLineRule, WrongWayRule]


def _walks(seed: int, tracks: int = 12, frames: int = 140) -> list[list[Detection]]:
    """Random vehicles wandering over the scene at 10 fps: crossing lines, turning, reusing ids."""
    rng = random.Random(seed)
    alive: dict[int, list[float]] = {}
    per_frame = []
    next_id = 1
    for _ in range(frames):
        if len(alive) < tracks and rng.random() < 0.3:
            tid = rng.choice([next_id, *alive.keys()] if rng.random() < 0.9 else [1, 2])  # reuse ids now and then
            alive[tid] = [rng.uniform(10, 190), rng.uniform(60, 195), rng.uniform(-6, 6), rng.uniform(-8, 8)]
            next_id += 1
        dets = []
        for tid, s in list(alive.items()):
            s[0] += s[2] + rng.gauss(0, 1.5)
            s[1] += s[3] + rng.gauss(0, 1.5)
            if rng.random() < 0.05:
                s[2], s[3] = -s[2], -s[3]  # turns round
            if not (0 < s[0] < 200 and 20 < s[1] < 200) or rng.random() < 0.01:
                del alive[tid]
                continue
            if rng.random() < 0.9:  # missed in some frames
                w = rng.uniform(10, 30)
                dets.append(Detection(Box(s[0] - w / 2, s[1] - 30, s[0] + w / 2, s[1]), "car", 0.8, tid))
        per_frame.append(dets)
    return per_frame


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("rule_type", RULES, ids=lambda r: r.__name__)
def test_a_rule_that_saw_earlier_frames_reports_what_a_fresh_one_does(seed, rule_type):
    kept = rule_type()
    found = 0
    for video in range(2):  # a second video restarts frame numbers and track ids
        store = TrackStore(max_history=25)  # short, so histories are trimmed often
        for frame, dets in enumerate(_walks(seed * 2 + video)):
            tracks = store.update(frame, frame / 10.0, dets)
            for track in tracks:
                got = kept.check(track, SCENE, BOARD)
                assert got == rule_type().check(track, SCENE, BOARD), (video, frame, track.track_id)
                found += got is not None
            gone = store.expire(frame / 10.0)
            if frame % 2:  # the engine forgets ended tracks; here some ids also come back to a rule that kept them
                kept.forget(gone)
    assert found > 0  # the walks do break the rule now and then, so reports are compared too


def test_cache_computes_each_observation_once_and_stays_bounded():
    calls = []
    cache = ObservationCache(lambda o, shape: calls.append(o) or o.frame_index * 10, max_tracks=3)
    store = TrackStore(max_history=4)
    for frame in range(10):
        (track,) = store.update(frame, frame / 10, [Detection(Box(0, 0, 10, 10), "car", 0.9, 7)])
        assert cache.values(track, "line") == [o.frame_index * 10 for o in track.observations]
    assert len(calls) == 10  # one per observation, although every call returned up to 4
    ids = []
    for tid in range(5):
        (track,) = store.update(10, 1.0, [Detection(Box(0, 0, 10, 10), "car", 0.9, 100 + tid)])
        cache.values(track, "line")
        ids.append(track.track_id)
    assert len(cache) == 3  # the earliest tracks were dropped
    cache.forget([*ids[3:], 999])
    assert len(cache) == 1
