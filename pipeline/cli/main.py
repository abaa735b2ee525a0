"""The `trafficcam` command line: thin commands that parse, call one function, report."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

# FFmpeg inside OpenCV prints decoder noise for every damaged packet; we report losses ourselves.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
if "--debug" not in sys.argv:
    os.environ.setdefault("YOLO_VERBOSE", "False")  # ultralytics' own banners and per-frame lines

import typer  # noqa: E402
from rich.logging import RichHandler  # noqa: E402
from rich.table import Table  # noqa: E402

from pipeline.cli.common import DataDirOpt, DbOpt, _fail, console, err_console, state  # noqa: E402
from pipeline.cli.db import register as _register_db  # noqa: E402
from pipeline.cli.sample import register as _register_sample  # noqa: E402
from pipeline.cli.scenes import register as _register_scene_versions  # noqa: E402
from pipeline.cli.train import register as _register_training  # noqa: E402
from pipeline.cli.watch import register as _register_daemon  # noqa: E402
from pipeline.errors import SceneError, TrafficcamError  # noqa: E402
from review.cli import register as _register_review  # noqa: E402

app = typer.Typer(help="trafficcam: traffic-violation cameras with evidence for review.", no_args_is_help=True)
scene_app = typer.Typer(help="Check and draw scene files (one per camera view).", no_args_is_help=True)
models_app = typer.Typer(help="Detector weights known to trafficcam.", no_args_is_help=True)
app.add_typer(scene_app, name="scene")
app.add_typer(models_app, name="models")



@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
) -> None:
    state["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=debug, show_time=False)],
    )
    if not debug:
        logging.getLogger("ultralytics").setLevel(logging.ERROR)


# -- scene ------------------------------------------------------------------------------


@scene_app.command("check")
def scene_check(file: Annotated[Path, typer.Argument(help="Scene YAML file.")]) -> None:
    """Validate a scene file; print every error with its YAML line (exit 2 when invalid)."""
    from pipeline.scene import load_scene

    try:
        scene = load_scene(file)
    except SceneError as exc:
        raise _fail(exc) from None
    console.print(
        f"[green]ok[/] {file}: camera {scene.camera}, frame {scene.frame_size[0]}x{scene.frame_size[1]}, "
        f"{len(scene.signals)} signal(s), {len(scene.stop_lines)} stop line(s), {len(scene.lanes)} lane(s), "
        f"{len(scene.solid_lines)} solid line(s)",
        highlight=False,
    )


@scene_app.command("draw")
def scene_draw(
    file: Annotated[Path, typer.Argument(help="Scene YAML file.")],
    video: Annotated[Path, typer.Option("--video", help="Video (or image) to draw on.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG or JPEG to write.")],
    at: Annotated[float, typer.Option("--at", help="Seconds into the video.")] = 0.0,
) -> None:
    """Draw signal boxes, stop lines with approach arrows, lanes and solid lines over a real frame."""
    from pipeline.draw import draw_scene_file

    try:
        draw_scene_file(file, video, output, at)
    except TrafficcamError as exc:
        raise _fail(exc) from None
    console.print(f"wrote {output}")


# -- models -----------------------------------------------------------------------------


@models_app.command("list")
def models_list() -> None:
    """Show the weights in models/manifest.yaml and whether each is present on this machine."""
    from detector.weights import WeightsError, load_manifest, locate, search_dirs

    try:
        entries = load_manifest()
    except WeightsError as exc:
        raise _fail(exc) from None
    table = Table(title="Detector weights (models/manifest.yaml)")
    for col in ("name", "file", "input", "present", "licence"):
        table.add_column(col, overflow="fold")

    def short(text: str, n: int = 48) -> str:
        first = text.split(". ")[0].split("; ")[0].strip()
        return first if len(first) <= n else first[: n - 1] + "…"

    for e in entries:
        found = locate(e)
        present = f"[green]yes[/] {found}" if found else "[yellow]no[/]"
        table.add_row(e.name, e.file, str(e.imgsz), present, short(e.licence))
    console.print(table)
    console.print("searched: " + ", ".join(str(d) for d in search_dirs()), highlight=False)


# -- process ----------------------------------------------------------------------------


@app.command()
def process(
    video: Annotated[Path, typer.Argument(help="Recorded video file.")],
    scene: Annotated[Path, typer.Option("--scene", help="Scene YAML for this camera view.")],
    weights: Annotated[
        str | None,
        typer.Option("--weights", help="Manifest name or path (default: TRAFFICCAM_WEIGHTS, else yolov8n.pt)."),
    ] = None,
    imgsz: Annotated[int | None, typer.Option("--imgsz", help="Detector input size (default: the model's).")] = None,
    conf: Annotated[float, typer.Option("--conf", min=0.01, max=0.99, help="Detection confidence.")] = 0.25,
    analysis_fps: Annotated[
        float | None, typer.Option("--analysis-fps", min=0.1, help="Detect at most this often (default: every frame).")
    ] = None,
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write the JSON report here.")] = None,
    rule: Annotated[list[str] | None, typer.Option("--rule", help="Enable a rule (repeatable).")] = None,
    no_rule: Annotated[list[str] | None, typer.Option("--no-rule", help="Disable a rule (repeatable).")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bar.")] = True,
) -> None:
    """Find violations in a recorded video and store them with their evidence."""
    from pipeline.cli.console import run_process
    from pipeline.process import ProcessSettings

    settings = ProcessSettings(
        weights=weights, imgsz=imgsz, conf=conf, analysis_fps=analysis_fps,
        enable=tuple(rule or ()), disable=tuple(no_rule or ()),
    )
    try:
        run_process(video, scene, settings, data_dir, db, report, console, progress and console.is_terminal)
    except TrafficcamError as exc:
        raise _fail(exc) from None
    except ValueError as exc:  # bad option combinations (unknown rule names, ...)
        exc.exit_code = 2  # type: ignore[attr-defined]
        raise _fail(exc) from None
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted:[/] evidence already written was kept and recorded")
        raise typer.Exit(130) from None


@app.command("eval")
def eval_clips(
    clips: Annotated[Path, typer.Option("--clips", help="Folder of clip folders, each with scene.yaml + truth.yaml.")],
    weights: Annotated[str | None, typer.Option("--weights", help="Manifest name or path.")] = None,
    imgsz: Annotated[int | None, typer.Option("--imgsz")] = None,
    conf: Annotated[float, typer.Option("--conf", min=0.01, max=0.99)] = 0.25,
    analysis_fps: Annotated[float | None, typer.Option("--analysis-fps", min=0.1)] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Keep each clip's records here (default: a temporary folder).")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the scores as JSON here.")] = None,
) -> None:
    """Run the pipeline on every clip with a truth file and print precision / recall per rule."""
    from pipeline.cli.console import run_eval
    from pipeline.process import ProcessSettings

    settings = ProcessSettings(weights=weights, imgsz=imgsz, conf=conf, analysis_fps=analysis_fps)
    try:
        run_eval(clips, settings, data_dir, json_out, console)
    except TrafficcamError as exc:
        raise _fail(exc) from None


_register_scene_versions(scene_app)
_register_review(app)
_register_daemon(app)
_register_db(app)
_register_training(app)
_register_sample(app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
