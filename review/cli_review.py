"""`trafficcam review list|show|confirm|reject`: the review queue for scripts and terminals."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipeline.cli.common import DataDirOpt, DbOpt, _fail, console
from pipeline.errors import TrafficcamError
from pipeline.store.db import Database
from pipeline.store.records import ReviewDecision
from pipeline.store.review_audit import check_evidence_file, evidence_problems
from pipeline.store.review_queries import ViolationDetail, queue_page, violation_detail
from pipeline.store.review_repo import RejectReason, ReviewError, UnreadablePlate, decide
from pipeline.timing.site import camera_time as camera_time_of
from review.cli import open_db, status_filter

review_app = typer.Typer(
    help="List, show, confirm and reject violations (the web app's queue, scripted).", no_args_is_help=True
)

IdArg = Annotated[str, typer.Argument(help="Violation id (the public id in its evidence path).")]
AsOpt = Annotated[
    str, typer.Option("--as", envvar="TRAFFICCAM_REVIEWER", help="The reviewer deciding (an enabled user).")
]
ReviseOpt = Annotated[
    bool, typer.Option("--revise", help="Replace an earlier decision (a new log entry; the old one stays).")
]
NoteOpt = Annotated[str | None, typer.Option("--note", help="Free text kept with the decision.")]
UnreadableRuleOpt = Annotated[
    UnreadablePlate,
    typer.Option(
        "--unreadable-plate", envvar="TRAFFICCAM_UNREADABLE_PLATE",
        help="What --plate-unreadable does: park (stays pending, flagged) or reject.",
    ),
]  # fmt: skip


@review_app.command("list")
def review_list(
    status: Annotated[str, typer.Option("--status", help="pending, confirmed, rejected or all.")] = "pending",
    camera: Annotated[str | None, typer.Option("--camera", help="Only this camera.")] = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=200, help="At most this many, newest first.")] = 50,
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """Violations in the queue, newest first."""
    flt = replace(status_filter(status), camera=camera, rule=rule)
    page = queue_page(open_db(data_dir, db), flt, per_page=limit)
    table = Table(title=f"{page.total} {status} violation(s)" + (f", newest {limit}" if page.total > limit else ""))
    table.add_column("id", no_wrap=True, min_width=32)
    for col in ("time (UTC)", "camera", "rule", "where", "class", "signal", "status", "plate"):
        table.add_column(col, overflow="fold")
    for v in page.items:
        signal = f"{v.signal_colour} {v.seconds_into_colour:.1f}s" if v.signal_colour else ""
        table.add_row(
            v.public_id, f"{v.occurred_at:%Y-%m-%d %H:%M:%S}", v.camera_id, v.rule, v.where, v.label, signal,
            v.status.value, v.plate_text or "",
        )  # fmt: skip
    console.print(table)


_PARKED = " (parked: plate unreadable)"


@review_app.command("show")
def review_show(public_id: IdArg, data_dir: DataDirOpt = Path("trafficcam-data"), db: DbOpt = None) -> None:
    """One violation: its data, its evidence files (checked against their SHA-256) and its review log."""
    database = open_db(data_dir, db)
    d = violation_detail(database, public_id)
    if d is None:
        raise _fail(ReviewError(f"no violation {public_id!r}; `trafficcam review list` shows them"))
    v = d.item
    at_least = "at least " if v.colour_onset_seen is False else ""  # the colour began before the video did
    signal = f"{d.signal_id}: {v.signal_colour} for {at_least}{v.seconds_into_colour:.1f} s" if v.signal_colour else ""
    signal = signal or "none"
    known = v.time_source not in ("unknown", "run_clock")
    camera_time = f"{camera_time_of(v.occurred_at, d.timezone)}, source {v.time_source}" if known else (
        f"time unknown (source {v.time_source}): cannot be confirmed")
    rows = [
        ("violation", v.public_id), ("status", v.status.value + _PARKED * d.parked), ("camera", v.camera_id),
        ("time (UTC)", v.occurred_at.isoformat()), ("camera time", camera_time), ("rule", f"{v.rule} at {v.where}"),
        ("vehicle", f"{v.label}, track #{d.track_id}, confidence {v.confidence:.2f}"),
        ("video", f"{d.time_s:.2f} s, frame {d.frame_index}"), ("signal", signal), ("plate", v.plate_text or ""),
        ("plate read", _suggested(d)),
        ("run", f"#{d.run_id} {d.source}"), ("model", f"{d.model_name} {d.model_sha256}"),
        ("scene sha256", d.scene_sha256), ("software", d.software_version),
    ]  # fmt: skip
    for key, value in rows:
        console.print(f"[bold]{key:>13}[/] {value}", highlight=False)
    root = database.data_dir.resolve()
    for kind, e in d.evidence.items():
        problem = check_evidence_file(root, e.path, e.sha256, e.bytes) if d.evidence_removed_at is None else None
        state = "[red]" + problem + "[/]" if problem else "[green]ok[/]"
        console.print(f"[bold]{kind:>13}[/] #{e.id} {e.path} {state}", highlight=False)
    for r in d.reviews:
        why = f" {r.reason}" if r.reason else ""
        extra = (f" note={r.note!r}" if r.note else "") + (f" plate={r.plate_text}" if r.plate_text else "")
        console.print(
            f"{'review':>13} #{r.id} {r.decided_at:%Y-%m-%d %H:%M:%S} {r.reviewer}: {r.decision.value}{why}{extra}",
            highlight=False,
        )


@review_app.command("confirm")
def review_confirm(
    public_id: IdArg,
    reviewer: AsOpt,
    plate: Annotated[
        str | None, typer.Option("--plate", help="The plate number (Vietnamese format; `review show` suggests one).")
    ] = None,
    plate_unreadable: Annotated[
        bool, typer.Option("--plate-unreadable", help="No plate can be read: park or reject (--unreadable-plate).")
    ] = False,
    unreadable_rule: UnreadableRuleOpt = UnreadablePlate.PARK,
    note: NoteOpt = None,
    revise: ReviseOpt = False,
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """Confirm a violation with its plate (exit 2 without a valid one; 4 when someone already decided it,
    unless --revise)."""
    _decide(public_id, reviewer, ReviewDecision.CONFIRM, None, note, plate, revise, open_db(data_dir, db),
            (unreadable_rule, plate_unreadable))  # fmt: skip


@review_app.command("reject")
def review_reject(
    public_id: IdArg,
    reviewer: AsOpt,
    reason: Annotated[RejectReason, typer.Option("--reason", help="Why; 'other' needs --note.")],
    note: NoteOpt = None,
    revise: ReviseOpt = False,
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """Reject a violation with a reason (exit 4 when someone already decided it, unless --revise)."""
    _decide(public_id, reviewer, ReviewDecision.REJECT, reason, note, None, revise, open_db(data_dir, db))


def _decide(
    public_id: str,
    reviewer: str,
    decision: ReviewDecision,
    reason: RejectReason | None,
    note: str | None,
    plate: str | None,
    revise: bool,
    database: Database,
    plate_rule: tuple[UnreadablePlate, bool] | None = None,
) -> None:
    d = violation_detail(database, public_id)
    expected = d.last_review.id if revise and d is not None and d.last_review is not None else None
    if decision is ReviewDecision.CONFIRM and d is not None:
        broken = evidence_problems(database.data_dir, d.evidence) if d.evidence_removed_at is None else {}
        if broken or d.evidence_removed_at is not None:
            what = "; ".join(f"{kind}: {problem}" for kind, problem in broken.items()) or "its files were removed"
            raise _fail(ReviewError(f"not confirmed: the evidence of {public_id} is not intact ({what})"))
    try:
        entry = decide(
            database, public_id, reviewer=reviewer, decision=decision, reason=reason, note=note, plate_text=plate,
            expected_last_review_id=expected, plate_rule=plate_rule[0] if plate_rule else None,
            plate_unreadable=plate_rule[1] if plate_rule else False,
        )  # fmt: skip
    except TrafficcamError as exc:
        raise _fail(exc) from None
    why = f" ({entry.reason})" if entry.reason else ""
    done = {"confirm": "confirmed", "reject": "rejected", "park": "parked", "correct_plate": "plate corrected"}
    plate_note = f", plate {entry.plate_text}" if entry.plate_text else ""
    console.print(
        f"{done[entry.decision.value]} {public_id}{why}{plate_note}: review log entry #{entry.id}", highlight=False
    )


def _suggested(d: ViolationDetail) -> str:
    """The plate reader's suggestion, for the reviewer to accept (--plate) or correct."""
    p = d.plate_reading
    if p is None:
        return "not read"
    if p.text is None:
        return f"nothing legible ({p.frames_tried} frames tried)"
    form = "valid format" if p.format_valid else "NOT a valid format"
    return f"{p.text} ({form}, confidence {p.confidence:.2f}, {p.frames_agreeing}/{p.frames_tried} frames agree)"

