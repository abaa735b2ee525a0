"""The coverage ledger: was this camera enforcing at a given moment, and if not, why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.store.coverage import (
    CoverageReason,
    close_coverage,
    close_stale_coverage,
    coverage_at,
    list_coverage,
    record_coverage,
    touch_coverage,
)
from tests.databases import open_test_database

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def db(tmp_path):
    database = open_test_database(tmp_path / "data")
    yield database
    database.close()


def test_periods_follow_state_changes(db):
    record_coverage(db, "cam", CoverageReason.STARTING, at(0))
    record_coverage(db, "cam", CoverageReason.ENFORCING, at(1))
    record_coverage(db, "cam", CoverageReason.ENFORCING, at(5))  # no change: the same period goes on
    record_coverage(db, "cam", CoverageReason.STREAM_DOWN, at(14), "no frame within the read timeout")
    record_coverage(db, "cam", CoverageReason.ENFORCING, at(20))
    periods = list_coverage(db, "cam")
    assert [(p.reason, p.started_at, p.ended_at) for p in periods] == [
        (CoverageReason.STARTING, at(0), at(1)),
        (CoverageReason.ENFORCING, at(1), at(14)),
        (CoverageReason.STREAM_DOWN, at(14), at(20)),
        (CoverageReason.ENFORCING, at(20), None),
    ]
    assert periods[2].detail == "no frame within the read timeout"
    assert coverage_at(db, "cam", at(8)).enforcing
    assert coverage_at(db, "cam", at(14.5)).reason is CoverageReason.STREAM_DOWN
    assert coverage_at(db, "cam", at(-1)) is None  # before any daemon watched it


def test_an_open_period_covers_only_up_to_its_last_sign_of_life(db):
    record_coverage(db, "cam", CoverageReason.ENFORCING, at(0))
    touch_coverage(db, "cam", at(10))
    assert coverage_at(db, "cam", at(9)).enforcing
    assert coverage_at(db, "cam", at(11)) is None  # the daemon may have died since: unknown


def test_a_dead_daemons_period_ends_at_its_last_sign_of_life(db):
    record_coverage(db, "cam", CoverageReason.ENFORCING, at(0))
    touch_coverage(db, "cam", at(7))
    assert close_stale_coverage(db, "cam") == 1
    (period,) = list_coverage(db, "cam")
    assert period.ended_at == at(7)


def test_closing_and_filters(db):
    record_coverage(db, "a", CoverageReason.FPS_BELOW_FLOOR, at(0), "1.2 fps analysed, floor 2")
    record_coverage(db, "b", CoverageReason.SIGNAL_UNREADABLE, at(0))
    close_coverage(db, "a", at(30))
    assert list_coverage(db, "a")[0].ended_at == at(30)
    assert list_coverage(db, "b")[0].ended_at is None
    assert [p.camera_id for p in list_coverage(db, since=at(31))] == ["b"]
    assert list_coverage(db, until=at(-1)) == []


def test_naive_times_are_refused(db):
    with pytest.raises(ValueError, match="timezone"):
        record_coverage(db, "cam", CoverageReason.ENFORCING, datetime(2026, 5, 1, 8, 0))
