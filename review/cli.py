"""Review commands for the `trafficcam` CLI: serve, users, review, audit, export.

`register(app)` adds them to the main Typer app. Each command parses, calls one function and
turns known errors into one line and a non-zero exit (`pipeline.cli.common._fail`).
"""

from __future__ import annotations

import sys
from datetime import date, datetime, time, timedelta
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
from pipeline.store.review_repo import (
    ReviewError,
    UnreadablePlate,
    add_user,
    change_password,
    get_user,
    list_users,
    set_user_disabled,
)

users_app = typer.Typer(help="Who may log in to the review app.", no_args_is_help=True)
audit_app = typer.Typer(help="Check that nothing was altered.", no_args_is_help=True)

RoleOpt = Annotated[
    UserRole,
    typer.Option("--role", help="reviewer: see and decide; operator: also draw scenes; admin: also users and export."),
]
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
    idle_timeout: Annotated[
        int, typer.Option("--idle-timeout", min=1, max=7 * 24 * 60, help="Log out after this many idle minutes.")
    ] = 30,
    session_hours: Annotated[
        int, typer.Option("--session-hours", min=1, max=24 * 30, help="Log everyone out this many hours after login.")
    ] = 12,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            show_default=False,
            help="A reverse proxy (address or CIDR; repeat for more) whose X-Forwarded-For is believed. "
            "Without it the socket's address counts, e.g. for the login rate limit.",
        ),
    ] = None,
    events: Annotated[
        Path | None, typer.Option("--events", envvar="TRAFFICCAM_EVENTS", help="events.yaml: relay events too.")
    ] = None,
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

    from pipeline.events.background import relay_in_background
    from pipeline.store.review_sessions import SessionPolicy
    from review.app import create_app, load_secret
    from review.proxies import TrustedProxies, parse_networks

    try:
        proxies = TrustedProxies(parse_networks(trusted_proxy or []))
    except ValueError as exc:
        raise _fail(ReviewError(str(exc))) from None
    policy = SessionPolicy(idle=timedelta(minutes=idle_timeout), lifetime=timedelta(hours=session_hours))
    database = open_db(data_dir, db)
    try:
        app = create_app(
            database, secret_key=load_secret(data_dir, secret_key), secure_cookies=secure_cookies,
            sessions=policy, trusted_proxies=proxies, unreadable_plate=unreadable_plate,
        )  # fmt: skip
    except (OSError, ValueError) as exc:
        raise _fail(ReviewError(f"cannot start the review app: {exc}")) from None
    if not list_users(database):
        err_console.print("[yellow]no users yet:[/] add one with `trafficcam users add NAME --role admin`")
    console.print(f"review app on http://{host}:{port}/  database: {database.url}  (Ctrl-C stops it)", highlight=False)
    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1, and a
    # rotating header would get around the login limit; review.proxies decides instead.
    try:
        with relay_in_background(events, db, data_dir):
            uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False, proxy_headers=False)
    except TrafficcamError as exc:
        raise _fail(exc) from None


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

    password = read_password()
    try:
        user = add_user(open_db(data_dir, db), name, hash_password(password), role)
    except TrafficcamError as exc:
        raise _fail(exc) from None
    console.print(f"added {user.role.value} {user.name}", highlight=False)


def read_password() -> str:
    """A new password: asked twice on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")


@users_app.command("passwd")
def users_passwd(
    name: Annotated[str, typer.Argument(help="Login name.")],
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """Set a user's password (asked on the terminal, or the first line of stdin); ends their sessions."""
    from review.auth import hash_password

    database = open_db(data_dir, db)
    try:
        get_user_or_fail(database, name)
        ended = change_password(database, name, hash_password(read_password()))
    except TrafficcamError as exc:
        raise _fail(exc) from None
    console.print(f"password of {name} changed; {ended} open session(s) ended", highlight=False)


