"""`trafficcam train-detector`, `eval-detector` and `mix-dataset`: thin commands over detector/training.py,
detector/evaluate.py and detector/mix.py. `register(app)` adds them to the main Typer app.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def _fail(exc: BaseException, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
    return typer.Exit(code)


def train_detector_command(
    data: Annotated[
        Path,
        typer.Option("--data", help="Dataset YAML (train, val, names), or a YOLO dataset folder to split (seeded)."),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="models/NAME: weights file and manifest name.")],
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Training epochs.")] = 12,
    imgsz: Annotated[int, typer.Option("--imgsz", min=32, help="Training and inference size.")] = 320,
    start: Annotated[
        str, typer.Option("--from", help="Start weights: manifest name, .pt, int8 YOLOv8n .onnx, or model .yaml.")
    ] = "coco-n",
    seed: Annotated[int, typer.Option("--seed", help="Seed for the split and training.")] = 0,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Batch size.")] = 16,
    val_fraction: Annotated[
        float, typer.Option("--val-fraction", min=0.001, max=0.5, help="Held-out share when --data is a folder.")
    ] = 0.05,
    run_dir: Annotated[Path, typer.Option("--run-dir", help="Where training runs go.")] = Path("runs/train-detector"),
    time_limit: Annotated[
        float | None,
        typer.Option("--time-limit", min=0.01, help="Hours; stop then (ultralytics re-plans epochs to fit)."),
    ] = None,
    score: Annotated[
        list[Path] | None, typer.Option("--score", help="Labelled image folder to score the result on (repeatable).")
    ] = None,
    freeze: Annotated[
        int, typer.Option("--freeze", min=0, max=22, help="Keep the first N layers as they start (0: train all).")
    ] = 0,
    lr0: Annotated[
        float | None,
        typer.Option("--lr0", min=1e-6, max=1.0, help="Initial learning rate, AdamW (default: ultralytics' choice)."),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option("--threads", min=1, help="CPU threads to train with (default: every core)."),
    ] = None,
    check_set: Annotated[
        Path | None,
        typer.Option("--check-set", help="Clips folder (../shared/clips): report the result's kept score at the end."),
    ] = None,
    check_dir: Annotated[Path, typer.Option("--check-dir", help="Where the check set's frames are kept.")] = Path(
        "runs/checkset"
    ),
) -> None:
    """Fine-tune a YOLO detector, export it to ONNX (int8 where it keeps accuracy), add it to the manifest."""
    from detector.evaluate import EvaluationError
    from detector.training import TrainingError, train_detector
    from detector.weights import WeightsError, resolve

    command = "trafficcam " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else ""
    try:
        result = train_detector(
            data,
            output,
            epochs=epochs,
            imgsz=imgsz,
            start=start,
            seed=seed,
            batch=batch,
            val_fraction=val_fraction,
            run_dir=run_dir,
            score_sets=tuple(score or ()),
            command=command,
            time_limit_h=time_limit,
            freeze=freeze,
            lr0=lr0,
            threads=threads,
        )
        kept = None if check_set is None else _kept(resolve(str(result.weights)), check_set, check_dir)
    except (TrainingError, EvaluationError, WeightsError, FileNotFoundError) as exc:
        raise _fail(exc, 2) from None
    console.print(
        f"wrote {result.weights} ({result.entry.bytes} bytes, {result.entry.format}); "
        f"manifest entry {result.entry.name!r}",
        highlight=False,
    )
    console.print_json(json.dumps(result.scores))
    if kept is not None:
        _print_kept(result.entry.name, kept)


def mix_dataset_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the dataset (its data.yaml).")],
    vn: Annotated[
        Path | None, typer.Option("--vn", help="Vietnamese labelled set: images/, labels/, data.yaml.")
    ] = None,
    clips: Annotated[
        Path | None, typer.Option("--clips", help="Clips folder (../shared/clips) to pseudo-label frames of.")
    ] = None,
    teacher: Annotated[
        str, typer.Option("--teacher", help="Weights whose confident boxes are the labels.")
    ] = "coco-n-f16",
    teacher_conf: Annotated[float, typer.Option("--teacher-conf", min=0.05, max=0.99)] = 0.5,
    every_s: Annotated[float, typer.Option("--every-s", min=0.1, help="A clip frame every this many seconds.")] = 1.0,
    night: Annotated[bool, typer.Option("--night/--no-night", help="Add night-styled copies of clip frames.")] = True,
    vn_limit: Annotated[int | None, typer.Option("--vn-limit", min=1, help="At most this many VN images.")] = None,
    frames_per_clip: Annotated[int | None, typer.Option("--frames-per-clip", min=1)] = None,
    repeat: Annotated[int, typer.Option("--repeat", min=1, max=50, help="Copies of each clip frame.")] = 1,
) -> None:
    """Build a training set that does not forget: Vietnamese labels plus the COCO teacher's confident boxes
    on non-Vietnamese clip frames (check-set frames left out) and night-styled copies (detector/mix.py)."""
    from detector.kept import Predictor
    from detector.mix import MixError, MixSpec, build_mix
    from detector.weights import WeightsError, resolve

    try:
        predictor = Predictor(resolve(teacher), teacher_conf)
        spec = MixSpec(every_s=every_s, night=night, vn_limit=vn_limit, frames_per_clip=frames_per_clip,
                       teacher_conf=teacher_conf, clip_repeat=repeat)  # fmt: skip
        data_yaml = build_mix(output, predictor, vn_data=vn, clips_root=clips, spec=spec,
                              progress=lambda m: err_console.print(m, highlight=False))  # fmt: skip
    except (MixError, WeightsError, FileNotFoundError) as exc:
        raise _fail(exc, 2) from None
    summary = json.loads((output / "mix.json").read_text(encoding="utf-8"))["summary"]
    console.print(f"wrote {data_yaml}: {summary['vn_images']} Vietnamese images (+{summary['vn_boxes_added']} "
                  f"teacher boxes), {summary['clip_frames']} clip frames, {summary['night_frames']} night copies; "
                  f"boxes {summary['boxes']}", highlight=False)  # fmt: skip


CheckSetOpt = Annotated[
    Path | None,
    typer.Option("--check-set", help="Folder of clips (../shared/clips) to build the kept score's check set from: "
                 "non-Vietnamese and night frames (detector/checkset.py)."),
]  # fmt: skip
CheckDirOpt = Annotated[Path, typer.Option("--check-dir", help="Where the check set's frames are kept.")]


def eval_detector_command(
    images: Annotated[
        Path | None, typer.Option("--images", help="Labelled images: folder with images/ labels/ data.yaml.")
    ] = None,
    weights: Annotated[str | None, typer.Option("--weights", help="Manifest name or path.")] = None,
    imgsz: Annotated[int | None, typer.Option("--imgsz", min=32, help="Inference size (default: the model's).")] = None,
    conf: Annotated[float, typer.Option("--conf", min=0.01, max=0.99, help="Detection confidence.")] = 0.25,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    tiles: Annotated[str, typer.Option("--tiles", help="Overlapping tiles COLSxROWS, merged (e.g. 2x2).")] = "1x1",
    overlap: Annotated[float, typer.Option("--overlap", min=0.0, max=0.8, help="Share of a tile shared.")] = 0.2,
    whole: Annotated[bool, typer.Option("--whole-region", help="With --tiles: run on the whole region too.")] = False,
    roi: Annotated[
        float | None,
        typer.Option(
            "--roi",
            min=0.0,
            max=1.0,
            help="Detect only around the labelled stop lines and signals, "
            "grown by this share of the image (a scene's region of interest).",
        ),
    ] = None,
    riders: Annotated[
        bool, typer.Option("--merge-riders", help="Fold persons on a two-wheeler into it first, as the pipeline does.")
    ] = False,
    nms_iou: Annotated[
        float | None,
        typer.Option(
            "--nms-iou", min=0.05, max=1.0, help="Non-maximum suppression IoU (default: the manifest's, else 0.7)."
        ),
    ] = None,
    check_set: CheckSetOpt = None,
    check_dir: CheckDirOpt = Path("runs/checkset"),
) -> None:
    """Detection recall and precision per class at IoU 0.5 on a YOLO-format labelled image set, and
    with --check-set the kept score: the share of coco-n-f16's confident boxes the weights still find."""
    from detector.evaluate import EvaluationError, evaluate_detector
    from detector.tiling import parse_tiles
    from detector.weights import WeightsError, resolve
    from detector.yolo import NMS_IOU

    if images is None and check_set is None:
        raise _fail(ValueError("give --images (labelled images), --check-set (clips for the kept score), or both"), 2)
    if as_json:  # ultralytics announces each model load on stdout; keep stdout pure JSON
        logging.getLogger("ultralytics").setLevel(logging.ERROR)
    kept = None
    try:
        w = resolve(weights)
        size = imgsz or w.imgsz or 640
        scores = None if images is None else evaluate_detector(
            w if w.members else w.path, images, imgsz=size, conf=conf, overrides=w.class_overrides,
            tiles=parse_tiles(tiles), overlap=overlap, whole_region=whole, roi_margin=roi, merge_riders=riders,
            nms_iou=nms_iou if nms_iou is not None else w.nms_iou or NMS_IOU,
        )  # fmt: skip
        if check_set is not None:
            kept = _kept(w, check_set, check_dir)
    except (EvaluationError, WeightsError, ValueError, FileNotFoundError) as exc:
        raise _fail(exc, 2) from None
    if as_json:
        out: dict[str, object] = {"weights_name": w.name, **(scores.as_dict() if scores else {})}
        if kept is not None:
            out["kept"] = kept.as_dict()
        console.print_json(json.dumps(out))
        return
    if kept is not None:
        _print_kept(w.name, kept)
    if scores is None:
        return
    how = ", ".join(f"{k} {v}" for k, v in scores.settings.items() if k not in ("weights", "imgsz", "conf"))
    table = Table(
        title=f"{w.name} on {images} ({scores.images} images, {size} px, conf {conf}, IoU {scores.iou}; {how})"
    )
    for col in ("class", "truths", "predictions", "recall", "precision"):
        table.add_column(col, justify="left" if col == "class" else "right")
    unlabelled = []
    for name, s in sorted(scores.classes.items()):
        if not s.truths:
            unlabelled.append(f"{name} {s.predictions}")
            continue
        table.add_row(
            name,
            str(s.truths),
            str(s.predictions),
            "-" if s.recall is None else f"{s.recall:.3f}",
            "-" if s.precision is None else f"{s.precision:.3f}",
        )
    console.print(table)
    if "queue_boxes" in scores.settings:
        queue, share = scores.settings["queue_boxes"], scores.settings["queue_box_share"]
        console.print(f"boxes covering 2 or more labelled vehicles (a queue in one box): {queue} "
                      f"(share of vehicle boxes {share})", highlight=False)  # fmt: skip
    if unlabelled:
        console.print("predictions of classes the labels do not have: " + ", ".join(unlabelled), highlight=False)


