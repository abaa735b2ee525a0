from __future__ import annotations

import pytest

from detector.types import Box, Colour, Detection, LightState
from pipeline.engine import RuleEngine
from pipeline.rules.red_light import RedLightRule
from pipeline.signals import SignalBoard
from pipeline.tracks import TrackStore
from tests.pipeline.rules.test_red_light import SCENE, UP


def det(y: float, label: str = "motorcycle", conf: float = 0.8, tid: int = 7) -> Detection:
    return Detection(Box(40, y - 40, 60, y), label, conf, tid)


def test_label_is_the_weighted_majority_over_the_track_life():
    store = TrackStore()
    labels = ["motorcycle", "person", "motorcycle", "bicycle", "motorcycle", "person"]
    for i, label in enumerate(labels):
        (track,) = store.update(i, i / 10, [det(100 + i, label)])
    assert track.label == "motorcycle"
    assert [o.label for o in track.observations] == labels


def test_history_is_bounded_and_old_tracks_expire():
    store = TrackStore(max_history=5, max_age_s=1.0)
    for i in range(50):
        (first,) = store.update(i, i / 10, [det(100 + i)])
    assert len(store.get(first.track_id).observations) == 5
    (second,) = store.update(50, 5.0, [det(200, tid=8)])
    assert store.expire(now=5.95) == [first.track_id]  # last seen at 4.9 s
    assert store.get(first.track_id) is None and store.get(second.track_id) is not None


def test_a_tracker_id_back_after_a_gap_is_a_new_track():
    """ByteTrack re-finds a lost track wherever its drifting prediction lands; after more than
    `max_gap_s` without a box the two pieces are not taken for one road user."""
    store = TrackStore(max_gap_s=1.0)
    (a,) = store.update(0, 0.0, [det(300, label="motorcycle")])
    (a2,) = store.update(6, 1.0, [det(290, label="motorcycle")])  # 1.0 s later: the same track
    (b,) = store.update(13, 2.2, [det(100, label="car")])  # 1.2 s without a box: a new one
    assert a.track_id == a2.track_id != b.track_id
    assert [o.frame_index for o in store.get(a.track_id).observations] == [0, 6]
    assert store.get(b.track_id).label == "car" and len(b.observations) == 1
    (b2,) = store.update(14, 2.3, [det(95, label="car")])
    assert b2.track_id == b.track_id  # later boxes extend the new track
    assert store.expire(now=6.1) == [a.track_id]  # the old piece ends on its own


def test_track_ids_are_unique_across_tracker_ids_and_gaps():
    store = TrackStore(max_gap_s=0.5)
    seen = [store.update(i, float(i), [det(100, tid=1), det(200, tid=2)]) for i in range(3)]
    ids = [t.track_id for tracks in seen for t in tracks]
    assert len(set(ids)) == len(ids) == 6  # every frame is more than 0.5 s after the last


def test_a_gap_must_be_positive():
    with pytest.raises(ValueError, match="max_gap_s"):
        TrackStore(max_gap_s=0)


def test_detections_without_track_id_are_ignored():
    assert TrackStore().update(0, 0.0, [Detection(Box(0, 0, 1, 1), "car", 0.5, None)]) == []


def test_engine_reports_each_track_rule_and_zone_once():
    board = SignalBoard(["main"])
    board.record({"main": LightState("main", Colour.RED, 1.0, -5.0, 0)})
    store, engine = TrackStore(), RuleEngine([RedLightRule()])
    found = []
    for i, y in enumerate(UP + [70, 60, 50]):
        found += engine.check(store.update(i, i / 10, [det(y)]), SCENE, board)
    assert [(v.rule, v.where, v.frame_index) for v in found] == [("red_light", "stop", 4)]
    assert len(engine.rules[0]._depths) == 1  # the rule keeps the track's geometry...
    engine.forget([found[0].track_id])
    assert engine._reported == {} and len(engine.rules[0]._depths) == 0  # ...until the track ends


def test_signal_board_returns_the_state_at_a_time():
    board = SignalBoard(["main"])
    board.record({"main": LightState("main", Colour.GREEN, 1.0, 0.0, 0)})
    board.record({"main": LightState("main", Colour.GREEN, 1.0, 0.0, 0)})  # unchanged: no new entry
    board.record({"main": LightState("main", Colour.RED, 1.0, 2.0, 20)})
    assert board.state_at("main", 1.9).colour is Colour.GREEN
    assert board.state_at("main", 2.0).colour is Colour.RED
    assert board.state_at("main", -1.0) is None
    assert board.state_at("other", 1.0) is None
    assert [s.since_frame for s in board.timelines()["main"]] == [0, 20]
