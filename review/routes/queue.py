"""The queue of violations (filters, keyset paging) and the review log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pipeline.store.review_queries import filter_choices, next_in_queue, queue_page
from pipeline.store.review_repo import review_log
from review.auth import CurrentUser, database
from review.web import STATUS_CHOICES, Filters, flash, redirect, render

router = APIRouter()
PER_PAGE = 50


@router.get("/")
def home(user: CurrentUser) -> Response:
    """The queue is the home page."""
    return redirect("/queue")


@router.get("/queue")
def queue(request: Request, user: CurrentUser, older: int | None = None, newer: int | None = None) -> Response:
    """Violations matching the filters, newest first, `PER_PAGE` a page."""
    filters = Filters.parse(request.query_params)
    if filters.error:
        flash(request, "error", f"Filter ignored: {filters.error}.")
    db = database(request)
    page = queue_page(db, filters.query(), older=older, newer=newer, per_page=PER_PAGE)
    cameras, rules = filter_choices(db)
    return render(
        request, "queue.html", page=page, filters=filters, cameras=cameras, rules=rules,
        statuses=STATUS_CHOICES, first_page=older is None and newer is None,
    )  # fmt: skip


@router.get("/queue/start")
def start(request: Request, user: CurrentUser) -> Response:
    """Open the newest pending violation matching the filters."""
    filters = Filters.parse(request.query_params)
    first = next_in_queue(database(request), filters.query(status="pending"), None)
    if first is None:
        flash(request, "info", "No pending violations with these filters.")
        return redirect(f"/queue{filters.qs()}")
    return redirect(f"/violations/{first}{filters.qs()}")


@router.get("/log")
def log(request: Request, user: CurrentUser, before: int | None = None) -> Response:
    """The review log, newest first: who decided what, when and why."""
    entries = review_log(database(request), before_id=before, limit=100)
    older = entries[-1].id if len(entries) == 100 else None
    return render(request, "log.html", entries=entries, older=older, first_page=before is None)
