"""What `trafficcam process` shows a person: a progress bar, then a summary table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from pipeline.evaluation import ClipResult, evaluate_clip, format_table, load_truth
from pipeline.process import ProcessResult, ProcessSettings, process_video
from pipeline.report import build_report, write_report
from pipeline.scene import load_scene
from pipeline.timing.recorded import zone_of


def run_process(
    video: Path,
    scene: Path,
    settings: ProcessSettings,
    data_dir: Path,
    db_url: str | None,
    report: Path | None,
    console: Console,
    show_progress: bool,
    recorded_at: str | None = None,
    timezone: str | None = None,
) -> ProcessResult:
    """Process a video with a progress bar, print the summary, write the report."""
    when = {"recorded_at": recorded_at, "timezone": timezone}
    if show_progress:
        columns = (
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[fps]:.1f} fps"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        )  # fmt: skip
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(video.name, total=None, fps=0.0)

            def on_progress(done: int, total: int | None) -> None:
                elapsed = bar.tasks[0].elapsed or 0.0
                bar.update(task, completed=done, total=total, fps=done / elapsed if elapsed else 0.0)

            result = process_video(video, scene, settings, data_dir, db_url, on_progress, **when)
    else:
        result = process_video(video, scene, settings, data_dir, db_url, **when)
    if result.recorded is not None:
        zone = zone_of(timezone or load_scene(scene).timezone)
        console.print(f"time: {result.recorded.describe(zone)}", highlight=False)
    print_summary(result, data_dir, console)
    if report is not None:
        write_report(build_report(result, data_dir), report)
        console.print(f"report: {report}", highlight=False)
    return result


def print_summary(result: ProcessResult, data_dir: Path, console: Console) -> None:
    table = Table(title=f"{Path(result.video).name} — camera {result.camera} — run {result.run_id}")
    table.add_column("rule")
    table.add_column("where")
    table.add_column("violations", justify="right")
    table.add_column("new", justify="right")
    for (rule, where), n in sorted(result.counts().items()):
        new = sum(1 for r in result.reported if (r.violation.rule, r.violation.where) == (rule, where) and r.new)
        table.add_row(rule, where, str(n), str(new))
    if not result.reported:
        table.add_row("(none)", "", "0", "0")
    console.print(table)
    speed = result.video_s / result.wall_s if result.wall_s else 0.0
    expected = f" of {result.frames_expected} expected" if result.frames_expected else ""
    console.print(
        f"frames read {result.frames_read}{expected}, analysed {result.frames_analysed},"
        f" dropped {result.frames_dropped}"
        f" | {result.wall_s:.1f} s wall for {result.video_s:.1f} s of video = {speed:.2f}x real time"
        f" ({result.frames_read / result.wall_s if result.wall_s else 0:.1f} fps)",
        highlight=False,
    )
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(result.stage_s.items(), key=lambda kv: -kv[1]))
    console.print(f"time by stage: {stages}", highlight=False)
    if result.reported:
        first = next(iter(result.reported)).evidence.get("during", "")
        folder = (data_dir / first).parent.parent if first else data_dir / "evidence"
        console.print(f"evidence: {folder}   database: {data_dir / 'trafficcam.db'} (unless --db)", highlight=False)
    if result.evidence_failures:
        console.print(f"[red]{result.evidence_failures} evidence package(s) failed; see the log above[/]")
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)


def run_eval(
    clips_dirs: Sequence[Path],
    settings: ProcessSettings,
    data_dir: Path | None,
    json_out: Path | None,
    console: Console,
) -> list[ClipResult]:
    """Process every clip with a scene and a truth file under `clips_dirs`; score each.

    Clips whose video is found nowhere (see `pipeline.clipsets`) are skipped with the reason; when
    every clip is skipped that is an error, not an empty table.
    """
    import json
    import tempfile

    from pipeline.clipsets import discover_clips
    from pipeline.errors import SourceError

    clips = discover_clips(clips_dirs)
    runnable = [c for c in clips if c.video is not None]
    for clip in clips:
        if clip.video is None:
            console.print(f"[yellow]skipped[/] {clip.name}: {clip.skip_reason}", highlight=False)
    if not runnable:
        raise SourceError("no clip could be evaluated: every clip's video is missing (see above)")
    results = []
    with tempfile.TemporaryDirectory(prefix="trafficcam-eval-") as scratch:
        for clip in runnable:
            assert clip.video is not None
            truth = load_truth(clip.truth)
            console.print(f"[bold]{clip.name}[/]: processing {clip.video} ...", highlight=False)
            target = (data_dir or Path(scratch)) / clip.name
            result = process_video(clip.video, clip.scene, settings, target)
            results.append(evaluate_clip(clip.name, truth, build_report(result, target)))
    console.print(format_table(results), highlight=False, markup=False)
    if json_out is not None:
        skipped = [{"clip": c.name, "skipped": c.skip_reason} for c in clips if c.video is None]
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps([*(_clip_json(r) for r in results), *skipped], indent=2) + "\n")
        console.print(f"json: {json_out}", highlight=False)
    return results


def _clip_json(result: ClipResult) -> dict[str, object]:
    rules = {**result.matches.rules, "all": result.matches.total}
    return {
        "clip": result.clip,
        "rules": {
            name: {"tp": s.tp, "fp": s.fp, "fn": s.fn, "precision": round(s.precision, 4), "recall": round(s.recall, 4),
                   "set_aside": len(s.set_aside), "duplicates": len(s.duplicates)}
            for name, s in rules.items()
        },
        "signals": {k: round(v, 4) for k, v in result.signals.items()},
    }
