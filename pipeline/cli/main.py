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
from pipeline.cli.events import register as _register_events  # noqa: E402
from pipeline.cli.jobs import register as _register_jobs  # noqa: E402
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
    from detector.weights import WeightsError, default_weights, load_manifest, locate, search_dirs

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

    by_name = {e.name: e for e in entries}
    default = default_weights()
    for e in entries:
        parts = [by_name[m.name] for m in e.members if m.name in by_name] if e.members else [e]
        missing = [p.name for p in parts if locate(p) is None]
        missing += [m.name for m in e.members or [] if m.name not in by_name]
        found = locate(e) if not e.members else None
        present = ("[yellow]no[/] " + ", ".join(missing) if e.members else "[yellow]no[/]") if missing else (
            f"[green]yes[/] {found}" if found else "[green]yes[/] (fused)")
        files = " + ".join(m.name for m in e.members) if e.members else e.file
        name = e.name + (" (default)" if e.name == default else "")
        table.add_row(name, files, str(e.imgsz), present, short(e.licence))
    console.print(table)
    console.print("searched: " + ", ".join(str(d) for d in search_dirs()), highlight=False)


@models_app.command("set-default")
def models_set_default(
    name: Annotated[str, typer.Argument(help="Manifest name of the candidate.")],
    images: Annotated[Path, typer.Option("--images", help="Labelled Vietnamese images (vn_cctv_labels).")],
    check_set: Annotated[Path, typer.Option("--check-set", help="Folder of clips for the check set (../shared/clips)")],
    check_dir: Annotated[Path, typer.Option("--check-dir", help="Where the check set's frames are kept.")] = Path(
        "runs/checkset"
    ),
) -> None:
    """Make NAME the default weights, only if it passes the gate: kept >= 0.95 on the check set and
    motorbike / car recall on the Vietnamese labels no worse than the current default's."""
    from detector.evaluate import evaluate_detector
    from detector.kept import gate, set_default, vn_rows
    from detector.weights import WeightsError, default_weights, resolve
    from pipeline.cli.train import _kept

    try:
        candidate, current = resolve(name), resolve(default_weights())
        recall = {}
        for w in (candidate, current):
            s = evaluate_detector(w if w.members else w.path, images, imgsz=w.imgsz or 640,
                                  overrides=w.class_overrides, merge_riders=True)  # fmt: skip
            recall[w.name] = vn_rows({k: v.as_dict() for k, v in s.classes.items()})
        kept = _kept(candidate, check_set, check_dir).overall
    except (WeightsError, FileNotFoundError, ValueError) as exc:
        raise _fail(exc) from None
    console.print(f"{candidate.name}: kept {kept}, Vietnamese recall {recall[candidate.name]}; "
                  f"current default {current.name}: {recall[current.name]}", highlight=False)  # fmt: skip
    reasons = gate(kept, recall[candidate.name], recall[current.name]) if candidate.name != current.name else []
    if reasons:
        err_console.print(f"[bold red]refused:[/] {candidate.name} is not made the default: " + "; ".join(reasons))
        raise typer.Exit(1)
    console.print(f"default is now {candidate.name} ({set_default(candidate.name)})", highlight=False)


# -- process ----------------------------------------------------------------------------


@app.command()
def process(
    video: Annotated[Path, typer.Argument(help="Recorded video file.")],
    scene: Annotated[Path, typer.Option("--scene", help="Scene YAML for this camera view.")],
    weights: Annotated[
        str | None,
        typer.Option("--weights", help="Manifest name or path (default: TRAFFICCAM_WEIGHTS, else the manifest's "
                     "default, coco-vn2)."),
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
    recorded_at: Annotated[
        str | None,
        typer.Option("--recorded-at", help="Wall-clock time of the first frame, ISO 8601 (2022-09-25T16:15:00+07:00)."),
    ] = None,
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="The camera's IANA time zone (default: the scene's `timezone`).")
    ] = None,
) -> None:
    """Find violations in a recorded video and store them with their evidence."""
    from pipeline.cli.console import run_process
    from pipeline.process import ProcessSettings

    settings = ProcessSettings(
        weights=weights, imgsz=imgsz, conf=conf, analysis_fps=analysis_fps,
        enable=tuple(rule or ()), disable=tuple(no_rule or ()),
    )
    try:
        run_process(video, scene, settings, data_dir, db, report, console, progress and console.is_terminal,
                    recorded_at=recorded_at, timezone=timezone)
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
    clips: Annotated[
        list[Path],
        typer.Option(
            "--clips",
            help="Folder of clip folders, each with scene.yaml + truth.yaml; repeat it (e.g. ../shared/clips and "
            "eval/clips): a clip's video is also looked for under the other folders and TRAFFICCAM_CLIPS_PATH.",
        ),
    ],
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
_register_events(app)
_register_jobs(app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
