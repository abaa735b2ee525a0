"""CSRF tokens: one random token per session, a hidden field in every form, checked on POST."""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request

FIELD = "csrf_token"


class CsrfError(Exception):
    """A POST without the session's CSRF token (a forged or expired form)."""


def csrf_token(request: Request) -> str:
    """The session's CSRF token, creating one for a new (anonymous) session."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def require_csrf(request: Request) -> None:
    """Dependency for every POST: the form's token must equal the session's (403 otherwise)."""
    form = await request.form()
    sent = form.get(FIELD) or request.headers.get("X-CSRF-Token")
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        raise CsrfError()
