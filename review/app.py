"""The review web app: `create_app(db, secret_key=...)` builds it; `trafficcam serve` runs it.

Server-rendered pages (Jinja2), one small stylesheet and one small script, no build step.
Static files are held in memory and served by name from a fixed list, and evidence by database
id (`review.routes.evidence`), so no part of a request path ever reaches the file system.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.store.db import Database
from pipeline.store.review_repo import UnreadablePlate
from pipeline.store.review_sessions import SessionPolicy
from review.auth import Forbidden, LoginLimiter, LoginRequired
from review.csrf import CsrfError
from review.params import BadParameter
from review.proxies import TrustedProxies
from review.routes import admin, dashboard, evidence, login, queue, scenes, violation
from review.web import redirect, render

SESSION_COOKIE = "trafficcam_session"
SECRET_FILE = "review-secret.key"
_STATIC_DIR = Path(__file__).parent / "static"
_STATIC = {"app.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
           "scene_editor.js": "text/javascript; charset=utf-8", "scene_editor.css": "text/css; charset=utf-8"}
_SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; media-src 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


def create_app(
    db: Database,
    *,
    secret_key: str,
    secure_cookies: bool = False,
    limiter: LoginLimiter | None = None,
    sessions: SessionPolicy | None = None,
    trusted_proxies: TrustedProxies | None = None,
    unreadable_plate: UnreadablePlate = UnreadablePlate.PARK,
) -> FastAPI:
    """The review app on `db` (evidence paths are relative to `db.data_dir`).

    Args:
        secret_key: signs the session cookies; keep it secret and the same across restarts.
        secure_cookies: send the session cookie over HTTPS only (set it behind TLS).
        limiter: the login rate limiter (default: 5 failures a minute per user and address).
        sessions: idle timeout and absolute lifetime of a login (default 30 min, 12 h).
        trusted_proxies: proxies whose X-Forwarded-For names the client (default: none).
        unreadable_plate: what confirming with "plate unreadable" does (park or reject).
    """
    if len(secret_key) < 32:
        raise ValueError(f"secret_key must have at least 32 characters, got {len(secret_key)}")
    app = FastAPI(title="trafficcam review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.db = db
    app.state.limiter = limiter or LoginLimiter()
    app.state.sessions = sessions or SessionPolicy()
    app.state.proxies = trusted_proxies or TrustedProxies()
    app.state.secret_key = secret_key
    app.state.unreadable_plate = UnreadablePlate(unreadable_plate)
    app.state.static = {name: (_STATIC_DIR / name).read_bytes() for name in _STATIC}
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key,
        session_cookie=SESSION_COOKIE,
        # The database ends a session at its lifetime and records why ("expired"). The signed cookie's own
        # max_age is whole seconds, so at the same limit it could refuse first and leave the row unended:
        # give it a minute's slack and let the database decide.
        max_age=int(app.state.sessions.lifetime.total_seconds()) + 60,
        same_site="lax",
        https_only=secure_cookies,
    )
    app.add_middleware(SecurityHeaders)
    for module in (login, queue, violation, evidence, admin, dashboard, scenes):
        app.include_router(module.router)
    app.add_api_route("/static/{name}", static_file, methods=["GET"], include_in_schema=False)
    _add_error_pages(app)
    return app


def static_file(request: Request, name: str) -> Response:
    """One of the app's own static files, from memory."""
    body = request.app.state.static.get(name)
    if body is None:
        return PlainTextResponse("not found", status_code=404)
    return Response(body, media_type=_STATIC[name], headers={"Cache-Control": "public, max-age=300"})


def _add_error_pages(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if request.method == "GET" and not request.url.path.startswith(("/evidence/", "/export/")):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return redirect("/login" + (f"?next={_quote(target)}" if target != "/" else ""))
        return PlainTextResponse("log in first", status_code=401)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        message = "Only admins may do this. Ask an admin if you need it."
        return render(request, "error.html", status_code=403, title="Not allowed", message=message)

    @app.exception_handler(CsrfError)
    async def csrf_failed(request: Request, exc: CsrfError) -> Response:
        message = "This form has expired or did not come from this site. Go back, reload the page and try again."
        return render(request, "error.html", status_code=403, title="Form refused", message=message)

    @app.exception_handler(BadParameter)
    async def bad_parameter(request: Request, exc: BadParameter) -> Response:
        message = f"Bad request: {exc}. Go back and try again."
        return render(request, "error.html", status_code=400, title="Bad request", message=message)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(str(e.get("loc", ["?"])[-1]) for e in exc.errors()[:5])
        message = f"The request is missing or has bad values for: {fields}. Go back and try again."
        return render(request, "error.html", status_code=400, title="Bad request", message=message)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            title, message = "Not found", str(exc.detail) if exc.detail != "Not Found" else "There is no such page."
        else:
            title, message = f"Error {exc.status_code}", str(exc.detail)
        return render(request, "error.html", status_code=exc.status_code, title=title, message=message)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


class SecurityHeaders:
    """Adds a strict Content-Security-Policy and friends to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + _SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def load_secret(data_dir: Path, given: str | None = None) -> str:
    """The session secret: `given` (``--secret-key`` / ``TRAFFICCAM_SECRET_KEY``), else the one
    kept in ``<data_dir>/review-secret.key`` (created, readable by its owner only, on first use)."""
    if given:
        return given
    path = Path(data_dir) / SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret
