"""CSRF tokens: one per session, a hidden field in every form, checked on POST.

The token is an HMAC of the session token (`sid` in the cookie; anonymous visitors get one too,
for the login form) under the app's secret, so the cookie needs to carry nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request

FIELD = "csrf_token"


class CsrfError(Exception):
    """A POST without the session's CSRF token (a forged or expired form)."""


def csrf_token(request: Request) -> str:
    """The session's CSRF token, starting an anonymous session when there is none."""
    sid = request.session.get("sid")
    if not isinstance(sid, str):
        sid = secrets.token_urlsafe(32)
        request.session["sid"] = sid
    return _expected(request, sid)


def _expected(request: Request, sid: str) -> str:
    key = request.app.state.secret_key.encode()
    return hmac.new(key, b"csrf:" + sid.encode(), hashlib.sha256).hexdigest()


async def require_csrf(request: Request) -> None:
    """Dependency for every POST: the form's token must equal the session's (403 otherwise)."""
    form = await request.form()
    sent = form.get(FIELD) or request.headers.get("X-CSRF-Token")
    sid = request.session.get("sid")
    if (
        not isinstance(sent, str)
        or not isinstance(sid, str)
        or not hmac.compare_digest(sent.encode(), _expected(request, sid).encode())
    ):
        raise CsrfError()
