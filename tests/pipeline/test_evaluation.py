"""Scoring a pipeline report against a clip's truth: synthetic cases plus the real truth files."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import TrafficcamError
from pipeline.evaluation import (
    ClipResult,
    Report,
    Truth,
    evaluate_clip,
    format_table,
    load_report,
    load_truth,
    match_violations,
    signal_agreement,
)
from tests.conftest import SHARED  # ../shared, or TRAFFICCAM_SHARED

Event = tuple[str, str, int]  # (rule, where, frame)


def ev(frame: int, rule: str = "red_light", where: str = "stop") -> Event:
    return (rule, where, frame)


def make_truth(
    violations: Sequence[Event] = (),
    uncertain: Sequence[Event] = (),
    *,
    fps: float = 10.0,
    frames: int = 600,
    signals: dict[str, list[tuple[int, str]]] | None = None,
) -> dict[str, Any]:
    """A truth mapping as `truth.yaml` would parse, with the extra keys real files carry."""

    def entry(e: Event) -> dict[str, Any]:
        return {"rule": e[0], "where": e[1], "frame": e[2], "label": "car", "box": [1, 2, 3, 4], "note": "synthetic"}

    return {
        "video": "clip.mp4",
        "fps": fps,
        "frames": frames,
        "signals": {sid: [{"start_frame": f, "colour": c} for f, c in tl] for sid, tl in (signals or {}).items()},
        "violations": [entry(e) for e in violations],
        "uncertain": [entry(e) for e in uncertain],
        "crossings_on_green": 0,
    }


def make_report(
    violations: Sequence[Event] = (),
    *,
    fps: float = 10.0,
    signals: dict[str, list[tuple[int, str]]] | None = None,
) -> dict[str, Any]:
    """A report mapping shaped like the pipeline's `--report` JSON."""
    return {
        "video": "clip.mp4",
        "fps": fps,
        "frames": 600,
        "signals": {sid: [{"start_frame": f, "colour": c} for f, c in tl] for sid, tl in (signals or {}).items()},
        "violations": [
            {
                "id": f"v{i}",
                "rule": rule,
                "where": where,
                "frame": frame,
                "time_s": frame / fps,
                "label": "car",
                "track_id": i,
                "box": [1, 2, 3, 4],
                "confidence": 0.9,
                "signal_colour": "red",
                "seconds_into_colour": 3.0,
                "evidence": {"during": f"evidence/v{i}/during.jpg"},
            }
            for i, (rule, where, frame) in enumerate(violations)
        ],
    }


# (truth violations, truth uncertain, reported, fps, expected tp/fp/fn/set-aside, expected (truth, report) frame pairs)
MATCH_CASES = [
    # exact match
    pytest.param([ev(100)], [], [ev(100)], 10.0, (1, 0, 0, 0), {(100, 100)}, id="exact"),
    # off by 9 frames at 10 fps: just under 1 s still matches
    pytest.param([ev(100)], [], [ev(109)], 10.0, (1, 0, 0, 0), {(100, 109)}, id="just-under-1s"),
    # off by exactly 1 s: the tolerance is inclusive
    pytest.param([ev(100)], [], [ev(90)], 10.0, (1, 0, 0, 0), {(100, 90)}, id="exactly-1s"),
    # off by 11 frames at 10 fps: just over 1 s is a false positive and a miss
    pytest.param([ev(100)], [], [ev(111)], 10.0, (0, 1, 1, 0), set(), id="just-over-1s"),
    # Hanoi's 6.017 fps: 6 frames (0.997 s) match, 7 frames (1.163 s) do not
    pytest.param([ev(100), ev(300)], [], [ev(106), ev(307)], 6.017, (1, 1, 1, 0), {(100, 106)}, id="fractional-fps"),
    # same frame and place, wrong rule
    pytest.param([ev(100)], [], [ev(100, rule="solid_line")], 10.0, (0, 1, 1, 0), set(), id="wrong-rule"),
    # same frame and rule, wrong where
    pytest.param([ev(100)], [], [ev(100, where="other_stop")], 10.0, (0, 1, 1, 0), set(), id="wrong-where"),
    # the same event reported twice: one tp, one fp
    pytest.param([ev(100)], [], [ev(100), ev(103)], 10.0, (1, 1, 0, 0), {(100, 100)}, id="duplicate-report"),
    # two true events close together, each matched once; greedy-nearest would pair 104 with 108 and lose one
    pytest.param([ev(100), ev(108)], [], [ev(104), ev(112)], 10.0, (2, 0, 0, 0), {(100, 104), (108, 112)}, id="close"),
    # two close events: pairs do not cross (least total frame distance)
    pytest.param(
        [ev(100), ev(110)], [], [ev(109), ev(101)], 10.0, (2, 0, 0, 0), {(100, 101), (110, 109)}, id="nocross"
    ),
    # a report on an uncertain entry is set aside; the true event nobody reported is a miss
    pytest.param([ev(100)], [ev(300)], [ev(302)], 10.0, (0, 0, 1, 1), set(), id="uncertain-hit"),
    # an uncertain entry nobody reported is not a miss
    pytest.param([], [ev(300)], [], 10.0, (0, 0, 0, 0), set(), id="uncertain-unreported"),
    # two reports on one uncertain entry: one set aside, the repeat is a false positive
    pytest.param([], [ev(300)], [ev(300), ev(301)], 10.0, (0, 1, 0, 1), set(), id="uncertain-duplicate"),
    # 10 could only be the true event, 20 either: pairing 20 with the true event would waste 10
    pytest.param([ev(15)], [ev(25)], [ev(10), ev(20)], 5.0, (1, 0, 0, 1), {(15, 10)}, id="true-before-uncertain"),
    # a report near both a true and an uncertain entry counts for the true one, even when nearer the uncertain one
    pytest.param([ev(100)], [ev(103)], [ev(103)], 10.0, (1, 0, 0, 0), {(100, 103)}, id="prefer-true"),
    # empty truth and empty report
    pytest.param([], [], [], 10.0, (0, 0, 0, 0), set(), id="both-empty"),
    # empty truth, one report: a false positive
    pytest.param([], [], [ev(100)], 10.0, (0, 1, 0, 0), set(), id="empty-truth"),
    # one true event, empty report: a miss
    pytest.param([ev(100)], [], [], 10.0, (0, 0, 1, 0), set(), id="empty-report"),
]


