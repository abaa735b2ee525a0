"""Fusing a general and a fine-tuned detector's boxes (detector/fusion.py), and the queue-box count."""

from __future__ import annotations

import numpy as np

from detector.evaluate import LabelledBox, queue_box_counts
from detector.fusion import fuse


def part(*boxes: tuple[float, float, float, float, float, str]):
    xyxy = np.array([b[:4] for b in boxes], np.float32).reshape(-1, 4)
    return xyxy, np.array([b[4] for b in boxes], np.float32), [b[5] for b in boxes]


def test_a_box_around_a_queue_of_cars_is_dropped_and_the_cars_kept():
    fine = part((0, 100, 300, 200, 0.6, "car"))  # one box around three cars
    general = part((0, 110, 90, 200, 0.8, "car"), (100, 110, 190, 200, 0.7, "car"), (200, 110, 290, 200, 0.9, "car"))
    xyxy, conf, labels = fuse([fine, general])
    assert labels == ["car", "car", "car"]
    assert xyxy[:, 2].max() <= 290


def test_one_road_user_seen_by_both_models_is_one_box():
    # same car, IoU ~0.8: the more confident box stays
    xyxy, conf, labels = fuse([part((10, 10, 110, 90, 0.6, "car")), part((14, 12, 112, 92, 0.9, "truck"))])
    assert len(labels) == 1 and labels == ["truck"] and conf[0] == np.float32(0.9)
    # a rider-and-bike box over a bike-only box: the outer box stays, whatever the scores
    xyxy, conf, labels = fuse([part((50, 0, 90, 100, 0.4, "motorcycle")), part((52, 50, 88, 100, 0.8, "motorcycle"))])
    assert len(labels) == 1 and tuple(xyxy[0]) == (50, 0, 90, 100)


def test_distinct_road_users_and_other_groups_are_all_kept():
    fine = part((0, 0, 40, 80, 0.5, "motorcycle"), (100, 0, 140, 80, 0.5, "motorcycle"))
    general = part((10, 0, 30, 50, 0.9, "person"), (300, 300, 400, 380, 0.9, "car"))  # a rider, a car elsewhere
    xyxy, conf, labels = fuse([fine, general])
    assert sorted(labels) == ["car", "motorcycle", "motorcycle", "person"]
    assert fuse([part(), part()])[0].shape == (0, 4)


def test_queue_box_counts_labelled_vehicles_inside_each_predicted_box():
    truths = [LabelledBox("car", 0, 0, 50, 50), LabelledBox("car", 60, 0, 110, 50),
              LabelledBox("motorcycle", 200, 0, 220, 40)]  # fmt: skip
    preds = [LabelledBox("car", 0, 0, 112, 52), LabelledBox("car", 0, 0, 50, 50),
             LabelledBox("motorcycle", 198, 0, 222, 42), LabelledBox("person", 0, 0, 500, 500)]  # fmt: skip
    assert queue_box_counts(truths, preds) == [2, 1, 1]  # persons are not vehicle boxes
