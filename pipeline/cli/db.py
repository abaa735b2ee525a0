"""CLI commands for the database schema: `db upgrade`, `db current`, `db downgrade`, `db leases`.

`register(app)` adds the `db` group to the main Typer app (`pipeline/cli/main.py` calls it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.common import DataDirOpt, DbOpt, _fail, console
from pipeline.errors import TrafficcamError


def register(app: typer.Typer) -> None:
    """Add the `db` group to `app` (once: a second call changes nothing)."""
    if any(g.name == "db" for g in app.registered_groups):
        return
    db_app = typer.Typer(help="Create, inspect and upgrade the database schema (Alembic migrations).",
                         no_args_is_help=True)  # fmt: skip
    db_app.command("upgrade")(upgrade)
    db_app.command("current")(current)
    db_app.command("downgrade")(downgrade)
    db_app.command("leases")(leases)
    app.add_typer(db_app, name="db")


def upgrade(
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
    revision: Annotated[str, typer.Option("--to", help="Target revision (default: the newest).")] = "head",
) -> None:
    """Apply the schema migrations this trafficcam has (an empty database gets every table)."""
    from pipeline.store import schema
    from pipeline.store.db import open_database

    try:
        with open_database(db, data_dir, check_schema=False) as database:
            before, after = schema.upgrade(database.engine, database.url, revision)
    except TrafficcamError as exc:
        raise _fail(exc) from None
    if before.current == after.current:
        console.print(f"{database.url}: already at {schema.describe(after.current)}", highlight=False)
        return
    start = "a database made before migrations" if before.legacy else schema.describe(before.current)
    console.print(f"{database.url}: upgraded from {start} to {schema.describe(after.current)}", highlight=False)


def current(data_dir: DataDirOpt = Path("trafficcam-data"), db: DbOpt = None) -> None:
    """Print the database's schema revision and whether this trafficcam can use it (exit 1 if not)."""
    from pipeline.store import schema
    from pipeline.store.db import open_database

    try:
        with open_database(db, data_dir, check_schema=False) as database, database.engine.connect() as conn:
            state = schema.schema_state(conn)
    except TrafficcamError as exc:
        raise _fail(exc) from None
    console.print(f"database: {database.url}", highlight=False)
    console.print(f"revision: {schema.describe(state.current)}", highlight=False)
    console.print(f"this trafficcam: {schema.describe(state.head)}", highlight=False)
    if state.up_to_date:
        console.print("[green]up to date[/]")
    elif state.empty:
        console.print("empty: the first command that opens it (or `trafficcam db upgrade`) creates the tables")
    else:
        raise _fail(TrafficcamError(schema.mismatch_message(state, database.url)))


def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. 0001; 'base' drops every table.")],
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask; needed for 'base', which deletes all data.")] = False,
) -> None:
    """Migrate the schema back to an older revision (to run an older trafficcam)."""
    from pipeline.store import schema
    from pipeline.store.db import open_database

    if revision == "base" and not yes:
        raise _fail(TrafficcamError("downgrading to 'base' drops every table and all records: add --yes to confirm"))
    try:
        with open_database(db, data_dir, check_schema=False) as database:
            before, after = schema.downgrade(database.engine, database.url, revision)
    except TrafficcamError as exc:
        raise _fail(exc) from None
    console.print(f"{database.url}: downgraded from {schema.describe(before.current)} to "
                  f"{schema.describe(after.current)}", highlight=False)  # fmt: skip


def leases(data_dir: DataDirOpt = Path("trafficcam-data"), db: DbOpt = None) -> None:
    """Which `watch` instance holds each camera, and the live instances."""
    from pipeline.store.db import open_database
    from pipeline.store.leases import list_instances, list_leases

    try:
        with open_database(db, data_dir) as database:
            held = list_leases(database)
            instances = list_instances(database)
    except TrafficcamError as exc:
        raise _fail(exc) from None
    if not held:
        console.print("no camera is held by any instance")
    for lease, valid in held:
        state = f"until {lease.expires_at.astimezone():%H:%M:%S}" if valid else "lapsed"
        console.print(f"{lease.camera_id}: {lease.instance} (generation {lease.generation}, {state})", highlight=False)
    for name, heartbeat_at in instances:
        console.print(f"instance {name}: last heartbeat {heartbeat_at.astimezone():%Y-%m-%d %H:%M:%S}",
                      highlight=False)  # fmt: skip
