"""Admins only: managing users, and exporting violations (CSV, JSON, a zip of evidence)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response, StreamingResponse

from pipeline.store.db import Database
from pipeline.store.records import UserRole
from pipeline.store.review_export import export_rows
from pipeline.store.review_queries import QueueFilter, filter_choices, queue_page
from pipeline.store.review_repo import ReviewError, add_user, change_password, list_users, set_user_disabled
from pipeline.store.review_sessions import SessionRecord, end_user_sessions, open_sessions
from review.auth import AdminUser, database, hash_password
from review.csrf import require_csrf
from review.export import csv_lines, json_chunks, write_zip
from review.params import choice, is_public_id
from review.web import STATUS_CHOICES, Filters, flash, redirect, render

router = APIRouter()
MAX_ZIP_VIOLATIONS = 500
_MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json", "zip": "application/zip"}


@router.get("/admin/users")
def users_page(request: Request, admin: AdminUser) -> Response:
    """Every user with their open sessions, the form to add one, and buttons to disable, enable,
    log out everywhere and set a new password."""
    db = database(request)
    sessions: dict[str, list[SessionRecord]] = {}
    for s in open_sessions(db, request.app.state.sessions):
        sessions.setdefault(s.user, []).append(s)
    return render(
        request, "users.html", users=list_users(db), roles=[r.value for r in UserRole], sessions=sessions
    )  # fmt: skip


@router.post("/admin/users", dependencies=[Depends(require_csrf)])
def users_add(
    request: Request,
    admin: AdminUser,
    name: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1024)],
    role: Annotated[str, Form(max_length=32)] = UserRole.REVIEWER.value,
) -> Response:
    """Add a user with a password the admin passes on to them."""
    try:
        add_user(database(request), name.strip(), hash_password(password), role)
    except ReviewError as exc:
        flash(request, "error", f"User not added: {exc}.")
    else:
        flash(request, "ok", f"Added {role} {name.strip()}.")
    return redirect("/admin/users")


@router.post("/admin/users/{name}/password", dependencies=[Depends(require_csrf)])
def users_password(
    request: Request, admin: AdminUser, name: str, password: Annotated[str, Form(max_length=1024)]
) -> Response:
    """Set a user's password (a reset); every session they have ends."""
    try:
        ended = change_password(database(request), name, hash_password(password))
    except ReviewError as exc:
        flash(request, "error", f"Password not changed: {exc}.")
        return redirect("/admin/users")
    if name == admin.name:
        return redirect("/login")  # the admin's own session ended with the others
    flash(request, "ok", f"New password set for {name}; {ended} open session(s) ended.")
    return redirect("/admin/users")


@router.post("/admin/users/{name}/{action}", dependencies=[Depends(require_csrf)])
def users_toggle(request: Request, admin: AdminUser, name: str, action: str) -> Response:
    """Disable (their sessions end at once), enable, or log a user out everywhere (`logout`);
    admins cannot disable themselves."""
    if action == "logout":
        try:
            ended = end_user_sessions(database(request), name)
        except ReviewError as exc:
            flash(request, "error", str(exc))
        else:
            flash(request, "ok", f"{ended} open session(s) of {name} ended.")
        return redirect("/admin/users")
    if action not in ("disable", "enable"):
        flash(request, "error", f"Unknown action {action[:20]!r}.")
    elif name == admin.name and action == "disable":
        flash(request, "error", "You cannot disable yourself; ask another admin.")
    else:
        try:
            set_user_disabled(database(request), name, action == "disable")
            flash(request, "ok", f"{name} {action}d.")
        except ReviewError as exc:
            flash(request, "error", str(exc))
    return redirect("/admin/users")


@router.get("/export")
def export_page(request: Request, admin: AdminUser) -> Response:
    """The export form: which violations, which format."""
    params = dict(request.query_params)
    params.setdefault("status", "confirmed")
    cameras, rules = filter_choices(database(request))
    return render(
        request, "export.html", filters=Filters.parse(params), cameras=cameras, rules=rules, statuses=STATUS_CHOICES
    )


@router.get("/export/download")
def export_download(request: Request, admin: AdminUser, format: str = "csv") -> Response:
    """The matching violations as CSV, JSON or a zip of their evidence."""
    params = dict(request.query_params)
    params.setdefault("status", "confirmed")
    filters = Filters.parse(params)
    format = choice(format, "format", tuple(_MEDIA), "csv")
    db, flt = database(request), filters.query()
    name = f"trafficcam-{filters.status}-{datetime.now().strftime('%Y%m%d-%H%M%S')}.{format}"
    if format == "zip":
        total = queue_page(db, flt, per_page=1).total
        if total > MAX_ZIP_VIOLATIONS:
            flash(
                request,
                "error",
                f"{total} violations match; a zip from here holds at most {MAX_ZIP_VIOLATIONS}. "
                "Narrow the filters, or use `trafficcam export --format zip`.",
            )
            return redirect("/export" + filters.qs())
        return _zip_response(db, flt, None, name)
    chunks = csv_lines(export_rows(db, flt)) if format == "csv" else json_chunks(export_rows(db, flt))
    return StreamingResponse(chunks, media_type=_MEDIA[format], headers=_attachment(name))


@router.post("/export/selection.zip", dependencies=[Depends(require_csrf)])
def export_selection(
    request: Request,
    admin: AdminUser,
    ids: Annotated[list[str], Form()] = [],  # noqa: B006  (FastAPI copies defaults)
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """A zip of the evidence of the violations ticked in the queue."""
    ids = [i for i in ids if is_public_id(i)]
    if not ids or len(ids) > MAX_ZIP_VIOLATIONS:
        flash(request, "error", f"Tick between 1 and {MAX_ZIP_VIOLATIONS} violations to download their evidence.")
        return redirect("/queue" + back if back.startswith("?") else "/queue")
    name = f"trafficcam-evidence-{datetime.now().strftime('%Y%m%d-%H%M%S')}.zip"
    return _zip_response(database(request), QueueFilter(status=None), ids, name)


def _zip_response(db: Database, flt: QueueFilter, ids: list[str] | None, name: str) -> Response:
    spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)
    write_zip(db, flt, spool, ids)  # type: ignore[arg-type]  # a spooled file is a binary file
    size = spool.tell()
    spool.seek(0)
    headers = _attachment(name) | {"Content-Length": str(size)}
    return StreamingResponse(_chunks(spool), media_type=_MEDIA["zip"], headers=headers)


def _chunks(f: IO[bytes]) -> Iterator[bytes]:
    with f:
        while chunk := f.read(1 << 20):
            yield chunk


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