@pytest.mark.parametrize("true, doubtful, reported, fps, counts, pairs", MATCH_CASES)
def test_match_violations(
    true: list[Event],
    doubtful: list[Event],
    reported: list[Event],
    fps: float,
    counts: tuple[int, int, int, int],
    pairs: set[tuple[int, int]],
) -> None:
    result = match_violations(make_truth(true, doubtful, fps=fps), make_report(reported, fps=fps))
    total = result.total
    print("matched", [(m.truth.frame, m.reported.frame) for m in total.matched])
    print("false positives", [r.frame for r in total.false_positives], "misses", [e.frame for e in total.misses])
    assert (total.tp, total.fp, total.fn, len(total.set_aside)) == counts
    assert {(m.truth.frame, m.reported.frame) for m in total.matched} == pairs


def _best_by_brute_force(reports: list[int], targets: list[tuple[int, bool]], tol: float) -> tuple[int, int, int]:
    """Best (tp, set-asides, -total frame distance) over every one-to-one pairing."""

    def search(i: int, used: frozenset[int]) -> tuple[int, int, int]:
        if i == len(reports):
            return (0, 0, 0)
        best = search(i + 1, used)  # report i left unmatched
        for j, (frame, uncertain) in enumerate(targets):
            if j not in used and abs(reports[i] - frame) <= tol:
                tp, aside, neg_dist = search(i + 1, used | {j})
                best = max(best, (tp + (not uncertain), aside + uncertain, neg_dist - abs(reports[i] - frame)))
        return best

    return search(0, frozenset())


def test_matching_is_optimal_on_random_cases() -> None:
    # the assignment must reach the brute-force optimum: most tp, then most set-asides, then least distance
    rng = random.Random(7)
    for _ in range(300):
        true, doubtful = sorted(rng.sample(range(40), rng.randint(0, 4))), rng.sample(range(40), rng.randint(0, 3))
        reported = [rng.randrange(40) for _ in range(rng.randint(0, 5))]
        total = match_violations(
            make_truth([ev(f) for f in true], [ev(f) for f in doubtful], fps=5.0),
            make_report([ev(f) for f in reported], fps=5.0),
        ).total
        distance = sum(abs(m.frame_offset) for m in (*total.matched, *total.set_aside))
        targets = [(f, False) for f in true] + [(f, True) for f in doubtful]
        case = f"true {true}, uncertain {doubtful}, reported {reported}"
        assert (total.tp, len(total.set_aside), -distance) == _best_by_brute_force(reported, targets, 5.0), case
        assert total.fp == len(reported) - total.tp - len(total.set_aside)
        assert total.fn == len(true) - total.tp


def test_wrong_rule_is_scored_under_each_rule() -> None:
    result = match_violations(make_truth([ev(100)]), make_report([ev(100, rule="solid_line")]))
    assert set(result.rules) == {"red_light", "solid_line"}
    assert (result.rules["red_light"].fn, result.rules["red_light"].recall) == (1, 0.0)
    assert (result.rules["solid_line"].fp, result.rules["solid_line"].precision) == (1, 0.0)


