"""Scene keys about the camera's place and clock, none of which changes what the rules find:
`timezone`, `location` (address, GPS, direction of travel), `offence_codes` and `osd_clock`.

They are left out of the scene's hash (`SITE_KEYS`), so adding them to a scene does not change the
identity of violations already recorded from it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

SITE_KEYS = frozenset({"timezone", "location", "offence_codes", "osd_clock"})
"""Scene keys that describe the site, not the detection: not part of `scene_hash`."""

_FIELDS = {"%d": 2, "%m": 2, "%Y": 4, "%y": 2, "%H": 2, "%M": 2, "%S": 2}


def check_timezone(name: str | None) -> str | None:
    """`name` when it is an IANA zone name (``Asia/Ho_Chi_Minh``), else a ValueError saying so."""
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as 'Asia/Ho_Chi_Minh' or 'UTC'") from None
    return name


def camera_time(value: datetime, zone: str | None) -> str:
    """A UTC time in the camera's zone with the zone's name (UTC when the camera's zone is not set)."""
    local = value.astimezone(ZoneInfo(zone or "UTC"))
    return local.strftime("%Y-%m-%d %H:%M:%S %Z") + (f" ({zone})" if zone else "")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(_Strict):
    """Where the camera is, as a notice names it."""

    address: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    gps: tuple[Annotated[float, Field(ge=-90, le=90)], Annotated[float, Field(ge=-180, le=180)]] | None = None
    direction: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class OsdClock(_Strict):
    """The camera's burnt-in clock: its box in frame pixels and its layout as a strftime format.

    Only digits are read: the format gives their order (day, month, year, hour, minute, second).
    """

    box: tuple[float, float, float, float]
    format: str = "%d/%m/%Y %H:%M:%S"

    @field_validator("box")
    @classmethod
    def _ordered(cls, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        if box[2] <= box[0] or box[3] <= box[1]:
            raise ValueError(f"box must be [x1, y1, x2, y2] with x1 < x2 and y1 < y2, got {list(box)}")
        return box

    @field_validator("format")
    @classmethod
    def _readable(cls, fmt: str) -> str:
        fields = digit_fields(fmt)
        missing = {"%d", "%m", "%H", "%M", "%S"} - set(fields)
        if missing or not ({"%Y", "%y"} & set(fields)):
            raise ValueError(
                f"format {fmt!r} must hold %d, %m, %Y (or %y), %H, %M and %S; missing {sorted(missing) or ['%Y']}"
            )
        return fmt

    def digit_fields(self) -> list[tuple[str, int]]:
        """The format's fields in order with their number of digits, e.g. [('%d', 2), ...]."""
        return [(f, _FIELDS[f]) for f in digit_fields(self.format)]


def digit_fields(fmt: str) -> list[str]:
    """The numeric strftime directives of `fmt`, in order."""
    return [d for d in re.findall(r"%[a-zA-Z]", fmt) if d in _FIELDS]
