from __future__ import annotations

from pathlib import Path

import pytest

from detector.evaluate import (
    DetectionScores,
    EvaluationError,
    LabelledBox,
    _merged_riders,
    eval_class,
    label_path,
    label_roi,
    match,
    read_label_file,
    score_image,
)

NAMES = {0: "car", 1: "green_light", 2: "motobike", 3: "red_light"}


def box(cls: str, x1: float, y1: float, x2: float, y2: float, conf: float = 0.9) -> LabelledBox:
    return LabelledBox(cls, x1, y1, x2, y2, conf)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("motobike", "motorcycle"),  # dataset spelling goes through detector/labels.py
        ("motorcycle", "motorcycle"),
        ("Car", "car"),
        ("red_light", "red_light"),  # not a trafficcam label: keeps its own name
        ("traffic light", "traffic light"),
    ],
)
def test_class_names_meet_in_trafficcam_labels(name, expected):
    assert eval_class(name) == expected


def test_manifest_override_that_drops_a_class_still_scores_it():
    assert eval_class("motobike", {"motobike": None}) == "motorcycle"


def test_box_and_polygon_rows_become_pixel_boxes(tmp_path: Path):
    f = tmp_path / "a.txt"
    f.write_text("0 0.5 0.5 0.2 0.4\n2 0.1 0.2 0.3 0.2 0.3 0.6 0.1 0.6\n", encoding="utf-8")
    car, bike = read_label_file(f, NAMES, 100, 200)
    assert (car.cls, car.x1, car.y1, car.x2, car.y2) == ("car", 40, 60, 60, 140)
    assert (bike.cls, bike.x1, bike.y1, bike.x2, bike.y2) == pytest.approx(("motorcycle", 10, 40, 30, 120))


def test_a_bad_label_row_names_file_and_line(tmp_path: Path):
    f = tmp_path / "a.txt"
    f.write_text("0 0.5 0.5 0.2 0.4\n9 0.5 0.5 0.2 0.4\n", encoding="utf-8")
    with pytest.raises(EvaluationError, match=r"a.txt:2: class id 9"):
        read_label_file(f, NAMES, 100, 100)


def test_missing_label_file_is_an_image_without_objects(tmp_path: Path):
    assert read_label_file(tmp_path / "none.txt", NAMES, 10, 10) == []


def test_labels_sit_beside_images():
    assert label_path(Path("/d/images/x.jpg")) == Path("/d/labels/x.txt")


@pytest.mark.parametrize(
    ("truths", "preds", "hits"),
    [
        ([box("car", 0, 0, 10, 10)], [box("car", 0, 0, 10, 10)], 1),  # exact
        ([box("car", 0, 0, 10, 10)], [box("car", 0, 0, 10, 5)], 1),  # IoU exactly 0.5 counts
        ([box("car", 0, 0, 10, 10)], [box("car", 0, 0, 10, 4)], 0),  # IoU 0.4 does not
        ([box("car", 0, 0, 10, 10)], [box("car", 0, 0, 10, 10), box("car", 1, 0, 11, 10)], 1),  # duplicate
        ([box("car", 0, 0, 10, 10), box("car", 20, 0, 30, 10)], [box("car", 0, 0, 30, 10)], 0),  # one box, two cars
    ],
)
def test_matching_is_one_to_one_at_iou_half(truths, preds, hits):
    assert match(truths, preds, 0.5) == (hits, hits)


def test_the_more_confident_prediction_takes_the_truth():
    truth = [box("car", 0, 0, 10, 10)]
    weak, strong = box("car", 0, 0, 10, 9, 0.3), box("car", 0, 0, 10, 6, 0.9)
    assert match(truth, [weak, strong]) == (1, 1)


def test_scores_per_class_and_pooled_rows():
    scores = DetectionScores()
    truths = [box("motorcycle", 0, 0, 10, 10), box("car", 50, 50, 90, 90), box("red_light", 100, 0, 104, 10)]
    preds = [
        box("motorcycle", 0, 0, 10, 10),
        box("motorcycle", 200, 200, 210, 210),  # false positive
        box("truck", 50, 50, 90, 90),  # COCO calls the dataset's `car` a truck
        box("traffic light", 100, 0, 104, 10),  # colour-blind signal head
    ]
    score_image(scores, truths, preds)
    c = scores.classes
    assert (c["motorcycle"].recall, c["motorcycle"].precision) == (1.0, 0.5)
    assert (c["car"].recall, c["car"].precision) == (0.0, None)
    assert (c["car+bus+truck"].recall, c["car+bus+truck"].precision) == (1.0, 1.0)
    assert (c["red_light"].recall, c["signal"].recall, c["signal"].precision) == (0.0, 1.0, 1.0)
    assert scores.images == 1
    assert scores.as_dict()["classes"]["motorcycle"]["precision"] == 0.5


def test_a_rider_counts_as_the_motorbike_row_and_merging_joins_rider_and_bike():
    truths = [box("motorcycle", 100, 60, 130, 140)]  # the dataset boxes rider and bike together
    rider, bike = box("person", 102, 60, 128, 120, 0.8), box("motorcycle", 100, 105, 130, 140, 0.6)
    plain, merged = DetectionScores(), DetectionScores()
    score_image(plain, truths, [rider, bike])
    assert plain.classes["motorcycle"].recall == 0.0  # the bike alone is under half the truth
    score_image(merged, truths, _merged_riders([rider, bike, box("traffic light", 0, 0, 4, 10)]))
    assert merged.classes["motorcycle"].recall == 1.0 and merged.classes["motorcycle+person"].precision == 1.0
    assert "traffic light" in merged.classes  # classes trafficcam does not use are left alone


def test_region_of_interest_from_labelled_stop_lines_and_signals():
    truths = [box("stop_line", 100, 300, 500, 310), box("red_light", 400, 50, 410, 70), box("car", 0, 0, 50, 50)]
    assert label_roi(truths, 640, 480, margin=0.1) == (36, 2, 565, 359)
    assert label_roi([box("car", 0, 0, 50, 50)], 640, 480, margin=0.1) is None
