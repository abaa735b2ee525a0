"""What every `trafficcam` command shares: consoles, the error exit, the data options.

Kept apart from `pipeline/cli/main.py` so the command modules (review, daemon, training, sample)
can import it without importing the app that registers them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
state = {"debug": False}

DataDirOpt = Annotated[
    Path,
    typer.Option("--data-dir", envvar="TRAFFICCAM_DATA_DIR", help="Where the database and evidence live."),
]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", envvar="TRAFFICCAM_DATABASE_URL", help="Database URL (default: SQLite in the data dir)."),
]


def _fail(exc: BaseException) -> typer.Exit:
    if state["debug"]:
        raise exc
    code = getattr(exc, "exit_code", 1)
    first, *rest = str(exc).splitlines() or [type(exc).__name__]
    err_console.print(f"[bold red]error:[/] {first}", highlight=False, markup=True)
    for line in rest:
        err_console.print(line, highlight=False, markup=False)
    return typer.Exit(code)
