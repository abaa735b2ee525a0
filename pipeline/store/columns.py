"""Column types and shared `Annotated` aliases for the models, portable to SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from sqlalchemy import DateTime, Double, Enum, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import mapped_column
from sqlalchemy.types import TypeDecorator

ID_LENGTH = 100
"""Longest camera id, rule name, zone id, label or user name the schema holds."""

DEDUP_KEY_LENGTH = 255
"""Longest de-duplication key; hash longer identities before storing them."""


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC.

    PostgreSQL keeps it in a ``timestamptz``; SQLite, which has no timezone type, keeps the
    naive UTC value. Either way it comes back aware, in UTC. Naive values are refused, since
    nothing says which clock they were read from.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"refusing to store naive datetime {value.isoformat()}; attach a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def str_enum(enum_class: type[StrEnum], name: str) -> Enum:
    """A portable enum column: VARCHAR plus a CHECK constraint, storing each member's value.

    A native PostgreSQL ENUM type would need its own migration step for every new member.
    """
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


IntPK = Annotated[int, mapped_column(primary_key=True)]
Ident = Annotated[str, mapped_column(String(ID_LENGTH))]
Sha256 = Annotated[str, mapped_column(String(64))]
LongText = Annotated[str, mapped_column(Text)]
UTCTime = Annotated[datetime, mapped_column(UTCDateTime())]
CreatedAt = Annotated[datetime, mapped_column(UTCDateTime(), default=utc_now)]
Counter = Annotated[int, mapped_column(default=0)]
Real = Annotated[float, mapped_column(Double)]
