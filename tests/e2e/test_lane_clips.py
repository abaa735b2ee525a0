"""The lane rules (solid_line, wrong_way, lane_class) with the real detector on the clips in ../shared/clips
that have lane truth, compared with their hand-checked truth.yaml."""

from __future__ import annotations

import hashlib

import pytest

from pipeline.evaluation import evaluate_clip, format_table
from pipeline.store import repository as repo
from tests.databases import open_test_database

pytestmark = pytest.mark.slow

LANE_RULES = ("solid_line", "wrong_way", "lane_class")

# clip -> analysis fps. The Nepal clips are 30 fps; analysing 15 of them finds the same violations
# as all 30 (measured) in half the time. Taiwan (8 fps) and Hanoi (6 fps) are analysed in full.
CLIPS = {
    "nepal_yellow_van_right": 15.0,
    "nepal_bike_rider_extreme_right": 15.0,
    "nepal_gray_car_left": 15.0,
    "nepal_white_car_right": 15.0,
    "nepal_army_jeep_right": 15.0,
    "taiwan_highway": None,
    "hanoi_ltk_hangbai": None,
}

# (clip, rule) -> (precision floor, recall floor), measured with the COCO YOLOv8n int8 weights at 320 px
# (../shared/models/yolov8n_int8.onnx) and the rules' default settings. Floors are what was measured,
# not what is wished for; a (clip, rule) without truth or reports scores 1.00 / 1.00 and is not listed.
FLOORS = {
    # the van's bottom-centre crosses the double line at f77-78 (truth f72): found
    ("nepal_yellow_van_right", "solid_line"): (1.0, 1.0),
    # measured recall 0: after crossing, COCO at 320 px keeps the van for only ~10 frames (~30 px of travel)
    # in R_main before losing it for good, far short of 1 s and 60 px of wrong-way driving
    ("nepal_yellow_van_right", "wrong_way"): (1.0, 0.0),
    # measured recall 0: the rider is detected only as a person (so not a vehicle for the lane rules),
    # and only from f48, 38 frames after the truth's f10
    ("nepal_bike_rider_extreme_right", "wrong_way"): (1.0, 0.0),
    # measured precision 0.67, recall 0.50 (2026-11-28, tracker without score fusion; 0.75 / 0.75 with it):
    # the f155 and f236 riders found (f151, f233); the navy-jacket rider of truth f173 is reported at
    # f165, 8 frames early, outside the 1 s tolerance: one false report and one miss. (A second track
    # of the same rider, its rider-and-bike box around the bike's box, reported it at f160 too until the
    # engine learnt to hold back a second track of a vehicle.) The f286 rider along the far kerb is not
    # detected. Since 2026-12-01 a wrong-way report is made where its first window confirms it, not at the
    # window's middle (about 0.5 s later): with the default weights that matched the f155 and f173 riders
    # (MODELS.md, "Evaluation on all 13 shared clips"); these COCO floors were not re-measured.
    ("hanoi_ltk_hangbai", "wrong_way"): (0.65, 0.5),
    # measured: the pink-helmet rider who cuts across the centre line at f134 is not detected at all in
    # frames 120-141 (recall 0), and one false report at f211: the green-shirt rider who queues astride
    # the line (truth: uncertain at f222, 11 frames later, so outside the tolerance)
    ("hanoi_ltk_hangbai", "solid_line"): (0.0, 0.0),
}

# clips where a vehicle hugs or straddles the line with its bottom-centre clear of it (truth: uncertain,
# "never crosses the centre line"), or where nothing crosses at all: no solid_line report is right
NO_SOLID_LINE = ("nepal_gray_car_left", "nepal_white_car_right", "nepal_army_jeep_right", "taiwan_highway")


@pytest.fixture(scope="module", params=list(CLIPS))
def lane_run(request, clip_runs):
    name = request.param
    run = clip_runs(name, CLIPS[name])
    # red_light has its own end-to-end test; here only the lane rules are scored
    truth = run.truth.model_copy(
        update={
            "violations": [e for e in run.truth.violations if e.rule in LANE_RULES],
            "uncertain": [e for e in run.truth.uncertain if e.rule in LANE_RULES],
            "signals": {},
        }
    )
    report = {**run.report, "violations": [v for v in run.report["violations"] if v["rule"] in LANE_RULES]}
    scored = evaluate_clip(name, truth, report)
    print("\n" + format_table([scored]))
    return name, run.data, run.result, report, scored


def test_lane_rules_against_truth(lane_run):
    name, _, _, report, scored = lane_run
    for v in report["violations"]:
        print(f"  reported {v['rule']} at {v['where']}: frame {v['frame']}, track {v['track_id']} {v['label']}")
    for rule, score in scored.matches.rules.items():
        precision_floor, recall_floor = FLOORS.get((name, rule), (1.0, 1.0))
        assert score.precision >= precision_floor, f"{name} {rule}: precision {score.precision:.2f}"
        assert score.recall >= recall_floor, f"{name} {rule}: recall {score.recall:.2f}"
    if name in NO_SOLID_LINE:
        assert not [v for v in report["violations"] if v["rule"] == "solid_line"]


def test_no_lane_class_reports_and_one_report_per_track_rule_and_place(lane_run):
    _, _, result, report, _ = lane_run
    # no clip has a lane with an `allowed` list, so lane_class must stay silent
    assert not [v for v in report["violations"] if v["rule"] == "lane_class"]
    keys = [(v["track_id"], v["rule"], v["where"]) for v in report["violations"]]
    assert len(keys) == len(set(keys)), "one report per (track, rule, where)"


def test_lane_violations_have_evidence_with_matching_hashes(lane_run):
    _, data, result, report, _ = lane_run
    records = [r for r in repo.list_violations(open_test_database(data), run_id=result.run_id) if r.rule in LANE_RULES]
    assert len(records) == len(report["violations"])
    for record in records:
        # a violation found late (a rider seen as a person until its majority label became motorcycle)
        # gets the nearest buffered frames as its images, so every package is complete
        assert set(record.evidence) - {"plate"} == {"before", "during", "after", "vehicle", "clip", "clip_marked"}, (
            record.public_id
        )
        for kind, (path, sha) in record.evidence.items():
            assert hashlib.sha256((data / path).read_bytes()).hexdigest() == sha, f"{record.public_id}/{kind}"
