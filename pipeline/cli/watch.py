"""CLI commands of the daemon: `watch` and `cameras check | reload | coverage`.

`register(app)` adds them to the main Typer app (`pipeline/cli/main.py` calls it).
"""

from __future__ import annotations

import logging
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.common import DataDirOpt, DbOpt, _fail, console
from pipeline.errors import TrafficcamError

PID_FILE = "watch.pid"

CamerasArg = Annotated[Path, typer.Argument(help="cameras.yaml")]


def register(app: typer.Typer) -> None:
    """Add `watch` and the `cameras` group to `app` (once: a second call changes nothing)."""
    if any(c.name == "watch" for c in app.registered_commands):
        return
    cameras_app = typer.Typer(help="Check and reload the cameras a `watch` daemon reads.", no_args_is_help=True)
    app.command("watch")(watch)
    cameras_app.command("check")(cameras_check)
    cameras_app.command("reload")(cameras_reload)
    cameras_app.command("coverage")(cameras_coverage)
    app.add_typer(cameras_app, name="cameras")


def watch(
    cameras: Annotated[Path, typer.Option("--cameras", help="cameras.yaml: the cameras to watch.")],
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
    http: Annotated[
        str, typer.Option("--http", help="HOST:PORT for /health and /metrics; 'off' for none.")
    ] = "127.0.0.1:9100",
    weights: Annotated[str | None, typer.Option("--weights", help="Manifest name or path.")] = None,
    imgsz: Annotated[int | None, typer.Option("--imgsz", help="Detector input size.")] = None,
    conf: Annotated[float, typer.Option("--conf", min=0.01, max=0.99, help="Detection confidence.")] = 0.25,
    keep_days: Annotated[
        float | None,
        typer.Option("--keep-days", min=0.0001, help="Delete evidence files of rejected violations older than this."),
    ] = None,
    keep_confirmed_too: Annotated[
        bool, typer.Option("--delete-confirmed", help="Retention also deletes the files of confirmed violations.")
    ] = False,
    min_free_mb: Annotated[
        float, typer.Option("--min-free-mb", min=0, help="Pause evidence writing below this much free disk.")
    ] = 500.0,
    stop_timeout: Annotated[
        float, typer.Option("--stop-timeout", min=1, help="Seconds SIGTERM waits for evidence in flight.")
    ] = 30.0,
    backoff_max: Annotated[
        float, typer.Option("--reconnect-max", min=1, help="Longest wait between reconnection attempts (s).")
    ] = 60.0,
    pid_file: Annotated[
        Path | None, typer.Option("--pid-file", help="Where to write the pid (default: DATA_DIR/watch.pid).")
    ] = None,
    lease_ttl: Annotated[
        float,
        typer.Option(
            "--lease-ttl",
            min=3,
            help="Seconds a camera's lease outlives its holder's last renewal: "
            "other instances on the same --db take over a dead one's cameras within about this.",
        ),
    ] = 15.0,
    shared_detector: Annotated[
        bool,
        typer.Option(
            "--shared-detector",
            help="One pool of inference threads for all cameras, each camera with "
            'its own tracks, instead of a detector per camera (BENCHMARKS.md, "Cameras per machine").',
        ),
    ] = False,
    detector_workers: Annotated[
        int | None,
        typer.Option(
            "--detector-workers",
            min=1,
            max=64,
            help="Inference threads of the shared detector, each "
            "with its own model sessions (default: one per core, at most 4); implies --shared-detector.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Only warnings and errors.")] = False,
    events: Annotated[
        Path | None, typer.Option("--events", envvar="TRAFFICCAM_EVENTS", help="events.yaml: relay events too.")
    ] = None,
) -> None:
    """Watch live camera streams: detect, record violations with evidence, until SIGTERM.

    Several `watch` processes (on one or many hosts) may share one cameras.yaml and one
    PostgreSQL --db: each camera is processed by exactly one of them, and the cameras of one
    that dies are taken over by the others.
    """
    from pipeline.daemon.runner import Daemon
    from pipeline.daemon.settings import WatchSettings

    if not quiet:
        for name in ("pipeline.daemon", "pipeline.daemon.streams", "pipeline.daemon.health"):
            logging.getLogger(name).setLevel(logging.INFO)
    settings = WatchSettings(
        weights=weights, imgsz=imgsz, conf=conf, http=None if http.lower() in ("off", "none", "") else http,
        keep_days=keep_days, keep_confirmed=keep_confirmed_too, min_free_mb=min_free_mb,
        stop_timeout_s=stop_timeout, backoff_max_s=backoff_max, pid_file=pid_file or data_dir / PID_FILE,
        lease_ttl_s=lease_ttl, shared_detector=shared_detector or detector_workers is not None,
        detector_workers=detector_workers,
    )  # fmt: skip
    from pipeline.events.background import relay_in_background

    try:
        with relay_in_background(events, db, data_dir):
            code = Daemon(cameras, settings, data_dir, db).run()
    except TrafficcamError as exc:
        raise _fail(exc) from None
    if code != 0:
        # a camera did not finish in time: do not wait for its threads at interpreter exit either
        logging.shutdown()
        os._exit(code)
    raise typer.Exit(code)


