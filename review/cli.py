"""Review commands for the `trafficcam` CLI: serve, users, review, audit, export.

`register(app)` adds them to the main Typer app. Each command parses, calls one function and
turns known errors into one line and a non-zero exit (`pipeline.cli.common._fail`).
"""

from __future__ import annotations

import sys
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipeline.cli.common import DataDirOpt, DbOpt, _fail, console, err_console
from pipeline.errors import TrafficcamError
from pipeline.store.db import Database, open_database
from pipeline.store.records import UserRole, ViolationStatus
from pipeline.store.review_audit import audit
from pipeline.store.review_queries import QueueFilter
from pipeline.store.review_repo import ReviewError, UnreadablePlate, add_user, list_users, set_user_disabled

users_app = typer.Typer(help="Who may log in to the review app.", no_args_is_help=True)
audit_app = typer.Typer(help="Check that nothing was altered.", no_args_is_help=True)

RoleOpt = Annotated[UserRole, typer.Option("--role", help="reviewer: see and decide; admin: also users and export.")]
StatusChoice = Annotated[
    str, typer.Option("--status", help="pending, confirmed, rejected or all.", case_sensitive=False)
]


def register(app: typer.Typer) -> None:
    """Add `serve`, `users`, `review`, `audit` and `export` to the `trafficcam` app."""
    from review.cli_review import review_app

    app.command("serve")(serve)
    app.command("export")(export)
    app.add_typer(users_app, name="users")
    app.add_typer(review_app, name="review")
    app.add_typer(audit_app, name="audit")


def open_db(data_dir: Path, db_url: str | None) -> Database:
    """The database, or exit with one clear line."""
    try:
        return open_database(db_url, data_dir)
    except TrafficcamError as exc:
        raise _fail(exc) from None


def status_filter(status: str) -> QueueFilter:
    """A `QueueFilter` for a ``--status`` value (``all`` = any)."""
    status = status.lower()
    if status not in ("pending", "confirmed", "rejected", "all"):
        raise _fail(ReviewError(f"--status must be pending, confirmed, rejected or all, got {status!r}"))
    return QueueFilter(status=None if status == "all" else ViolationStatus(status))


# -- serve ------------------------------------------------------------------------------


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
    secret_key: Annotated[
        str | None,
        typer.Option(
            "--secret-key",
            envvar="TRAFFICCAM_SECRET_KEY",
            show_default=False,
            help="Signs session cookies (default: kept in <data dir>/review-secret.key). Give every server the same.",
        ),
    ] = None,
    secure_cookies: Annotated[
        bool, typer.Option("--secure-cookies", help="Send the session cookie over HTTPS only (behind TLS).")
    ] = False,
    unreadable_plate: Annotated[
        UnreadablePlate,
        typer.Option(
            "--unreadable-plate", envvar="TRAFFICCAM_UNREADABLE_PLATE",
            help="Confirming with 'plate unreadable': park (stays pending, flagged) or reject.",
        ),
    ] = UnreadablePlate.PARK,
) -> None:
    """Start the review web app on the pipeline's database and evidence."""
    import uvicorn

    from review.app import create_app, load_secret

    database = open_db(data_dir, db)
    try:
        app = create_app(
            database, secret_key=load_secret(data_dir, secret_key), secure_cookies=secure_cookies,
            unreadable_plate=unreadable_plate,
        )  # fmt: skip
    except (OSError, ValueError) as exc:
        raise _fail(ReviewError(f"cannot start the review app: {exc}")) from None
    if not list_users(database):
        err_console.print("[yellow]no users yet:[/] add one with `trafficcam users add NAME --role admin`")
    console.print(f"review app on http://{host}:{port}/  database: {database.url}  (Ctrl-C stops it)", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)


# -- users ------------------------------------------------------------------------------


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: RoleOpt = UserRole.REVIEWER,
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """Add a user. The password is asked on the terminal, or read from the first line of stdin."""
    from review.auth import hash_password

    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = add_user(open_db(data_dir, db), name, hash_password(password), role)
    except TrafficcamError as exc:
        raise _fail(exc) from None
    console.print(f"added {user.role.value} {user.name}", highlight=False)


