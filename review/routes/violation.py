"""One violation: its evidence and data, and the decision form; after a decision, the next one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import Response

from pipeline.store.records import ReviewDecision, ViolationStatus
from pipeline.store.review_audit import evidence_problems
from pipeline.store.review_queries import ViolationDetail, next_in_queue, violation_detail
from pipeline.store.review_repo import (
    AlreadyDecidedError,
    ReviewError,
    ReviewRecord,
    UnknownViolationError,
    decide,
)
from review.auth import CurrentUser, database
from review.csrf import require_csrf
from review.params import clean_text, is_public_id, parse_id
from review.web import REJECT_LABELS, Filters, flash, redirect, render

router = APIRouter()
IMAGE_KINDS = ("before", "during", "after")


@router.get("/violations/{public_id}")
def violation_page(request: Request, public_id: str, user: CurrentUser) -> Response:
    """The evidence, the data and the decision form of one violation."""
    detail = _detail_or_404(request, public_id)
    filters = Filters.parse(request.query_params)
    integrity = _integrity(request, detail)
    last = detail.last_review
    return render(
        request, "violation.html", v=detail, item=detail.item, filters=filters, integrity=integrity,
        images=[(k, detail.evidence.get(k)) for k in IMAGE_KINDS], reasons=list(REJECT_LABELS.items()),
        expected=last.id if last else "", decided=detail.item.status is not ViolationStatus.PENDING,
        unreadable_rule=request.app.state.unreadable_plate.value,
    )  # fmt: skip


@router.post("/violations/{public_id}/decision", dependencies=[Depends(require_csrf)])
def decision(
    request: Request,
    public_id: str,
    user: CurrentUser,
    decision: Annotated[str, Form(max_length=32)],
    expected: Annotated[str, Form(max_length=100)] = "",
    reason: Annotated[str, Form(max_length=100)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    plate: Annotated[str, Form(max_length=100)] = "",
    plate_unreadable: Annotated[str, Form(max_length=10)] = "",
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Append the decision to the review log, then open the next pending violation.

    `expected` is the id of the latest log entry the page showed (empty: undecided); if someone
    decided since, nothing is written and the page reloads saying who.
    """
    _known_form(public_id)
    filters = _filters_from(back)
    here = f"/violations/{public_id}{filters.qs()}"
    expected_id = parse_id(expected, "expected (the latest review the page showed)")
    clean_text(note, "note", 2000, lines=True)
    if decision == "confirm" and (refused := _refuse_unintact(request, public_id)):
        flash(request, "error", refused)
        return redirect(here)
    rejecting = decision == "reject"  # one form holds both: a reason goes with reject, a plate without
    try:
        entry = decide(
            database(request), public_id, reviewer=user.name, decision=decision,
            reason=(reason or None) if rejecting else None, note=note, plate_text=None if rejecting else plate,
            expected_last_review_id=expected_id,
            plate_rule=request.app.state.unreadable_plate, plate_unreadable=bool(plate_unreadable),
        )  # fmt: skip
    except AlreadyDecidedError as exc:
        flash(request, "error", _already_decided(exc.latest))
        return redirect(here)
    except UnknownViolationError as exc:
        raise HTTPException(404, str(exc)) from None
    except ReviewError as exc:
        flash(request, "error", f"Not saved: {exc}.")
        return redirect(here)
    message = _done_message(entry.decision, entry.reason, public_id, entry.plate_text)
    flash(request, "ok", message, link=(here, "open it again"))
    return _to_next(request, filters, public_id)


def _refuse_unintact(request: Request, public_id: str) -> str | None:
    """Why this violation's evidence may not be confirmed (altered, missing, removed), or None."""
    detail = _detail_or_404(request, public_id)
    broken = _integrity(request, detail)
    if not broken and detail.evidence_removed_at is None:
        return None
    what = ", ".join(f"{kind} {problem}" for kind, problem in broken.items()) or "files removed"
    return f"Not confirmed: the evidence is not intact ({what}). Reject it as 'Evidence unreadable'."


def _already_decided(latest: ReviewRecord) -> str:
    what = latest.decision.value
    if latest.reason:
        what += f": {REJECT_LABELS.get(latest.reason, latest.reason)}"
    return (
        f"Already decided by {latest.reviewer} ({what}) while you were looking. "
        "The page has been reloaded with their decision; revise it only if it is wrong."
    )


@router.get("/violations/{public_id}/next")
def skip(request: Request, public_id: str, user: CurrentUser) -> Response:
    """Leave this one for later and open the next pending violation."""
    _known_form(public_id)
    return _to_next(request, Filters.parse(request.query_params), public_id)


def _to_next(request: Request, filters: Filters, public_id: str) -> Response:
    pending = filters.query(status="pending")
    nxt = next_in_queue(database(request), pending, public_id)
    if nxt is None:
        flash(request, "info", "No pending violations left with these filters.")
        return redirect(f"/queue{filters.qs()}")
    return redirect(f"/violations/{nxt}{filters.qs()}")


def _integrity(request: Request, detail: ViolationDetail) -> dict[str, str]:
    """Evidence kind -> what is wrong with its file (empty when all match their SHA-256)."""
    if detail.evidence_removed_at is not None:
        return {}
    return evidence_problems(database(request).data_dir, detail.evidence)


def _known_form(public_id: str) -> None:
    """404 for a public id no violation can have (it never reaches a query)."""
    if not is_public_id(public_id):
        raise HTTPException(404, f"There is no violation {public_id[:64]!r}.")


def _detail_or_404(request: Request, public_id: str) -> ViolationDetail:
    detail = violation_detail(database(request), public_id) if is_public_id(public_id) else None
    if detail is None:
        raise HTTPException(404, f"There is no violation {public_id[:64]!r}.")  # repr: no control characters
    return detail


def _filters_from(back: str) -> Filters:
    from urllib.parse import parse_qs

    params = {k: v[0] for k, v in parse_qs(back.lstrip("?")).items()}
    return Filters.parse(params)


def _done_message(decision: ReviewDecision, reason: str | None, public_id: str, plate: str | None) -> str:
    short = public_id[:8]
    if decision is ReviewDecision.CONFIRM:
        return f"Confirmed {short}" + (f" (plate {plate})." if plate else ".")
    if decision is ReviewDecision.REJECT:
        return f"Rejected {short}: {REJECT_LABELS.get(reason or '', reason)}."
    if decision is ReviewDecision.PARK:
        return f"Parked {short}: plate unreadable; it stays pending, flagged."
    return f"Plate of {short} corrected to {plate}."
