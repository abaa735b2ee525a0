"""The wall-clock time of a video's frame 0, from the best source there is.

Sources, in order: the operator (`--recorded-at`), the container's `creation_time`, a time in the
file name (CCTV exports such as ``16h30.25.9.22.mp4``, phones' ``20220925_163000.mp4``), and the
camera's burnt-in clock where the scene marks it (`osd.py`). The first one found is used; the
on-screen clock is also read as a check on the others and a disagreement of more than
`OSD_TOLERANCE_S` is a warning. With no source the time is unknown: records say so and cannot be
confirmed. Times in a file name or on screen are local to the camera, so they need its zone.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline.errors import TrafficcamError

log = logging.getLogger(__name__)

OSD_TOLERANCE_S = 2.0
"""More than this between the on-screen clock and the time used is worth a warning."""

_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # containers write 1904 / 1970 when they know nothing


class TimeSource(StrEnum):
    """Where a record's time came from."""

    OPERATOR = "operator"
    CONTAINER = "container"
    FILE_NAME = "file_name"
    OSD_CLOCK = "osd_clock"
    STREAM_CLOCK = "stream_clock"
    UNKNOWN = "unknown"
    RUN_CLOCK = "run_clock"
    """Records made before trafficcam knew better: start of processing + seconds into the video."""


KNOWN_SOURCES = frozenset(s for s in TimeSource if s not in (TimeSource.UNKNOWN, TimeSource.RUN_CLOCK))
"""Sources a confirmed violation may rest on."""


class TimeError(TrafficcamError):
    """A recording time or time zone that cannot be used (exit 2)."""

    exit_code = 2


@dataclass(frozen=True)
class RecordedTime:
    """Frame 0's UTC time (None: unknown), its source, and what is worth telling the operator."""

    start: datetime | None
    source: TimeSource
    warnings: tuple[str, ...] = ()
    checks: dict[str, str] = field(default_factory=dict)

    def at(self, seconds: float) -> datetime | None:
        """The UTC time `seconds` into the video, or None when the start is unknown."""
        return None if self.start is None else self.start + timedelta(seconds=seconds)

    def describe(self, zone: ZoneInfo | None) -> str:
        """One line for the operator: the time in the camera's zone and its source."""
        if self.start is None:
            return "recorded time unknown (give --recorded-at): records cannot be confirmed"
        local = self.start.astimezone(zone) if zone else self.start
        return f"frame 0 recorded at {local.isoformat(timespec='seconds')} (source: {self.source.value})"


def zone_of(name: str | None) -> ZoneInfo | None:
    """The ZoneInfo of an IANA name, or None."""
    return ZoneInfo(name) if name else None


def parse_operator_time(raw: str, zone: ZoneInfo | None) -> datetime:
    """An ISO 8601 time from the operator, as UTC; a time without offset is in the camera's zone.

    Raises:
        TimeError: not ISO 8601, or no offset and no zone to read it in.
    """
    try:
        value = datetime.fromisoformat(raw.strip().replace(" ", "T", 1))
    except ValueError:
        raise TimeError(f"--recorded-at must be an ISO time like 2022-09-25T16:15:00+07:00, got {raw!r}") from None
    if value.tzinfo is None:
        if zone is None:
            raise TimeError(
                f"--recorded-at {raw!r} has no UTC offset and the scene has no timezone: write it as "
                "2022-09-25T16:15:00+07:00, or set `timezone:` in the scene (or --timezone)"
            )
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def container_creation_time(path: Path) -> datetime | None:
    """The container's `creation_time` tag (ffmpeg's view of it), or None when absent or implausible.

    MP4 writers put the time the file was made here; for a camera that is when recording began,
    for a re-encoded export it may be when it was exported (hence the on-screen clock check).
    """
    try:
        import imageio_ffmpeg

        run = subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired, RuntimeError) as exc:
        log.warning("could not read the container metadata of %s: %s", path, exc)
        return None
    found = re.search(r"^\s*creation_time\s*:\s*(\S+)", run.stderr, re.MULTILINE)
    if found is None:
        return None
    try:
        value = datetime.fromisoformat(found.group(1).replace("Z", "+00:00"))
    except ValueError:
        return None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not (_EARLIEST <= value <= datetime.now(UTC) + timedelta(days=1)):
        return None
    return value.astimezone(UTC)


