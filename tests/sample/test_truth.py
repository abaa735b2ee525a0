"""The truth of a rendered clip: every planned offence is in it, and the rules agree on exact boxes."""

from __future__ import annotations

from collections import Counter

import pytest

from detector.types import Box, Colour, LightState, Observation, Track
from pipeline.engine import RuleEngine
from pipeline.rules import build_rules
from pipeline.sample import SampleClip, SampleSpec, exact_truth, signal_timeline
from pipeline.sample.render import Renderer
from pipeline.sample.traffic import SignalPlan
from pipeline.scene import parse_scene
from pipeline.signals import SignalBoard

SHORT = SampleSpec(seconds=16.0, width=640, height=360, seed=7)


@pytest.fixture(scope="module")
def short_clip() -> SampleClip:
    return exact_truth(SHORT)


def test_a_short_clip_holds_one_of_each_offence_and_two_red_light_runners(short_clip: SampleClip):
    clip = short_clip
    assert Counter(v.rule for v in clip.violations) == {"red_light": 2, "solid_line": 1, "wrong_way": 1}
    assert clip.uncertain == []
    roles = {v.agent_id: v.rule for v in clip.violations}
    for agent_id, rule in roles.items():
        assert clip.tracks[agent_id][0][1].role == rule  # only the road users meant to offend do


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_signal_cycle_brings_its_offences(seed: int):
    plan = SignalPlan()
    clip = exact_truth(SampleSpec(seconds=3 * plan.cycle_s, width=640, height=360, seed=seed))
    assert Counter(v.rule for v in clip.violations) == {"red_light": 6, "solid_line": 3, "wrong_way": 3}
    for v in clip.violations:
        if v.rule == "red_light":
            assert plan.colour_at(v.frame / 10.0) == "red"


def test_red_light_truth_frame_is_the_first_frame_past_the_stop_line(short_clip: SampleClip):
    clip = short_clip
    scene = parse_scene(Renderer(SHORT).layout.scene())
    line_y = scene.stop_lines[0].line[0][1]  # the stop line is level in the image
    for v in (v for v in clip.violations if v.rule == "red_light"):
        boxes = dict(clip.tracks[v.agent_id])
        assert boxes[v.frame].box[3] < line_y <= boxes[v.frame - 1].box[3]


def test_the_project_rules_on_the_exact_boxes_find_exactly_the_truth(short_clip: SampleClip):
    """A perfect detector and tracker: the rules must report what the truth lists, near its frames."""
    clip = short_clip
    scene = parse_scene(Renderer(SHORT).layout.scene())
    board = SignalBoard(["main"])
    for change in signal_timeline(SHORT):
        start = int(change["start_frame"])
        board.record({"main": LightState("main", Colour(change["colour"]), 1.0, start / SHORT.fps, start)})
    engine = RuleEngine(build_rules(scene))
    history: dict[int, list[Observation]] = {}
    by_frame: dict[int, list[tuple[int, Observation]]] = {}
    for agent_id, track in clip.tracks.items():
        for frame, user in track:
            obs = Observation(frame, frame / SHORT.fps, Box(*user.box), 0.9, user.label)
            by_frame.setdefault(frame, []).append((agent_id, obs))
    found = []
    for frame in sorted(by_frame):
        updated = []
        for agent_id, obs in by_frame[frame]:
            history.setdefault(agent_id, []).append(obs)
            updated.append(Track(agent_id, obs.label, tuple(history[agent_id])))
        found += engine.check(updated, scene, board)
    got = sorted((v.rule, v.where, v.track_id) for v in found)
    assert got == sorted((v.rule, v.where, v.agent_id) for v in clip.violations)
    frames = {(v.rule, v.track_id): v.frame_index for v in found}
    for v in clip.violations:
        assert abs(frames[(v.rule, v.agent_id)] - v.frame) <= SHORT.fps  # the evaluation's 1 s tolerance
