"""`trafficcam submit | worker | jobs`: an archive processed by any number of workers on any machines.

`register(app)` adds the three commands to the main Typer app.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipeline.cli.common import DataDirOpt, DbOpt, _fail, console, err_console
from pipeline.errors import TrafficcamError

STALE_AFTER = timedelta(seconds=60)
"""A running job without a heartbeat for this long lost its worker (the broker hands it on)."""

BrokerOpt = Annotated[
    str | None,
    typer.Option("--broker", envvar="TRAFFICCAM_BROKER_URL", show_default="amqp://guest:guest@127.0.0.1:5672/",
                 help="RabbitMQ URL of the task queue."),
]  # fmt: skip
QueueOpt = Annotated[str, typer.Option("--queue", envvar="TRAFFICCAM_QUEUE", help="Queue name.")]


def register(app: typer.Typer) -> None:
    """Add `submit`, `worker` and `jobs` to `app`."""
    if any(c.name == "submit" for c in app.registered_commands):
        return
    app.command("submit")(submit_command)
    app.command("worker")(worker_command)
    app.command("jobs")(jobs_command)


def submit_command(
    files: Annotated[list[Path], typer.Argument(help="Recorded video files (one job each).")],
    scene: Annotated[Path, typer.Option("--scene", help="Scene YAML of the camera that recorded them.")],
    camera: Annotated[str | None, typer.Option("--camera", help="Camera id (must match the scene's).")] = None,
    weights: Annotated[str | None, typer.Option("--weights", help="Manifest name or path.")] = None,
    imgsz: Annotated[int | None, typer.Option("--imgsz", help="Detector input size.")] = None,
    conf: Annotated[float, typer.Option("--conf", min=0.01, max=0.99, help="Detection confidence.")] = 0.25,
    analysis_fps: Annotated[
        float | None, typer.Option("--analysis-fps", min=0.1, help="Detect at most this often.")
    ] = None,
    broker: BrokerOpt = None,
    queue: QueueOpt = "trafficcam-files",
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """Queue files for `trafficcam worker`s (paths must be the same on the workers' machines)."""
    from pipeline.jobs.submit import submit

    # the keyword arguments of ProcessSettings (not built here: that would import the detector)
    settings = {"weights": weights, "imgsz": imgsz, "conf": conf, "analysis_fps": analysis_fps}
    try:
        batch, jobs = submit(files, scene, settings, camera=camera, db_url=db, data_dir=data_dir, broker=broker,
                             queue=queue)  # fmt: skip
    except TrafficcamError as exc:
        raise _fail(exc) from None
    console.print(f"queued {len(jobs)} file(s) as batch {batch} on queue {queue}; "
                  f"follow with `trafficcam jobs --batch {batch}`", highlight=False)  # fmt: skip


def worker_command(
    broker: BrokerOpt = None,
    queue: QueueOpt = "trafficcam-files",
    name: Annotated[
        str | None, typer.Option("--name", help="Worker name in `trafficcam jobs` (default host:pid).")
    ] = None,
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """Process queued files one at a time until SIGTERM / Ctrl-C (the file in hand is finished first)."""
    from pipeline.jobs.runner import run_worker
    from pipeline.jobs.work import WorkerConfig

    logging.getLogger("pipeline.jobs").setLevel(logging.INFO)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set():  # a second signal: leave now; the broker gives the file to another worker
            raise SystemExit(130)
        err_console.print("stopping after the file in hand (signal again to leave at once)")
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        run_worker(WorkerConfig(db, data_dir, name or ""), broker=broker, queue=queue, stop=stop)
    except TrafficcamError as exc:
        raise _fail(exc) from None


def jobs_command(
    batch: Annotated[str | None, typer.Option("--batch", help="Only this batch (as `submit` printed it).")] = None,
    status: Annotated[str | None, typer.Option("--status", help="queued, running, done or failed.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many.")] = 50,
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """Show queued / running / done / failed jobs with progress."""
    from pipeline.store.db import open_database
    from pipeline.store.jobs import job_counts, list_jobs
    from pipeline.store.records import JobStatus

    try:
        wanted = JobStatus(status) if status else None
    except ValueError:
        choices = [s.value for s in JobStatus]
        raise _fail(TrafficcamError(f"--status must be one of {choices}, got {status!r}")) from None
    try:
        database = open_database(db, data_dir)
        counts = job_counts(database, batch)
        jobs = list_jobs(database, batch=batch, status=wanted, limit=limit)
    except TrafficcamError as exc:
        raise _fail(exc) from None
    table = Table(title=" · ".join(f"{s.value} {n}" for s, n in counts.items()))
    for col in ("job", "camera", "file", "status", "progress", "tries", "worker", "violations", "note"):
        table.add_column(col, overflow="fold")
    now = datetime.now(UTC)
    for j in jobs:
        state = j.status.value
        if j.status is JobStatus.RUNNING and j.heartbeat_at and now - j.heartbeat_at > STALE_AFTER:
            state = "running (no heartbeat: worker lost?)"
        progress = f"{100 * j.progress:.0f}%" if j.progress is not None else "-"
        found = "-" if j.violations is None else str(j.violations)
        table.add_row(j.job_id[:8], j.camera_id, Path(j.video).name, state, progress, str(j.attempts),
                      j.worker or "-", found, (j.error or "")[:80])  # fmt: skip
    console.print(table)
