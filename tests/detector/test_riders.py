from __future__ import annotations

import pytest

from detector.riders import merge_riders
from detector.types import Box, Detection


def d(label: str, box: tuple[float, float, float, float], tid: int | None = None, conf: float = 0.6) -> Detection:
    return Detection(Box(*box), label, conf, tid)


def test_rider_on_a_bike_becomes_one_motorcycle_with_the_union_box():
    out = merge_riders([d("person", (100, 50, 130, 120), 1), d("motorcycle", (95, 90, 135, 150), 2)])
    assert [(x.label, x.track_id, x.box) for x in out] == [("motorcycle", 2, Box(95, 50, 135, 150))]


def test_two_up_passenger_and_rider_fold_into_the_bike():
    rider, passenger = d("person", (100, 50, 130, 120), 1), d("person", (105, 45, 135, 118), 3)
    out = merge_riders([rider, passenger, d("motorcycle", (95, 90, 135, 150), 2)])
    assert [x.label for x in out] == ["motorcycle"]


def test_two_up_without_a_detected_bike_is_one_person_the_older_track():
    out = merge_riders([d("person", (105, 45, 135, 118), 9, 0.9), d("person", (100, 50, 130, 120), 4, 0.5)])
    assert [(x.label, x.track_id) for x in out] == [("person", 4)]


@pytest.mark.parametrize(
    "person",
    [
        (300, 50, 330, 120),  # a pedestrian far from the bike
        (100, 160, 130, 230),  # a person below the bike (walking past in front of it)
    ],
)
def test_people_not_on_the_bike_stay_people(person):
    out = merge_riders([d("person", person, 1), d("motorcycle", (95, 90, 135, 150), 2)])
    assert sorted(x.label for x in out) == ["motorcycle", "person"]


def test_cars_are_untouched():
    car = d("car", (0, 0, 100, 80), 5)
    person = d("person", (10, 10, 30, 70), 6)
    assert merge_riders([car, person]) == [car, person]


def test_box_overlap_measures():
    big, bike = Box(0, 0, 40, 100), Box(5, 60, 35, 100)  # a bike inside its rider-and-bike box
    assert big.intersection(bike) == bike.area == 1200
    assert big.share_of_smaller(bike) == bike.share_of_smaller(big) == 1.0
    half_out = Box(20, 60, 50, 100)  # 20 of its 30 px width inside
    assert big.share_of_smaller(half_out) == pytest.approx(2 / 3)
    assert big.intersection(Box(50, 0, 60, 10)) == 0.0
    assert big.share_of_smaller(Box(10, 10, 10, 20)) == 0.0  # an empty box lies inside nothing