@pytest.mark.parametrize(
    "true, reported, precision, recall",
    [
        ([], [], 1.0, 1.0),  # nothing to find, nothing reported: both defined as 1.0
        ([], [ev(1)], 0.0, 1.0),  # a false alarm on an empty clip
        ([ev(1)], [], 1.0, 0.0),  # nothing reported, so no false alarm
        ([ev(100), ev(300)], [ev(100), ev(500)], 0.5, 0.5),  # one hit, one miss, one false alarm
    ],
)
def test_precision_and_recall(true: list[Event], reported: list[Event], precision: float, recall: float) -> None:
    total = match_violations(make_truth(true), make_report(reported)).total
    assert (total.precision, total.recall) == (precision, recall)


def test_tolerance_is_configurable_and_checked() -> None:
    truth, report = make_truth([ev(100)]), make_report([ev(115)])
    assert match_violations(truth, report).total.tp == 0
    assert match_violations(truth, report, tolerance_s=2.0).total.tp == 1
    with pytest.raises(ValueError, match="tolerance_s"):
        match_violations(truth, report, tolerance_s=-1)


def test_report_for_another_video_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    report = make_report([ev(100)]) | {"video": "other.mp4"}
    with caplog.at_level(logging.WARNING, logger="pipeline.evaluation"):
        match_violations(make_truth([ev(100)]), report)
    assert "other.mp4" in caplog.text


TIMELINE = {"main": [(0, "red"), (50, "green")]}


@pytest.mark.parametrize(
    "reported, expected",
    [
        ({"main": [(0, "red"), (50, "green")]}, 1.0),  # full agreement
        ({"main": [(0, "red"), (60, "green")]}, 0.9),  # green seen 10 frames late
        ({"main": [(50, "green"), (0, "red")]}, 1.0),  # change points out of order are sorted
        ({"main": [(10, "red"), (50, "green")]}, 0.9),  # no colour before the report's first change point
        ({"main": [(0, "unknown")]}, 0.0),  # never read
        ({}, 0.0),  # signal missing from the report
        ({"main": [(0, "red"), (50, "green")], "extra": [(0, "red")]}, 1.0),  # signals the truth lacks are ignored
    ],
)
def test_signal_agreement(reported: dict[str, list[tuple[int, str]]], expected: float) -> None:
    truth = make_truth(frames=100, signals=TIMELINE)
    assert signal_agreement(truth, make_report(signals=reported)) == {"main": pytest.approx(expected)}


def test_signal_agreement_without_signals() -> None:
    assert signal_agreement(make_truth(), make_report(signals={"main": [(0, "red")]})) == {}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"fps": 0}, "fps"),  # fps must be positive
        ({"violations": [{"rule": "red_light", "where": "stop"}]}, "violations.0.frame"),  # frame missing
        ({"signals": {"main": [{"start_frame": 5, "colour": "red"}]}}, "starting at frame 0"),  # timeline gap at start
        ({"signals": {"main": [{"start_frame": 0, "colour": "purple"}]}}, "colour"),  # not a signal colour
        ({"uncertain": [{"rule": "red_light", "where": "stop", "frame": 600}]}, "past the clip's last frame 599"),
    ],
)
def test_bad_truth_is_a_clear_error(change: dict[str, Any], message: str) -> None:
    with pytest.raises(TrafficcamError, match=message):
        match_violations(make_truth() | change, make_report())


def test_load_truth_and_report_from_files(tmp_path: Path) -> None:
    (tmp_path / "truth.yaml").write_text(json.dumps(make_truth([ev(100)])))  # JSON is valid YAML
    (tmp_path / "report.json").write_text(json.dumps(make_report([ev(101)])))
    truth, report = load_truth(tmp_path / "truth.yaml"), load_report(tmp_path / "report.json")
    assert isinstance(truth, Truth) and isinstance(report, Report)
    assert match_violations(truth, report).total.tp == 1
    with pytest.raises(TrafficcamError, match="not found"):
        load_truth(tmp_path / "missing.yaml")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(TrafficcamError, match="cannot read report"):
        load_report(tmp_path / "broken.json")


