"""When frame 0 was recorded: operator, container, file name, on-screen clock (real clips)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.timing.recorded import (
    TimeError,
    TimeSource,
    container_creation_time,
    parse_operator_time,
    resolve_recorded_time,
    time_from_file_name,
)
from tests.conftest import need_shared

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("16h30.25.9.22.mp4", datetime(2022, 9, 25, 16, 30)),
        ("16h15.25.9.22.mp4", datetime(2022, 9, 25, 16, 15)),
        ("07h05.3.11.2023.mp4", datetime(2023, 11, 3, 7, 5)),
        ("cam2_16h30m15s.25.9.22.mp4", datetime(2022, 9, 25, 16, 30, 15)),
        ("20220925_163015.mp4", datetime(2022, 9, 25, 16, 30, 15)),
        ("VID_20220925_163015.mp4", datetime(2022, 9, 25, 16, 30, 15)),
        ("2022-09-25_16-30-15.mkv", datetime(2022, 9, 25, 16, 30, 15)),
        ("20220925T163015.avi", datetime(2022, 9, 25, 16, 30, 15)),
        ("clip.mp4", None),
        ("traffic1.mp4", None),
        ("25h30.25.9.22.mp4", None),  # not a time
        ("16h30.31.2.22.mp4", None),  # 31 February
    ],
)
def test_time_in_file_name(name: str, expected: datetime | None) -> None:
    assert time_from_file_name(name) == expected


def test_the_hanoi_export_gets_its_recorded_time(tmp_path: Path) -> None:
    clip = need_shared("clips", "hanoi_ltk_hangbai", "16h30.25.9.22.mp4")
    here = tmp_path / clip.name
    here.symlink_to(clip)
    found = resolve_recorded_time(here, operator=None, zone=HANOI)
    assert found.source is TimeSource.FILE_NAME
    assert found.start == datetime(2022, 9, 25, 9, 30, tzinfo=UTC)  # 16:30 in Hanoi (UTC+7)
    # the same bytes under a name without a time, and no container time: unknown, and said so
    other = tmp_path / "export.mp4"
    other.symlink_to(clip)
    unknown = resolve_recorded_time(other, operator=None, zone=HANOI)
    assert unknown.source is TimeSource.UNKNOWN and unknown.start is None
    assert any("cannot be confirmed" in w for w in unknown.warnings)


def test_a_file_name_time_needs_the_camera_zone(tmp_path: Path) -> None:
    clip = need_shared("clips", "hanoi_ltk_hangbai", "16h30.25.9.22.mp4")
    (tmp_path / clip.name).symlink_to(clip)
    found = resolve_recorded_time(tmp_path / clip.name, operator=None, zone=None)
    assert found.source is TimeSource.UNKNOWN
    assert any("no timezone" in w for w in found.warnings)


def test_the_operator_comes_first_and_a_disagreement_is_told(tmp_path: Path) -> None:
    clip = need_shared("clips", "hanoi_ltk_hangbai", "16h30.25.9.22.mp4")
    (tmp_path / clip.name).symlink_to(clip)
    operator = parse_operator_time("2022-09-25T16:41:47+07:00", None)
    found = resolve_recorded_time(tmp_path / clip.name, operator=operator, zone=HANOI)
    assert found.source is TimeSource.OPERATOR and found.start == datetime(2022, 9, 25, 9, 41, 47, tzinfo=UTC)
    assert any("file name time differs from the operator time by -0:11:47.0" in w for w in found.warnings)


def test_container_creation_time_of_a_real_clip() -> None:
    clip = need_shared("clips", "taiwan_highway", "traffic1.mp4")
    assert container_creation_time(clip) == datetime(2022, 5, 8, 17, 15, 47, tzinfo=UTC)
    found = resolve_recorded_time(clip, operator=None, zone=ZoneInfo("Asia/Taipei"))
    assert found.source is TimeSource.CONTAINER
    assert found.at(2.5) == datetime(2022, 5, 8, 17, 15, 49, 500000, tzinfo=UTC)


def test_no_container_time_in_the_hanoi_export() -> None:
    assert container_creation_time(need_shared("clips", "hanoi_ltk_hangbai", "16h30.25.9.22.mp4")) is None


@pytest.mark.parametrize(
    ("raw", "zone", "expected"),
    [
        ("2022-09-25T16:15:00+07:00", None, datetime(2022, 9, 25, 9, 15, tzinfo=UTC)),
        ("2022-09-25 16:15:00", HANOI, datetime(2022, 9, 25, 9, 15, tzinfo=UTC)),
        ("2022-09-25T09:15:00Z", HANOI, datetime(2022, 9, 25, 9, 15, tzinfo=UTC)),
    ],
)
def test_operator_time(raw: str, zone: ZoneInfo | None, expected: datetime) -> None:
    assert parse_operator_time(raw, zone) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [("2022-09-25 16:15", "has no UTC offset"), ("yesterday at four", "must be an ISO time")],
)
def test_bad_operator_time(raw: str, message: str) -> None:
    with pytest.raises(TimeError, match=message):
        parse_operator_time(raw, None)
