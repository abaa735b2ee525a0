"""The queue of violations (filters, keyset paging) and the review log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pipeline.store.review_queries import filter_choices, next_in_queue, queue_page
from pipeline.store.review_repo import review_log
from pipeline.store.scene_versions import scene_log
from review.auth import CurrentUser, database
from review.params import parse_id
from review.web import STATUS_CHOICES, Filters, flash, redirect, render

router = APIRouter()
LOG_PAGE = 100
SCENE_LOG_PAGE = 20
PER_PAGE = 50


@router.get("/")
def home(user: CurrentUser) -> Response:
    """The queue is the home page."""
    return redirect("/queue")


@router.get("/queue")
def queue(request: Request, user: CurrentUser, older: str | None = None, newer: str | None = None) -> Response:
    """Violations matching the filters, newest first, `PER_PAGE` a page (`older` / `newer`: ids
    of the last / first violation of the page before)."""
    filters = Filters.parse(request.query_params)
    older_id, newer_id = parse_id(older, "older"), parse_id(newer, "newer")
    db = database(request)
    page = queue_page(db, filters.query(), older=older_id, newer=newer_id, per_page=PER_PAGE)
    cameras, rules = filter_choices(db)
    return render(
        request, "queue.html", page=page, filters=filters, cameras=cameras, rules=rules,
        statuses=STATUS_CHOICES, first_page=older_id is None and newer_id is None,
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
def log(request: Request, user: CurrentUser, before: str | None = None, scenes_before: str | None = None) -> Response:
    """The review log, newest first: who decided what, when and why; and who saved or rolled back
    which camera's scene, when (each list pages on its own)."""
    before_id = parse_id(before, "before")
    scenes_before_id = parse_id(scenes_before, "scenes_before")
    entries = review_log(database(request), before_id=before_id, limit=LOG_PAGE)
    changes = scene_log(database(request), before_id=scenes_before_id, limit=SCENE_LOG_PAGE)
    return render(
        request, "log.html", entries=entries, older=entries[-1].id if len(entries) == LOG_PAGE else None,
        first_page=before_id is None, scene_changes=changes, scenes_first_page=scenes_before_id is None,
        scenes_older=changes[-1].id if len(changes) == SCENE_LOG_PAGE else None,
        before=before_id, scenes_before=scenes_before_id,
    )  # fmt: skip