# (pattern, field names in order): each match gives a naive local time
_NAME_PATTERNS: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    # Vietnamese CCTV exports: 16h30.25.9.22 = 16:30 on 25/09/2022 (seconds optional: 16h30m15s)
    (re.compile(r"(?<!\d)(\d{1,2})h(\d{2})(?:m(\d{2})s?)?[._ -](\d{1,2})[._-](\d{1,2})[._-](\d{2}|\d{4})(?!\d)"),
     ("H", "M", "S", "d", "m", "y")),
    # 20220925_163015, 20220925-163015, 20220925T163015, 2022-09-25_16-30-15, 2022-09-25 16.30.15
    (re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})[_T -]?(\d{2})[-.:h]?(\d{2})[-.:m]?(\d{2})(?!\d)"),
     ("y", "m", "d", "H", "M", "S")),
]  # fmt: skip


def time_from_file_name(name: str) -> datetime | None:
    """The naive local time written in a file name, or None when it holds none."""
    stem = Path(name).stem
    for pattern, fields in _NAME_PATTERNS:
        for match in pattern.finditer(stem):
            parts = dict(zip(fields, match.groups(), strict=True))
            year = int(parts["y"])
            try:
                return datetime(
                    year + 2000 if year < 100 else year, int(parts["m"]), int(parts["d"]),
                    int(parts["H"]), int(parts["M"]), int(parts["S"] or 0),
                )  # fmt: skip
            except ValueError:
                continue  # 31/02, 25h: not a time
    return None


OsdRead = Callable[[], "datetime | None"]
"""Reads the on-screen clock: frame 0's local (naive) time, or None when unreadable."""


def resolve_recorded_time(
    path: Path,
    *,
    operator: datetime | None,
    zone: ZoneInfo | None,
    read_osd: OsdRead | None = None,
) -> RecordedTime:
    """Frame 0's time from the first source that has one; the on-screen clock checks it.

    Args:
        operator: UTC time from `--recorded-at` (already parsed).
        zone: the camera's zone; file-name and on-screen times cannot be used without it.
        read_osd: reads the scene's on-screen clock (None: the scene marks none).
    """
    warnings: list[str] = []
    candidates: list[tuple[TimeSource, datetime]] = []
    if operator is not None:
        candidates.append((TimeSource.OPERATOR, operator))
    created = container_creation_time(path)
    if created is not None:
        candidates.append((TimeSource.CONTAINER, created))
    named = time_from_file_name(path.name)
    if named is not None:
        if zone is None:
            warnings.append(f"the file name says {named:%Y-%m-%d %H:%M:%S} but the scene has no timezone: not used")
        else:
            candidates.append((TimeSource.FILE_NAME, named.replace(tzinfo=zone).astimezone(UTC)))
    osd = _read_osd(read_osd, zone, warnings)
    if osd is not None:
        candidates.append((TimeSource.OSD_CLOCK, osd))
    if not candidates:
        warnings.append("no recording time (no --recorded-at, container time, time in the file name or on-screen "
                        "clock): records are marked 'time unknown' and cannot be confirmed")  # fmt: skip
        return RecordedTime(None, TimeSource.UNKNOWN, tuple(warnings))
    source, start = candidates[0]
    checks = {s.value: t.isoformat() for s, t in candidates}
    for other, when in candidates[1:]:
        gap = (when - start).total_seconds()
        if abs(gap) <= OSD_TOLERANCE_S:
            continue
        used = source.value.replace("_", " ")
        if other is TimeSource.OSD_CLOCK:
            shown = when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
            warnings.append(f"the on-screen clock disagrees with the {used} time by {_gap(gap)} "
                            f"(it reads frame 0 as {shown}): check which is right")  # fmt: skip
        else:
            warnings.append(f"the {other.value.replace('_', ' ')} time differs from the {used} time by {_gap(gap)}")
    return RecordedTime(start, source, tuple(warnings), checks)


def _read_osd(read_osd: OsdRead | None, zone: ZoneInfo | None, warnings: list[str]) -> datetime | None:
    if read_osd is None:
        return None
    if zone is None:
        warnings.append("the scene marks an on-screen clock but has no timezone: the clock was not read")
        return None
    local = read_osd()
    if local is None:
        warnings.append("the on-screen clock could not be read (no two readings agreed)")
        return None
    return local.replace(tzinfo=zone).astimezone(UTC)


def _gap(seconds: float) -> str:
    sign = "+" if seconds >= 0 else "-"
    s = abs(seconds)
    return f"{sign}{int(s // 3600)}:{int(s % 3600 // 60):02d}:{s % 60:04.1f}"