@users_app.command("list")
def users_list(data_dir: DataDirOpt = Path("trafficcam-data"), db: DbOpt = None) -> None:
    """Show every user, their role and whether they are disabled."""
    table = Table()
    for col in ("name", "role", "state", "added"):
        table.add_column(col)
    for u in list_users(open_db(data_dir, db)):
        table.add_row(u.name, u.role.value, "disabled" if u.disabled else "active", f"{u.created_at:%Y-%m-%d}")
    console.print(table)


@users_app.command("disable")
def users_disable(
    name: Annotated[str, typer.Argument(help="Login name.")],
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """Disable a user: they cannot log in, and their open sessions end."""
    _set_disabled(name, True, data_dir, db)


@users_app.command("enable")
def users_enable(
    name: Annotated[str, typer.Argument(help="Login name.")],
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """Let a disabled user log in again."""
    _set_disabled(name, False, data_dir, db)


def _set_disabled(name: str, disabled: bool, data_dir: Path, db: str | None) -> None:
    try:
        set_user_disabled(open_db(data_dir, db), name, disabled)
    except TrafficcamError as exc:
        raise _fail(exc) from None
    console.print(f"{name} {'disabled' if disabled else 'enabled'}", highlight=False)


# -- audit ------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
    files: Annotated[bool, typer.Option("--files/--no-files", help="Also hash every evidence file.")] = True,
) -> None:
    """Check the review log's hash chain, statuses against the log, and every evidence file's
    SHA-256. Prints each thing altered; exits 1 when anything is."""
    try:
        report = audit(open_db(data_dir, db), check_files=files)
    except TrafficcamError as exc:
        raise _fail(exc) from None
    files_note = f"{report.evidence_files} evidence file(s)" if files else "evidence files not checked"
    if report.evidence_skipped:
        files_note += f" ({report.evidence_skipped} removed by retention, skipped)"
    summary = f"{report.reviews} review log entries, {report.violations} violation(s), {files_note}"
    if report.ok:
        console.print(f"[green]ok[/] {summary}: nothing altered", highlight=False)
        return
    err_console.print(f"[bold red]ALTERED:[/] {len(report.problems)} problem(s) in {summary}", highlight=False)
    for problem in report.problems:
        err_console.print(f"  {problem}", highlight=False, markup=False)
    raise typer.Exit(1)


# -- export -----------------------------------------------------------------------------


def export(
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write ('-' for stdout, csv/json).")],
    status: StatusChoice = "confirmed",
    fmt: Annotated[str, typer.Option("--format", help="csv, json or zip (the evidence files too).")] = "csv",
    since: Annotated[
        str | None, typer.Option("--since", help="Only violations at or after this local date/time (YYYY-MM-DD).")
    ] = None,
    camera: Annotated[str | None, typer.Option("--camera", help="Only this camera.")] = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule.")] = None,
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """Export violations (confirmed ones by default) with their latest review and evidence hashes."""
    from dataclasses import replace

    from review.export import FORMATS, write_rows, write_zip

    if fmt not in FORMATS:
        raise _fail(ReviewError(f"--format must be one of {list(FORMATS)}, got {fmt!r}"))
    if fmt == "zip" and str(output) == "-":
        raise _fail(ReviewError("a zip cannot go to stdout; give a file with -o"))
    flt = replace(status_filter(status), camera=camera, rule=rule, since=parse_since(since))
    database = open_db(data_dir, db)
    try:
        if fmt == "zip":
            with output.open("wb") as f:
                problems = write_zip(database, flt, f)
            for p in problems:
                err_console.print(f"[yellow]left out:[/] {p}", highlight=False)
            console.print(f"wrote {output}", highlight=False)
            return
        if str(output) == "-":
            write_rows(database, flt, fmt, sys.stdout)
            return
        with output.open("w", encoding="utf-8", newline="") as f:
            count = write_rows(database, flt, fmt, f)
    except OSError as exc:
        raise _fail(ReviewError(f"cannot write {output}: {exc.strerror or exc}")) from None
    except TrafficcamError as exc:
        raise _fail(exc) from None
    console.print(f"wrote {count} violation(s) to {output}", highlight=False)


def parse_since(raw: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (local midnight) or an ISO date-time (local unless it names a zone)."""
    if raw is None:
        return None
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time()).astimezone()
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise _fail(ReviewError(f"--since must be a date like 2024-05-01 or 2024-05-01T07:30, got {raw!r}")) from None
    return value if value.tzinfo is not None else value.astimezone()

