"""Soak: `trafficcam watch` on a looped clip for an hour; does its memory stay flat?

    .venv/bin/python benchmarks/soak.py [--minutes 60] [--shared ../shared] [--weights PATH]

Starts the daemon as its own process on a cameras.yaml whose one camera plays the Hanoi clip
in a loop (at its own frame rate, as a camera would send it), samples the daemon's RSS and
its /health counters every minute, then stops it with SIGTERM and times the shutdown. The
table, the RSS growth per hour (least-squares slope after the first quarter of the run, when
caches and the ring buffer have filled) and the shutdown go into BENCHMARKS.md, section
"Soak"; the section is rewritten after every sample, so an interrupted run still reports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.report import replace_section  # noqa: E402

TITLE = "Soak: `trafficcam watch` on a looped clip"
CLIP = ("hanoi_ltk_hangbai/16h30.25.9.22.mp4", "hanoi_ltk_hangbai/scene.yaml")
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health(port: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
            return json.loads(r.read())
    except OSError:
        return {}


def slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (minutes, MB) points, in MB per hour."""
    if len(points) < 3:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    return 60.0 * sum((x - mx) * (y - my) for x, y in points) / sxx


def render(rows: list[dict], args: argparse.Namespace, done: dict | None) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        f"`benchmarks/soak.py --minutes {args.minutes:g}` on {platform.node()} ({os.cpu_count()} cores, {cpu}, "
        f"Python {platform.python_version()}, niced {os.nice(0)}), started {rows[0]['started'] if rows else '?'}. "
        "One camera: the Hanoi clip (640x480, 6 fps, 64 s) looped by the file source at its own rate, every frame "
        "offered to the detector (`weights " + Path(args.weights).name + "`). RSS is the daemon process's resident "
        "memory; counters come from its /health.",
        "",
        "| minute | RSS MB | frames read | analysed | dropped | violations | run id |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['minute']:.1f} | {r['rss_mb']:.1f} | {r['frames_read']} | {r['frames_analysed']} | "
            f"{r['frames_dropped']} | {r['violations']} | {r['run_id']} |"
        )
    if rows:
        first, last = rows[0], rows[-1]
        settled = [(r["minute"], r["rss_mb"]) for r in rows if r["minute"] >= max(1.0, rows[-1]["minute"] / 4)]
        slope = slope_per_hour(settled)
        peak = max(r["rss_mb"] for r in rows)
        lines += [
            "",
            f"RSS {first['rss_mb']:.1f} MB at minute {first['minute']:.0f}, {last['rss_mb']:.1f} MB at minute "
            f"{last['minute']:.0f} (peak {peak:.1f} MB). Growth after the first quarter of the run: "
            + (f"**{slope:+.1f} MB per hour**" if slope is not None else "not enough samples yet")
            + f" (least squares over {len(settled)} samples).",
        ]
    if done is None:
        lines += ["", "_Running: this section is rewritten after every sample._"]
    else:
        lines += [
            "",
            f"SIGTERM at the end: exit code {done['exit_code']}, stopped in {done['stop_s']:.1f} s; "
            f"{done['violations_db']} violations in the database, {done['evidence_dirs']} evidence folders, "
            f"{done['partial_dirs']} left `.partial`.",
        ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--sample-s", type=float, default=60.0)
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    p.add_argument("--weights", default=None)
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = p.parse_args()
    args.weights = args.weights or str(args.shared / "models" / "yolov8n_int8.onnx")
    data = args.data_dir or Path(tempfile.mkdtemp(prefix="trafficcam-soak-"))
    data.mkdir(parents=True, exist_ok=True)
    video, scene = (args.shared / "clips" / c for c in CLIP)
    cameras = data / "cameras.yaml"
    cameras.write_text(f"cameras:\n  - id: soak\n    source: {video}\n    scene: {scene}\n    loop: true\n")
    port = free_port()
    cmd = [sys.executable, "-m", "pipeline.cli", "watch", "--cameras", str(cameras), "--data-dir", str(data),
           "--weights", args.weights, "--http", f"127.0.0.1:{port}", "--quiet"]  # fmt: skip
    log = (data / "watch.log").open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    ps = psutil.Process(proc.pid)
    print(f"soak: daemon pid {proc.pid}, data {data}, log {data / 'watch.log'}, health http://127.0.0.1:{port}/health")
    t0 = time.monotonic()
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    rows: list[dict] = []
    samples = (data / "samples.jsonl").open("a")
    try:
        while time.monotonic() - t0 < args.minutes * 60:
            time.sleep(max(0.0, args.sample_s * (len(rows) + 1) - (time.monotonic() - t0)))
            if proc.poll() is not None:
                raise SystemExit(f"the daemon exited early with {proc.returncode}; see {data / 'watch.log'}")
            h = health(port)
            cams = h.get("cameras") or [{}]
            c = cams[0]
            row = {
                "started": started, "minute": (time.monotonic() - t0) / 60, "rss_mb": ps.memory_info().rss / 2**20,
                "frames_read": c.get("frames_read", 0), "frames_analysed": c.get("frames_analysed", 0),
                "frames_dropped": c.get("frames_dropped", 0), "violations": sum((c.get("violations") or {}).values()),
                "run_id": c.get("run_id"),
            }  # fmt: skip
            rows.append(row)
            samples.write(json.dumps(row) + "\n")
            samples.flush()
            print(f"soak: minute {row['minute']:.0f}: RSS {row['rss_mb']:.1f} MB, {row['frames_analysed']} analysed, "
                  f"{row['violations']} violations", flush=True)  # fmt: skip
            replace_section(args.out, TITLE, render(rows, args, None))
    finally:
        t_stop = time.monotonic()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        stop_s = time.monotonic() - t_stop
    done = {
        "exit_code": code, "stop_s": stop_s, "violations_db": _count_violations(data),
        "evidence_dirs": sum(1 for d in (data / "evidence").glob("*/*/*") if not d.name.endswith(".partial")),
        "partial_dirs": sum(1 for _ in (data / "evidence").glob("*/*/*.partial")),
    }  # fmt: skip
    replace_section(args.out, TITLE, render(rows, args, done))
    print(f"soak: done, exit {code}, stopped in {stop_s:.1f} s; wrote {args.out}")


def _count_violations(data: Path) -> int:
    import sqlite3

    db = data / "trafficcam.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as con:
        return con.execute("select count(*) from violations").fetchone()[0]


if __name__ == "__main__":
    main()
