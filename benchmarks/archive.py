"""Archive throughput: the same files through `trafficcam submit` with 1, 2 and 3 `trafficcam worker`s.

Renders N synthetic junction clips (different seeds and cameras, the demo weights detect them)
and processes them once with `process_video` one after another (no queue: the baseline). Then for
each worker count, on a fresh database: every file submitted (`trafficcam submit`, one per camera,
timed), k `trafficcam worker` processes started, and the wall time read from the jobs table, from
the first file taken to the last one done. Reported: wall time, files and video seconds per wall
second, the speed-up over one worker, submit time per file, the gap on one worker between one
file done and the next taken (acknowledgement, fetch, bookkeeping), and the queue's cost per file
with one worker (its wall time minus the baseline's, per file).

    PYTHONPATH=. .venv/bin/python benchmarks/archive.py [--files 6] [--seconds 6] [--workers 1,2,3]
        [--db 'postgresql+psycopg://postgres@127.0.0.1:5432/bench_{k}'] [--write]

Needs RabbitMQ on 127.0.0.1:5672 (or TRAFFICCAM_BROKER_URL). `--write` puts the table into
BENCHMARKS.md (section "Archive: submit / worker").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.report import replace_section  # noqa: E402

SECTION = "Archive: submit / worker"


def render_clips(folder: Path, files: int, seconds: float) -> list[tuple[Path, Path]]:
    """(video, scene) per file, rendered once into `folder` and reused."""
    from pipeline.sample import SampleSpec, render_sample

    out = []
    for i in range(files):
        video = folder / f"cam-{i}" / "clip.mp4"
        if not video.exists():
            spec = SampleSpec(seconds=seconds, fps=10.0, width=640, height=360, seed=3 + i)
            render_sample(spec, video, camera_id=f"cam-{i}")
        out.append((video, video.with_name("scene.yaml")))
    return out


def baseline(clips: list[tuple[Path, Path]], data: Path, db_url: str | None) -> list[float]:
    """Wall seconds of `process_video` on each clip, one after another in this process (no queue)."""
    from pipeline.process import ProcessSettings, process_video

    walls = []
    for video, scene in clips:
        t0 = time.perf_counter()
        process_video(video, scene, ProcessSettings(weights="demo-synthetic"), data, db_url)
        walls.append(time.perf_counter() - t0)
    return walls


def run_workers(k: int, clips: list[tuple[Path, Path]], data: Path, db_url: str | None) -> dict[str, float]:
    """Queue every clip, then process them with `k` worker processes; the measurements of one run.

    The throughput clock runs from the first job taken to the last one done (read from the jobs
    table), so the workers' start-up (imports, ~seconds) is left out; `submit` is timed apart.
    """
    from pipeline.store import open_database
    from pipeline.store.jobs import job_counts, list_jobs
    from pipeline.store.records import JobStatus

    queue = f"bench-{uuid.uuid4().hex[:8]}"
    env = os.environ | {"TRAFFICCAM_QUEUE": queue, "PYTHONPATH": str(ROOT), "TRAFFICCAM_DATABASE_URL": db_url or ""}
    db = open_database(db_url, data)
    t0 = time.perf_counter()
    for video, scene in clips:
        subprocess.run([sys.executable, "-m", "pipeline.cli", "submit", str(video), "--scene", str(scene),
                        "--weights", "demo-synthetic", "--data-dir", str(data)], env=env, check=True,
                       capture_output=True, cwd=ROOT)  # fmt: skip
    submit_s = (time.perf_counter() - t0) / len(clips)
    logs = [(data / f"worker-{i}.log").open("wb") for i in range(k)]
    workers = [
        subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker", "--name", f"w{i}", "--data-dir", str(data)],
                         env=env, stdout=logs[i], stderr=subprocess.STDOUT, cwd=ROOT)
        for i in range(k)
    ]  # fmt: skip
    try:
        while job_counts(db)[JobStatus.DONE] + job_counts(db)[JobStatus.FAILED] < len(clips):
            time.sleep(0.5)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(120)
        _delete_queue(queue)
    jobs = list_jobs(db)
    assert all(j.status is JobStatus.DONE and j.started_at and j.finished_at for j in jobs), jobs
    wall = (max(j.finished_at for j in jobs) - min(j.started_at for j in jobs)).total_seconds()  # type: ignore[type-var,operator]
    gaps = []  # one worker: its previous file done -> its next file taken (ack, fetch, bookkeeping)
    for name in {j.worker for j in jobs}:
        mine = sorted((j for j in jobs if j.worker == name), key=lambda j: j.started_at)  # type: ignore[arg-type,return-value]
        gaps += [(b.started_at - a.finished_at).total_seconds() for a, b in zip(mine, mine[1:], strict=False)]  # type: ignore[operator]
    db.close()
    return {"workers": k, "files": len(clips), "wall_s": wall, "submit_s": submit_s,
            "gap_s": statistics.mean(gaps) if gaps else float("nan"),
            "violations": sum(j.violations or 0 for j in jobs)}  # fmt: skip


def _delete_queue(name: str) -> None:
    import pika

    from pipeline.jobs.taskqueue import broker_url

    connection = pika.BlockingConnection(pika.URLParameters(broker_url(None)))
    channel = connection.channel()
    for queue in (name, f"{name}.DQ", f"{name}.XQ"):
        channel.queue_delete(queue)
    connection.close()


def table(results: list[dict[str, float]], video_s: float) -> str:
    base = results[0]["wall_s"]
    lines = ["| workers | files | wall (s) | files / min | video s / wall s | speed-up | submit / file (s) "
             "| gap between files (s) | violations |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        lines.append(
            f"| {r['workers']:.0f} | {r['files']:.0f} | {r['wall_s']:.1f} | {60 * r['files'] / r['wall_s']:.2f} | "
            f"{video_s / r['wall_s']:.3f} | {base / r['wall_s']:.2f}x | {r['submit_s']:.1f} | {r['gap_s']:.2f} | "
            f"{r['violations']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--db", default=None, help="URL template with {k} (one empty database per worker count)")
    parser.add_argument("--clips", type=Path, default=Path(tempfile.gettempdir()) / "trafficcam-archive-bench")
    parser.add_argument("--write", action="store_true", help="write the table into BENCHMARKS.md")
    args = parser.parse_args()
    load = os.getloadavg()
    clips = render_clips(args.clips, args.files, args.seconds)
    video_s = args.files * args.seconds
    single = baseline(clips, Path(tempfile.mkdtemp(prefix="archive-0-")), args.db.format(k=0) if args.db else None)
    print(json.dumps({"process_walls_s": single}), flush=True)
    results = []
    for k in (int(x) for x in args.workers.split(",")):
        data = Path(tempfile.mkdtemp(prefix=f"archive-{k}-"))
        results.append(run_workers(k, clips, data, args.db.format(k=k) if args.db else None))
        print(json.dumps(results[-1]), flush=True)
    text = (
        f"`benchmarks/archive.py --files {args.files} --seconds {args.seconds:g}`: {args.files} rendered 640x360 "
        f"clips of {args.seconds:g} s at 10 fps, demo weights, on {os.cpu_count()} cores (load average "
        f"{load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end), database "
        f"{'PostgreSQL' if args.db and args.db.startswith('postgresql') else 'SQLite'}, RabbitMQ here.\n\n"
        + table(results, video_s)
        + f"\n\nOne `process_video` per file, one after another in one process, no queue: "
        f"{', '.join(f'{s:.1f}' for s in single)} s (median {statistics.median(single):.1f} s; the first one "
        f"loads the model cold). With one worker the queue added "
        f"{results[0]['wall_s'] / args.files - statistics.median(single):+.1f} s a file "
        f"(one worker's wall per file minus that median)."
    )
    print(text)
    if args.write:
        replace_section(ROOT / "BENCHMARKS.md", SECTION, text)


if __name__ == "__main__":
    main()
