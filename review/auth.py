"""Logins: argon2 password hashes, login rate limiting, and who the current request is.

Sessions live in the database (`pipeline.store.review_sessions`). The browser's signed cookie
(HttpOnly, SameSite=Lax; see `review.app`) holds a random session token, and messages for the
next page; no name, no role. Every request looks the token's row up, so logout, a new
password, disabling a user or an admin's "end sessions" ends a session at once, even for a
cookie copied before.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Annotated

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import Depends, Request

from pipeline.store.db import Database
from pipeline.store.review_repo import ReviewError, UserRecord, get_login, set_password_hash
from pipeline.store.review_sessions import SessionPolicy, end_session, open_session, session_user

MIN_PASSWORD = 8
HASHER = PasswordHasher()
"""argon2id with the library's recommended cost; tests swap in a cheaper one."""


class LoginRequired(Exception):
    """The request needs a logged-in user and has none."""


class Forbidden(Exception):
    """The user is logged in but their role may not do this."""


def hash_password(password: str) -> str:
    """The argon2 hash of `password`.

    Raises:
        ReviewError: the password is shorter than `MIN_PASSWORD` characters.
    """
    if len(password) < MIN_PASSWORD:
        raise ReviewError(f"the password must have at least {MIN_PASSWORD} characters, got {len(password)}")
    return HASHER.hash(password)


_dummy_hash: list[str] = []


def verify_login(db: Database, name: str, password: str) -> UserRecord | None:
    """The user, when `name` exists, is enabled and `password` is theirs; else None.

    An unknown name costs the same hash check as a known one, so timing does not tell them apart.
    A hash made with weaker settings than the current ones is replaced after a good login.
    """
    login = get_login(db, name) if name else None
    if login is None:
        if not _dummy_hash:
            _dummy_hash.append(HASHER.hash(secrets.token_hex(8)))
        _matches(_dummy_hash[0], password)
        return None
    user, hashed = login
    if not _matches(hashed, password) or user.disabled:
        return None
    if HASHER.check_needs_rehash(hashed):
        set_password_hash(db, name, HASHER.hash(password))
    return user


def _matches(hashed: str, password: str) -> bool:
    try:
        return HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class LoginLimiter:
    """Counts failed logins in a sliding window, per user name + client address and per address.

    Args:
        max_failures: failures per name + address allowed in `window_s`; the next try gets 429.
        per_address: failures per address (any names) allowed in `window_s`, against guessing names.
        window_s: the window, seconds.
        clock: monotonic seconds (injected by tests).
    """

    def __init__(
        self,
        max_failures: int = 5,
        per_address: int = 30,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures, self.per_address, self.window_s = max_failures, per_address, window_s
        self._clock = clock
        self._failures: dict[tuple[str, ...], deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, name: str, address: str) -> float | None:
        """Seconds to wait before this name may try again from this address, or None."""
        now = self._clock()
        with self._lock:
            waits = [
                self._wait(key, limit, now)
                for key, limit in (((name.lower(), address), self.max_failures), ((address,), self.per_address))
            ]
        longest = max((w for w in waits if w is not None), default=None)
        return longest

    def failed(self, name: str, address: str) -> None:
        """Count one failed login."""
        now = self._clock()
        with self._lock:
            if len(self._failures) > 10_000:  # bounded memory under a flood of names
                self._prune(now)
            for key in ((name.lower(), address), (address,)):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, name: str, address: str) -> None:
        """Forget this name's failures from this address."""
        with self._lock:
            self._failures.pop((name.lower(), address), None)

    def _wait(self, key: tuple[str, ...], limit: int, now: float) -> float | None:
        times = self._failures.get(key)
        if not times:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) < limit:
            return None
        return times[-limit] + self.window_s - now

    def _prune(self, now: float) -> None:
        for key in [k for k, t in self._failures.items() if not t or t[-1] <= now - self.window_s]:
            del self._failures[key]


def client_address(request: Request) -> str:
    """The client's address: the socket peer, or what a trusted proxy says (`review.proxies`)."""
    peer = request.client.host if request.client else "unknown"
    return request.app.state.proxies.client(peer, request.headers.getlist("x-forwarded-for"))


def database(request: Request) -> Database:
    """The app's open database."""
    return request.app.state.db


def start_session(request: Request, user: UserRecord) -> None:
    """Log `user` in: a fresh token (no fixation) and its row; the CSRF token follows from it."""
    token = secrets.token_urlsafe(32)
    policy: SessionPolicy = request.app.state.sessions
    open_session(
        database(request), user.name, token, address=client_address(request),
        user_agent=request.headers.get("user-agent", ""), policy=policy,
    )  # fmt: skip
    request.session.clear()
    request.session["sid"] = token


def end_current_session(request: Request) -> None:
    """Log out: end the session's row (a copied cookie stops working too) and forget the token."""
    token = request.session.get("sid")
    if isinstance(token, str):
        end_session(database(request), token)
    request.session.clear()


def logged_in_user(request: Request) -> UserRecord | None:
    """The user of the request's live session, or None."""
    token = request.session.get("sid")
    if not isinstance(token, str) or len(token) > 100:
        return None
    return session_user(database(request), token, request.app.state.sessions)


def current_user(request: Request) -> UserRecord:
    """The logged-in, enabled user; `LoginRequired` otherwise."""
    user = logged_in_user(request)
    if user is None:
        raise LoginRequired()
    request.state.user = user
    return user


def require_admin(user: Annotated[UserRecord, Depends(current_user)]) -> UserRecord:
    """The logged-in user when an admin; `Forbidden` otherwise."""
    if not user.is_admin:
        raise Forbidden()
    return user


def require_scene_editor(user: Annotated[UserRecord, Depends(current_user)]) -> UserRecord:
    """The logged-in user when an operator or admin; `Forbidden` otherwise."""
    if not user.can_edit_scenes:
        raise Forbidden()
    return user


CurrentUser = Annotated[UserRecord, Depends(current_user)]
AdminUser = Annotated[UserRecord, Depends(require_admin)]
SceneEditor = Annotated[UserRecord, Depends(require_scene_editor)]
