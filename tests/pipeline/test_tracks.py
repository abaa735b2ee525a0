from __future__ import annotations

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
        store.update(i, i / 10, [det(100 + i)])
    assert len(store.get(7).observations) == 5
    store.update(50, 5.0, [det(200, tid=8)])
    assert store.expire(now=5.95) == [7]  # last seen at 4.9 s
    assert store.get(7) is None and store.get(8) is not None


def test_detections_without_track_id_are_ignored():
    assert TrackStore().update(0, 0.0, [Detection(Box(0, 0, 1, 1), "car", 0.5, None)]) == []


def test_engine_reports_each_track_rule_and_zone_once():
    board = SignalBoard(["main"])
    board.record({"main": LightState("main", Colour.RED, 1.0, -5.0, 0)})
    store, engine = TrackStore(), RuleEngine([RedLightRule()])
    found = []
    for i, y in enumerate(UP + [70, 60, 50]):
        found += engine.check(store.update(i, i / 10, [det(y)]), SCENE, board)
    assert [(v.rule, v.where, v.track_id, v.frame_index) for v in found] == [("red_light", "stop", 7, 4)]
    assert len(engine.rules[0]._depths) == 1  # the rule keeps the track's geometry...
    engine.forget([7])
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
