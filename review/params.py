"""Strict parsing of what a request says: ids, days and text, each a clear 400 when malformed.

Python's own parsers are too kind for a web boundary: ``int("１２")`` reads full-width digits,
``"²".isdigit()`` is true, ``int("9" * 30)`` overflows the database's INTEGER, and the day after
9999-12-31 does not exist. Here an id is ASCII digits up to 2**31 - 1 (an INTEGER column), a day
is ``YYYY-MM-DD`` in ASCII between `FIRST_DAY` and `LAST_DAY`, and text holds no control characters (PostgreSQL refuses
NUL). A malformed value raises `BadParameter`, which the app turns into a 400 page naming it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2100, 12, 31)
MAX_ID_DIGITS = 10
MAX_ID = 2**31 - 1
"""Ids are INTEGER columns (PostgreSQL's int4): a larger number names nothing, and PostgreSQL
would refuse it as a parameter rather than find no row."""

_ID = re.compile(rf"[0-9]{{1,{MAX_ID_DIGITS}}}", re.ASCII)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
_ALLOWED_CONTROLS = {"\t", "\n", "\r"}


class BadParameter(Exception):
    """A request parameter that is malformed; `str()` says which, what was expected and what came."""


def _shown(raw: str) -> str:
    return repr(raw[:24] + ("..." if len(raw) > 24 else ""))


def parse_id(raw: str | None, name: str) -> int | None:
    """A database id (None when absent or empty)."""
    if raw is None or raw == "":
        return None
    if not _ID.fullmatch(raw) or int(raw) > MAX_ID:
        raise BadParameter(f"{name} must be a whole number from 0 to {MAX_ID} in digits 0-9, got {_shown(raw)}")
    return int(raw)


def parse_day(raw: str | None, name: str) -> date | None:
    """A calendar day ``YYYY-MM-DD`` (None when absent or empty)."""
    if raw is None or raw == "":
        return None
    try:
        day = date.fromisoformat(raw) if _DAY.fullmatch(raw) else None
    except ValueError:
        day = None
    if day is None:
        raise BadParameter(f"{name} must be a date like 2024-05-01 (YYYY-MM-DD), got {_shown(raw)}")
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadParameter(f"{name} must be between {FIRST_DAY} and {LAST_DAY}, got {raw}")
    return day


def is_public_id(raw: str) -> bool:
    """Whether `raw` can be a violation's public id (letters, digits, '-', '_'; at most 64)."""
    return bool(_PUBLIC_ID.fullmatch(raw))


def clean_text(raw: str, name: str, max_length: int, *, lines: bool = False) -> str:
    """`raw` when it is at most `max_length` characters without control characters (newlines and
    tabs allowed when `lines`)."""
    if len(raw) > max_length:
        raise BadParameter(f"{name} must be at most {max_length} characters, got {len(raw)}")
    allowed = _ALLOWED_CONTROLS if lines else set()
    for ch in raw:
        if ch not in allowed and unicodedata.category(ch) in ("Cc", "Cs"):
            raise BadParameter(f"{name} must not contain control characters, got {ch!r}")
    return raw


def choice(raw: str | None, name: str, choices: tuple[str, ...], default: str) -> str:
    """`raw` when it is one of `choices` (`default` when absent or empty)."""
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise BadParameter(f"{name} must be one of {', '.join(choices)}, got {_shown(raw)}")
    return raw