def test_format_table() -> None:
    truth = make_truth([ev(100), ev(200, rule="wrong_way", where="exit")], frames=300, signals=TIMELINE)
    report = make_report([ev(101), ev(250)], signals={"main": [(0, "red"), (60, "green")]})
    table = format_table([evaluate_clip("clip_a", truth, report), evaluate_clip("clip_b", make_truth(), make_report())])
    print(table)
    lines = table.splitlines()
    assert lines[0].split() == ["clip", "rule", "tp", "fp", "fn", "precision", "recall"]
    assert lines[1].split() == ["clip_a", "red_light", "1", "1", "0", "0.50", "1.00"]
    assert lines[2].split() == ["clip_a", "wrong_way", "0", "0", "1", "1.00", "0.00"]
    assert lines[3].split() == ["clip_a", "all", "1", "1", "1", "0.50", "0.50"]
    assert lines[4].split() == ["clip_b", "all", "0", "0", "0", "1.00", "1.00"]
    # totals over both clips, per rule and overall
    assert lines[5].split() == ["TOTAL", "red_light", "1", "1", "0", "0.50", "1.00"]
    assert lines[6].split() == ["TOTAL", "wrong_way", "0", "0", "1", "1.00", "0.00"]
    assert lines[7].split() == ["TOTAL", "all", "1", "1", "1", "0.50", "0.50"]
    assert lines[8:] == ["", lines[9], "", lines[11], lines[12]]  # clip_b has no signals
    assert lines[9].startswith("one vehicle, two reports: 0 of the false positives")
    assert lines[11].split() == ["clip", "signal", "agreement"]
    assert lines[12].split() == ["clip_a", "main", "0.967"]


def test_a_second_report_of_the_same_road_user_is_counted_as_a_duplicate() -> None:
    """A rider's `person` track and bike track crossing one frame apart (issue 18): two reports, one
    vehicle. Another rider crossing at the same time two lanes over is a false positive, not a repeat."""
    truth = make_truth([ev(100)])
    report = make_report()
    report["violations"] = [
        {"rule": "red_light", "where": "stop", "frame": 100, "box": [300, 200, 340, 290]},  # the bike
        {"rule": "red_light", "where": "stop", "frame": 101, "box": [302, 190, 338, 270]},  # its rider
        {"rule": "red_light", "where": "stop", "frame": 102, "box": [500, 200, 540, 290]},  # someone else
        {"rule": "red_light", "where": "stop", "frame": 108, "box": [503, 196, 541, 292]},  # them again
        {"rule": "red_light", "where": "stop", "frame": 160, "box": [301, 200, 341, 290]},  # 6 s later: new
    ]
    scores = match_violations(truth, report).total
    assert (scores.tp, scores.fp) == (1, 4)
    assert [r.frame for r in scores.duplicates] == [101, 108]
    table = format_table([evaluate_clip("clip", truth, report)])
    assert "one vehicle, two reports: 2 of the false positives" in table
    assert "clip red_light at stop, frame 101" in table


def _truth_files() -> list[Path]:
    files = sorted(SHARED.glob("clips/*/truth.yaml"))
    if not files:
        pytest.skip(
            f"no truth files under {SHARED / 'clips'}: the shared clips folder is not checked out beside the repo"
        )
    return files


def test_real_truth_files_parse() -> None:
    for path in _truth_files():
        truth = load_truth(path)
        assert truth.fps > 0 and truth.frames > 0, path
        assert all(e.rule in {"red_light", "solid_line", "wrong_way", "lane_class"} for e in truth.violations), path


def test_real_truth_scores_perfectly_against_itself() -> None:
    # a report listing every true and every uncertain event must give tp = all, fp = 0, everything uncertain set aside
    for path in _truth_files():
        truth = load_truth(path)
        events = [(e.rule, e.where, e.frame) for e in (*truth.violations, *truth.uncertain)]
        timelines = {sid: [(c.start_frame, c.colour.value) for c in tl] for sid, tl in truth.signals.items()}
        report = make_report(events, fps=truth.fps, signals=timelines) | {"video": truth.video}
        result: ClipResult = evaluate_clip(path.parent.name, truth, report)
        total = result.matches.total
        assert (total.tp, total.fp, total.fn) == (len(truth.violations), 0, 0), path
        assert len(total.set_aside) == len(truth.uncertain), path
        assert all(share == 1.0 for share in result.signals.values()), path


def test_report_lists_the_spans_each_head_was_unreadable():
    from pipeline.report import unreadable_spans

    signals = {
        "main": [{"start_frame": 0, "colour": "red"}, {"start_frame": 10, "colour": "unknown"},
                 {"start_frame": 25, "colour": "green"}, {"start_frame": 40, "colour": "unknown"}],
        "arrow": [{"start_frame": 0, "colour": "green"}],
    }
    assert unreadable_spans(signals, 50, 10.0) == {
        "main": [{"start_frame": 10, "end_frame": 24, "start_s": 1.0, "end_s": 2.4},
                 {"start_frame": 40, "end_frame": 49, "start_s": 4.0, "end_s": 4.9}],
    }