def cameras_check(file: CamerasArg) -> None:
    """Validate cameras.yaml and every scene file it names; print each error with its line (exit 2)."""
    from pipeline.daemon.cameras import CamerasError, load_cameras
    from pipeline.daemon.streams import describe_source

    try:
        config = load_cameras(file)
    except CamerasError as exc:
        raise _fail(exc) from None
    for camera in config.cameras:
        c = camera.config
        state = "" if c.enabled else " [disabled]"
        fps = f", analysis {c.analysis_fps:g} fps" if c.analysis_fps else ""
        console.print(
            f"[green]ok[/] {c.id}{state}: {describe_source(c.source)}{' (loop)' if c.loop else ''}, "
            f"scene {camera.scene_path}{fps}, enforcing floor {c.min_fps:g} fps",
            highlight=False,
        )
    for note in config.notes:
        console.print(f"note: {note}", highlight=False)


def cameras_reload(
    data_dir: DataDirOpt = Path("trafficcam-data"),
    pid_file: Annotated[Path | None, typer.Option("--pid-file", help="The daemon's pid file.")] = None,
) -> None:
    """Tell the running `watch` instances of a data dir to re-read their cameras.yaml (SIGHUP).

    Each instance has its own pid file (watch.pid, or watch.PID.pid when several share the dir);
    every live one is asked."""
    from pipeline.daemon import pidfile

    if pid_file is not None:
        pid = pidfile.read_pid(pid_file)
        if pid is None:
            what = "does not hold a process id" if pid_file.exists() else "no pid file"
            raise _fail(TrafficcamError(f"{pid_file}: {what}; is `trafficcam watch` running with it?"))
        targets = [(pid_file, pid)]
    else:
        targets = pidfile.instances(data_dir, PID_FILE)
        if not targets:
            raise _fail(TrafficcamError(
                f"{data_dir / PID_FILE}: no pid file of a running daemon; is `trafficcam watch` running with this "
                "--data-dir?"
            ))  # fmt: skip
    for path, pid in targets:
        try:
            os.kill(pid, signal.SIGHUP)
        except ProcessLookupError:
            raise _fail(TrafficcamError(f"no process {pid} (from {path}): the daemon is not running")) from None
        except PermissionError:
            raise _fail(TrafficcamError(f"not allowed to signal process {pid}: run as the daemon's user")) from None
        console.print(f"asked process {pid} to reload its cameras")


def cameras_coverage(
    camera: Annotated[str, typer.Argument(help="Camera id.")],
    at: Annotated[
        str | None, typer.Option("--at", help="A moment (ISO 8601, local time unless it has an offset).")
    ] = None,
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """Was this camera enforcing at a moment (--at), or its ledger of the last day."""
    from pipeline.store.coverage import coverage_at, list_coverage
    from pipeline.store.db import open_database

    try:
        database = open_database(db, data_dir)
        if at is not None:
            when = _parse_moment(at)
            period = coverage_at(database, camera, when)
            if period is None:
                console.print(f"{camera} at {when.astimezone():%Y-%m-%d %H:%M:%S %Z}: not watched (no daemon on it)")
            else:
                state = "enforcing" if period.enforcing else f"not enforcing: {period.reason.value}"
                detail = f" ({period.detail})" if period.detail else ""
                console.print(f"{camera} at {when.astimezone():%Y-%m-%d %H:%M:%S %Z}: {state}{detail}", highlight=False)
            return
        for p in list_coverage(database, camera, since=datetime.now(UTC) - timedelta(days=1)):
            end = "now" if p.ended_at is None else f"{p.ended_at.astimezone():%Y-%m-%d %H:%M:%S}"
            detail = f" ({p.detail})" if p.detail else ""
            console.print(f"{p.started_at.astimezone():%Y-%m-%d %H:%M:%S} .. {end}  {p.reason.value}{detail}",
                          highlight=False)  # fmt: skip
    except TrafficcamError as exc:
        raise _fail(exc) from None


def _parse_moment(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(TrafficcamError(f"--at expects a time like 2026-05-01T08:14:00, got {text!r}")) from None
    return when if when.tzinfo else when.astimezone()