def _kept(w, clips: Path, cache: Path):  # type: ignore[no-untyped-def]
    from detector.checkset import read_index
    from detector.kept import REFERENCE, check_set_index, kept_score
    from detector.weights import resolve

    if not clips.is_dir():
        raise FileNotFoundError(f"--check-set {clips}: no such folder of clips")
    return kept_score(w, read_index(check_set_index(clips, cache)), resolve(REFERENCE))


def _print_kept(name: str, kept) -> None:  # type: ignore[no-untyped-def]
    from detector.kept import MIN_KEPT, REFERENCE

    d = kept.as_dict()
    table = Table(title=f"{name}: kept share of {REFERENCE}'s boxes at conf >= 0.5 ({d['images']} check images)")
    for col in ("style / group", "reference boxes", "kept", "share"):
        table.add_column(col, justify="left" if col == "style / group" else "right")
    for key, row in d["rows"].items():
        table.add_row(key, str(row["reference"]), str(row["kept"]), f"{row['share']:.3f}")
    console.print(table)
    verdict = "[green]passes[/]" if (d["kept"] or 0) >= MIN_KEPT else "[red]below[/]"
    console.print(f"kept {d['kept']} ({verdict} the gate of {MIN_KEPT}); by style: {d['by_style']}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `train-detector`, `eval-detector` and `mix-dataset` to `app`."""
    app.command("train-detector")(train_detector_command)
    app.command("eval-detector")(eval_detector_command)
    app.command("mix-dataset")(mix_dataset_command)


if __name__ == "__main__":  # pragma: no cover - `python -m` runs these commands alone
    os.environ.setdefault("YOLO_VERBOSE", "False")
    _app = typer.Typer(no_args_is_help=True)
    register(_app)
    _app()
