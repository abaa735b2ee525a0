"""Review-app sessions kept in the database, so that ending one really ends it.

The browser holds a random token; the `sessions` row is keyed by the token's SHA-256 (a copy of
the table logs nobody in). Every request looks the row up: a session is good while it is not
ended, not past its absolute `expires_at`, used within the idle timeout, and its user is enabled.
Logout, a new password, disabling the user and an admin's "end sessions" set `ended_at`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.sql.elements import ColumnElement

from pipeline.store.columns import utc_now
from pipeline.store.db import Database
from pipeline.store.models import SessionRow, UserRow
from pipeline.store.review_repo import UserRecord, _user_record, _user_row, end_sessions_of

TOUCH_EVERY = timedelta(seconds=30)
"""`last_used_at` is written at most this often, so a page with many images is not many writes."""

KEEP_ENDED = timedelta(days=30)
"""Ended and expired sessions stay this long (who logged in from where), then are deleted."""


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long a session lasts: `idle` without a request, `lifetime` at most from login."""

    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)

    def __post_init__(self) -> None:
        if self.idle <= timedelta(0) or self.lifetime <= timedelta(0):
            raise ValueError(f"session idle timeout and lifetime must be positive, got {self.idle}, {self.lifetime}")


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """An open session, for the admin page (the token itself is never shown)."""

    user: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    address: str
    user_agent: str


def token_id(token: str) -> str:
    """The row id of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(db: Database, name: str, token: str, *, address: str, user_agent: str, policy: SessionPolicy) -> None:
    """Record a new session of user `name` for `token` (old, long-ended rows are pruned here)."""
    now = utc_now()
    with db.session() as s:
        user = _user_row(s, name)
        s.execute(delete(SessionRow).where(_dead_before(now - KEEP_ENDED)))
        s.add(
            SessionRow(
                id=token_id(token), user_id=user.id, created_at=now, last_used_at=now,
                expires_at=now + policy.lifetime, address=address[:100], user_agent=user_agent[:300],
            )
        )  # fmt: skip


def session_user(db: Database, token: str, policy: SessionPolicy, now: datetime | None = None) -> UserRecord | None:
    """The enabled user whose live session `token` is, marking it used; None (and the session
    ended, when it timed out) otherwise."""
    now = now or utc_now()
    with db.session() as s:
        row = s.get(SessionRow, token_id(token))
        if row is None or row.ended_at is not None:
            return None
        reason = _expiry(row, policy, now)
        user = s.get(UserRow, row.user_id)
        if reason is None and (user is None or user.disabled):
            reason = "disabled"
        if reason is not None:
            row.ended_at, row.end_reason = now, reason
            return None
        if now - row.last_used_at >= min(TOUCH_EVERY, policy.idle / 10):
            row.last_used_at = now
        assert user is not None
        return _user_record(user)


def _expiry(row: SessionRow, policy: SessionPolicy, now: datetime) -> str | None:
    if now >= row.expires_at:
        return "expired"
    if now - row.last_used_at >= policy.idle:
        return "idle"
    return None


def end_session(db: Database, token: str, reason: str = "logout") -> bool:
    """End one session (logout); False when it was not open."""
    with db.session() as s:
        row = s.get(SessionRow, token_id(token))
        if row is None or row.ended_at is not None:
            return False
        row.ended_at, row.end_reason = utc_now(), reason
        return True


def end_user_sessions(db: Database, name: str, reason: str = "ended by admin") -> int:
    """End every open session of user `name` (a lost laptop); how many were open.

    Raises:
        ReviewError: no such user.
    """
    with db.session() as s:
        return end_sessions_of(s, _user_row(s, name).id, reason[:32])


def open_sessions(db: Database, policy: SessionPolicy, now: datetime | None = None) -> list[SessionRecord]:
    """Sessions still usable now, newest use first."""
    now = now or utc_now()
    query = (
        select(SessionRow, UserRow.name)
        .join(UserRow, UserRow.id == SessionRow.user_id)
        .where(SessionRow.ended_at.is_(None), SessionRow.expires_at > now)
        .where(SessionRow.last_used_at > now - policy.idle, UserRow.disabled.is_(False))
        .order_by(SessionRow.last_used_at.desc())
    )
    with db.session() as s:
        return [_record(row, name) for row, name in s.execute(query).tuples()]


def _record(row: SessionRow, name: str) -> SessionRecord:
    return SessionRecord(name, row.created_at, row.last_used_at, row.expires_at, row.address, row.user_agent)


def _dead_before(when: datetime) -> ColumnElement[bool]:
    return or_(SessionRow.ended_at < when, SessionRow.expires_at < when)
