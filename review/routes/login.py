"""Logging in and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from review.auth import (
    client_address,
    database,
    end_current_session,
    logged_in_user,
    start_session,
    verify_login,
)
from review.csrf import require_csrf
from review.web import flash, redirect, render, safe_next

router = APIRouter()


@router.get("/login")
def login_page(request: Request, next: str = "") -> Response:
    """The login form (or straight on, when already logged in)."""
    if logged_in_user(request) is not None:
        return redirect(safe_next(next))
    return render(request, "login.html", next=safe_next(next), name="")


@router.post("/login", dependencies=[Depends(require_csrf)])
def login(
    request: Request,
    name: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the password; 5 failures a minute per user and address get 429 until the minute is up."""
    limiter = request.app.state.limiter
    address = client_address(request)
    wait = limiter.retry_after(name, address)
    if wait is not None:
        seconds = max(1, int(wait + 0.999))
        message = f"Too many failed logins. Wait {seconds} s and try again."
        return render(
            request, "login.html", status_code=429, headers={"Retry-After": str(seconds)},
            error=message, next=safe_next(next), name=name,
        )  # fmt: skip
    user = verify_login(database(request), name, password)
    if user is None:
        limiter.failed(name, address)
        return render(
            request, "login.html", status_code=401, error="Wrong name or password, or the account is disabled.",
            next=safe_next(next), name=name,
        )  # fmt: skip
    limiter.succeeded(name, address)
    start_session(request, user)
    flash(request, "ok", f"Logged in as {user.name} ({user.role.value}).")
    return redirect(safe_next(next))


@router.post("/logout", dependencies=[Depends(require_csrf)])
def logout(request: Request) -> Response:
    """End the session, in the database too: a copy of the cookie no longer works."""
    end_current_session(request)
    flash(request, "info", "Logged out.")
    return redirect("/login")
