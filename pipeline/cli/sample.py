"""`trafficcam sample ...`: render the synthetic junction, its training frames, and the demo weights.

Thin commands over pipeline/sample. `register(app)` adds the `sample` group to the main Typer app.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

sample_app = typer.Typer(help="A synthetic junction with exact ground truth, to try trafficcam anywhere.",
                         no_args_is_help=True)

DEFAULT_VIDEO = Path("sample_videos/junction/junction.mp4")
DEFAULT_NIGHT_VIDEO = Path("sample_videos/junction-night/junction-night.mp4")


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise typer.BadParameter(f"expected WIDTHxHEIGHT such as 960x540, got {text!r}") from None
    return w, h


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@sample_app.command("render")
def render_command(
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Video to write; scene.yaml and truth.yaml go beside it.",
                     show_default=str(DEFAULT_VIDEO)),
    ] = None,
    seconds: Annotated[float, typer.Option("--seconds", min=1.0, help="Length of the clip.")] = 32.0,
    fps: Annotated[float, typer.Option("--fps", min=1.0, max=60.0, help="Frames per second.")] = 10.0,
    size: Annotated[str, typer.Option("--size", help="Frame size WIDTHxHEIGHT (even numbers).")] = "960x540",
    night: Annotated[bool, typer.Option("--night", help="Render the junction at night.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same clip (traffic, colours, noise).")] = 7,
) -> None:
    """Render a synthetic junction clip with its scene file and exact truth (red light, solid line, wrong way)."""
    from pipeline.sample.clip import render_sample
    from pipeline.sample.render import SampleSpec

    width, height = _size(size)
    video = output or (DEFAULT_NIGHT_VIDEO if night else DEFAULT_VIDEO)
    try:
        spec = SampleSpec(seconds=seconds, fps=fps, width=width, height=height, night=night, seed=seed)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    started = time.perf_counter()
    try:
        clip = render_sample(spec, video)
    except OSError as exc:
        raise _fail(f"cannot write {video}: {exc}", 3) from None
    counts: dict[str, int] = {}
    for v in clip.violations:
        counts[v.rule] = counts.get(v.rule, 0) + 1
    found = ", ".join(f"{n} {rule}" for rule, n in sorted(counts.items())) or "none"
    console.print(
        f"wrote {clip.video} ({spec.frames} frames, {width}x{height}, {fps:g} fps, "
        f"{'night' if night else 'day'}, seed {seed}) in {time.perf_counter() - started:.1f} s\n"
        f"scene: {clip.scene}\ntruth: {clip.truth} (violations: {found}; uncertain: {len(clip.uncertain)})\n"
        f"next: trafficcam process {clip.video} --scene {clip.scene} --weights demo-synthetic",
        highlight=False,
    )


@sample_app.command("dataset")
def dataset_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for images/, labels/ and data.yaml.")],
    clips: Annotated[int, typer.Option("--clips", min=1, help="Clips to render (every third at night).")] = 12,
    seconds: Annotated[float, typer.Option("--seconds", min=2.0, help="Length of each clip.")] = 32.0,
    step: Annotated[int, typer.Option("--step", min=1, help="Keep every N-th frame (10 fps).")] = 7,
) -> None:
    """Render labelled training frames (YOLO format: car, motorcycle, bus) from seeds 1000 and up."""
    from pipeline.sample.dataset import DatasetSpec, write_dataset

    spec = DatasetSpec(clips=clips, seconds=seconds, step=step)
    root = write_dataset(spec, output)
    console.print(f"wrote {spec.images} labelled frames to {root}", highlight=False)


@sample_app.command("train")
def train_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="models/NAME: weights file and manifest name.")] = Path(
        "models/demo-synthetic"
    ),
    data: Annotated[
        Path | None, typer.Option("--data", help="Dataset from `sample dataset` (default: render one into --run-dir).")
    ] = None,
    clips: Annotated[int, typer.Option("--clips", min=1, help="Clips to render when --data is not given.")] = 12,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Training epochs.")] = 8,
    start: Annotated[
        str, typer.Option("--from", help="Start weights: manifest name, .pt, int8 YOLOv8n .onnx, or model .yaml.")
    ] = "coco-n",
    seed: Annotated[int, typer.Option("--seed", help="Training seed.")] = 0,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Batch size.")] = 16,
    run_dir: Annotated[Path, typer.Option("--run-dir", help="Where the dataset and training run go.")] = Path(
        "runs/train-demo"
    ),
) -> None:
    """Train the demo weights for the synthetic junction (320 px, ONNX) and add them to the manifest."""
    from detector.evaluate import EvaluationError
    from detector.training import TrainingError
    from detector.weights import WeightsError
    from pipeline.sample.dataset import DatasetSpec, train_demo_weights, write_dataset

    command = "trafficcam " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else ""
    if data is None:
        data = write_dataset(DatasetSpec(clips=clips), run_dir / "dataset")
        console.print(f"rendered training frames into {data}", highlight=False)
    started = time.perf_counter()
    try:
        result = train_demo_weights(data, output, epochs=epochs, start=start, seed=seed, batch=batch,
                                    run_dir=run_dir, command=command)
    except (TrainingError, EvaluationError, WeightsError) as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"wrote {result.weights} ({result.entry.bytes} bytes, {result.entry.format}) in "
        f"{(time.perf_counter() - started) / 60:.1f} min; manifest entry {result.entry.name!r}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add the `sample` command group (render, dataset, train) to `app`."""
    app.add_typer(sample_app, name="sample")


if __name__ == "__main__":  # pragma: no cover - `python -m` runs these commands alone
    _app = typer.Typer(no_args_is_help=True)
    register(_app)
    _app()