@users_app.command("logout")
def users_logout(
    name: Annotated[str, typer.Argument(help="Login name.")],
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """End every open session of a user (a lost laptop, a shared screen); they must log in again."""
    from pipeline.store.review_sessions import end_user_sessions

    try:
        ended = end_user_sessions(open_db(data_dir, db), name)
    except TrafficcamError as exc:
        raise _fail(exc) from None
    console.print(f"{ended} open session(s) of {name} ended", highlight=False)


def get_user_or_fail(database: Database, name: str) -> None:
    """Nothing when user `name` exists (checked before asking for a password); else `ReviewError`."""
    if get_user(database, name) is None:
        raise ReviewError(f"no user called {name!r}; `trafficcam users list` shows who exists")


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
    trusted_keys: Annotated[
        Path | None,
        typer.Option("--trusted-keys", help="Folder of public keys (*.pub) kept off this machine, trusted too."),
    ] = None,
) -> None:
    """Check the database's integrity, the review log's hash chain, statuses against the log, every
    violation's seal (fields, evidence hashes, chain, Ed25519 signature), the checkpoint file, and
    every evidence file's SHA-256. Prints each thing altered; exits 1 when anything is."""
    try:
        report = audit(open_db(data_dir, db), check_files=files, trusted_keys=trusted_keys)
    except TrafficcamError as exc:
        raise _fail(exc) from None
    files_note = f"{report.evidence_files} evidence file(s)" if files else "evidence files not checked"
    if report.evidence_skipped:
        files_note += f" ({report.evidence_skipped} removed by retention, skipped)"
    seals_note = f"{report.seals} seal(s)"
    if report.unsealed:
        seals_note += f" ({report.unsealed} older violation(s) unsealed)"
    summary = (
        f"database integrity {report.integrity}, {seals_note}, {report.checkpoints} checkpoint(s); "
        f"{report.reviews} review log entries, {report.violations} violation(s), {files_note}"
    )
    if report.ok:
        console.print(f"[green]ok[/] {summary}: nothing altered", highlight=False)
        return
    err_console.print(f"[bold red]ALTERED:[/] {len(report.problems)} problem(s) in {summary}", highlight=False)
    for problem in report.problems:
        err_console.print(f"  {problem}", highlight=False, markup=False)
    raise typer.Exit(1)


@audit_app.command("rotate-key")
def audit_rotate_key(data_dir: DataDirOpt = Path("trafficcam-data")) -> None:
    """Make a new signing key; the old public key stays in <data dir>/audit/public-keys to verify
    older seals. Stop the services that sign (process, watch, serve) first."""
    from pipeline.seal.keys import key_path, rotate

    try:
        old, new = rotate(data_dir)
    except OSError as exc:
        raise _fail(ReviewError(f"cannot rotate the signing key {key_path(data_dir)}: {exc}")) from None
    kept = data_dir / "audit" / "public-keys"
    console.print(f"signing key {key_path(data_dir)}: {old or '(none)'} -> {new}; keep a copy of {kept} "
                  "elsewhere and destroy the retired private key", highlight=False)  # fmt: skip


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
    offence_codes: Annotated[
        Path | None,
        typer.Option("--offence-codes", help="YAML: rule -> the authority's offence code (default: the scenes')."),
    ] = None,
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """Export violations (confirmed ones by default), one row per offence, with what a notice needs:
    plate, local time and zone, location, offence code, evidence and source hashes, reviewer."""
    from dataclasses import replace

    from review.export import FORMATS, write_rows, write_zip

    if fmt not in FORMATS:
        raise _fail(ReviewError(f"--format must be one of {list(FORMATS)}, got {fmt!r}"))
    if fmt == "zip" and str(output) == "-":
        raise _fail(ReviewError("a zip cannot go to stdout; give a file with -o"))
    flt = replace(status_filter(status), camera=camera, rule=rule, since=parse_since(since))
    codes = read_offence_codes(offence_codes) if offence_codes else None
    database = open_db(data_dir, db)
    try:
        if fmt == "zip":
            with output.open("wb") as f:
                problems = write_zip(database, flt, f, offence_codes=codes)
            for p in problems:
                err_console.print(f"[yellow]left out:[/] {p}", highlight=False)
            console.print(f"wrote {output}", highlight=False)
            return
        if str(output) == "-":
            write_rows(database, flt, fmt, sys.stdout, offence_codes=codes)
            return
        with output.open("w", encoding="utf-8", newline="") as f:
            count = write_rows(database, flt, fmt, f, offence_codes=codes)
    except OSError as exc:
        raise _fail(ReviewError(f"cannot write {output}: {exc.strerror or exc}")) from None
    except TrafficcamError as exc:
        raise _fail(exc) from None
    console.print(f"wrote {count} violation(s) to {output}", highlight=False)


def read_offence_codes(path: Path) -> dict[str, str]:
    """A YAML mapping of rule name -> offence code, or exit 2 saying what is wrong with it."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise _fail(ReviewError(f"--offence-codes {path}: cannot read it: {exc}")) from None
    if isinstance(data, dict) and set(data) == {"offence_codes"}:
        data = data["offence_codes"]
    if not isinstance(data, dict) or not all(isinstance(v, str | int) for v in data.values()):
        raise _fail(ReviewError(f"--offence-codes {path}: expected a mapping such as 'red_light: \"5.5.a\"'"))
    return {str(k): str(v) for k, v in data.items()}


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

