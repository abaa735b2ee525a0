"""Soak: `trafficcam watch` on looped cameras for an hour; does memory stay flat, is every record whole?

    .venv/bin/python benchmarks/soak.py [--minutes 60] [--source file|rtsp] [--cameras 2] [--shared ../shared]
        [--weights NAME|PATH] [--fps 5]

Starts the daemon as its own process. With `--source file` each camera is the Hanoi clip looped by the
file source at its own rate. With `--source rtsp` each camera is a real RTSP stream: GStreamer's RTSP
server (tests/daemon/rtsp_server.py, under the system python3) serves the clip, looped into one
long file by ffmpeg, as H.264; the first camera reads it over TCP, the next over UDP, and so on.
Every minute it samples the daemon's RSS and its /health counters; at the end it stops the daemon
with SIGTERM, times the shutdown, and checks the records: every violation has its evidence folder,
no `.partial` folder is left, and the coverage ledger says how much of the run each camera
enforced. The table goes into BENCHMARKS.md, section "Soak"; the section is rewritten after every
sample, so an interrupted run still reports.
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
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.report import replace_section  # noqa: E402

TITLE = "Soak: `trafficcam watch` on looped cameras"
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


def transport(i: int) -> str:
    return "tcp" if i % 2 == 0 else "udp"


def render(rows: list[dict], args: argparse.Namespace, done: dict | None) -> str:
    cpu = platform.processor() or platform.machine()
    n = args.cameras
    if args.source == "rtsp":
        what = (f"{n} RTSP camera{'s' if n > 1 else ''}: the Hanoi clip (640x480, 64 s) looped, served as H.264 at "
                f"{args.fps} fps by GStreamer's RTSP server on 127.0.0.1, read over "
                + ", ".join(transport(i).upper() for i in range(n)))  # fmt: skip
    else:
        what = f"{n} camera{'s' if n > 1 else ''}: the Hanoi clip (640x480, 6 fps, 64 s) looped by the file source"
    weights = args.weights or "the default (manifest `default:`)"
    lines = [
        f"`benchmarks/soak.py --minutes {args.minutes:g} --source {args.source} --cameras {n}` on "
        f"{platform.node()} ({os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, niced {os.nice(0)}), "
        f"started {rows[0]['started'] if rows else '?'}, load average at start {args.load_at_start}. {what}; "
        f"each camera asks for {args.fps} analysed frames a second; weights {weights}. RSS is the daemon "
        "process's resident memory; counters come from its /health, summed over the cameras.",
        "",
        "| minute | RSS MB | frames read | analysed | analysed fps per camera | dropped | violations | enforcing |",
        "|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['minute']:.1f} | {r['rss_mb']:.1f} | {r['frames_read']} | {r['frames_analysed']} | "
            f"{' / '.join(f'{f:.1f}' for f in r['fps'])} | {r['frames_dropped']} | {r['violations']} | "
            f"{r['enforcing']}/{n} |"
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
            f"{done['violations_db']} violations in the database, {done['with_evidence']} of them with their "
            f"evidence files, {done['evidence_dirs']} evidence folders in all, {done['partial_dirs']} left "
            "`.partial`. Coverage ledger, share of the run each camera was enforcing: "
            + ", ".join(f"{cam} {share:.0%}" for cam, share in done["enforcing_share"].items())
            + "; reasons it was not: "
            + (", ".join(sorted(done["reasons"])) or "none")
            + ".",
        ]
    return "\n".join(lines)


def loop_video(video: Path, minutes: float, out: Path) -> Path:
    """One file long enough for the whole run: the RTSP server plays a file once."""
    import imageio_ffmpeg

    repeats = int(minutes * 60 / 60) + 2  # the clip is about a minute
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    cmd = [exe, "-v", "error", "-y", "-stream_loop", str(repeats), "-i", str(video), "-c", "copy", "-an", str(out)]
    subprocess.run(cmd, check=True)
    return out


def start_rtsp(video: Path, port: int, fps: int) -> subprocess.Popen[str]:
    cmd = ["/usr/bin/python3", str(ROOT / "tests/daemon/rtsp_server.py"), "--port", str(port), "--video", str(video),
           "--fps", str(fps)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if "serving" not in line:
        proc.kill()
        raise SystemExit(f"the RTSP server did not start: {line.strip() or 'no output'}")
    return proc


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--sample-s", type=float, default=60.0)
    p.add_argument("--cameras", type=int, default=1)
    p.add_argument(
        "--source",
        choices=("file", "rtsp"),
        default="file",
        help="file: each camera loops the clip; rtsp: each camera is a real RTSP stream (TCP, UDP, ...).",
    )
    p.add_argument("--fps", type=int, default=5, help="Analysed frames a second each camera asks for (and RTSP rate).")
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    p.add_argument("--weights", default=None, help="Manifest name or path (default: the manifest's default).")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("soak: stopped by SIGTERM"))  # run the finally: below
    args.load_at_start = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    data = args.data_dir or Path(tempfile.mkdtemp(prefix="trafficcam-soak-"))
    data.mkdir(parents=True, exist_ok=True)
    video, scene = (args.shared / "clips" / c for c in CLIP)
    servers: list[subprocess.Popen[str]] = []
    entries = []
    if args.source == "rtsp":
        long_video = loop_video(video, args.minutes, data / "looped.mp4")
    for i in range(args.cameras):
        cam = f"soak{i + 1}"
        if args.source == "rtsp":
            port = free_port()
            servers.append(start_rtsp(long_video, port, args.fps))
            entries.append(f"  - {{id: {cam}, source: 'rtsp://127.0.0.1:{port}/cam', scene: '{scene}', "
                           f"analysis_fps: {args.fps}, rtsp_transport: {transport(i)}}}")  # fmt: skip
        else:
            entries.append(
                f"  - {{id: {cam}, source: '{video}', scene: '{scene}', analysis_fps: {args.fps}, loop: true}}"
            )
    cameras = data / "cameras.yaml"
    cameras.write_text("cameras:\n" + "\n".join(entries) + "\n")
    port = free_port()
    cmd = [sys.executable, "-m", "pipeline.cli", "watch", "--cameras", str(cameras), "--data-dir", str(data),
           "--http", f"127.0.0.1:{port}", "--quiet"]  # fmt: skip
    if args.weights:
        cmd += ["--weights", args.weights]
    env = {**os.environ, "YOLO_OFFLINE": "1", "TRAFFICCAM_DATABASE_URL": ""}
    log = (data / "watch.log").open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    ps = psutil.Process(proc.pid)
    print(f"soak: daemon pid {proc.pid}, data {data}, log {data / 'watch.log'}, health http://127.0.0.1:{port}/health")
    t0 = time.monotonic()
    started_at = datetime.now(UTC)
    started = started_at.strftime("%Y-%m-%d %H:%M UTC")
    rows: list[dict] = []
    samples = (data / "samples.jsonl").open("a")
    try:
        while time.monotonic() - t0 < args.minutes * 60:
            time.sleep(max(0.0, args.sample_s * (len(rows) + 1) - (time.monotonic() - t0)))
            if proc.poll() is not None:
                raise SystemExit(f"the daemon exited early with {proc.returncode}; see {data / 'watch.log'}")
            cams = health(port).get("cameras") or []
            row = {
                "started": started, "minute": (time.monotonic() - t0) / 60, "rss_mb": ps.memory_info().rss / 2**20,
                "frames_read": sum(c.get("frames_read", 0) for c in cams),
                "frames_analysed": sum(c.get("frames_analysed", 0) for c in cams),
                "frames_dropped": sum(c.get("frames_dropped", 0) for c in cams),
                "violations": sum(sum((c.get("violations") or {}).values()) for c in cams),
                "fps": [float(c.get("analysed_fps") or 0.0) for c in cams],
                "enforcing": sum(1 for c in cams if c.get("enforcing")),
            }  # fmt: skip
            rows.append(row)
            samples.write(json.dumps(row) + "\n")
            samples.flush()
            print(f"soak: minute {row['minute']:.0f}: RSS {row['rss_mb']:.1f} MB, {row['frames_analysed']} analysed, "
                  f"{row['violations']} violations, {row['enforcing']}/{args.cameras} enforcing",
                  flush=True)  # fmt: skip
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
        for server in servers:
            server.kill()
            server.wait()
    done = {"exit_code": code, "stop_s": stop_s, **check_records(data, started_at)}
    replace_section(args.out, TITLE, render(rows, args, done))
    print(f"soak: done, exit {code}, stopped in {stop_s:.1f} s; wrote {args.out}")


def check_records(data: Path, started_at: datetime) -> dict:
    """Every violation with its evidence folder; what the coverage ledger says of each camera."""
    from pipeline.store.coverage import list_coverage
    from pipeline.store.db import open_database
    from pipeline.store.repository import list_violations

    db = open_database(None, data)
    try:
        violations = list_violations(db)
        evidence = data / "evidence"
        with_evidence = sum(
            1 for v in violations if v.evidence and all((data / ref.path).is_file() for ref in v.evidence.values())
        )
        now = datetime.now(UTC)
        shares: dict[str, float] = {}
        reasons: set[str] = set()
        for cam in sorted(_camera_ids(data)):
            on = 0.0
            for period in list_coverage(db, cam):
                start, end = _utc(period.started_at), _utc(period.ended_at or now)
                if period.enforcing:
                    on += (end - max(start, started_at)).total_seconds()
                else:
                    reasons.add(period.reason.value)
            shares[cam] = on / max(1.0, (now - started_at).total_seconds())
    finally:
        db.close()
    return {
        "violations_db": len(violations), "with_evidence": with_evidence, "enforcing_share": shares,
        "reasons": reasons,
        "evidence_dirs": sum(1 for d in evidence.glob("*/*/*") if d.is_dir() and not d.name.endswith(".partial")),
        "partial_dirs": sum(1 for _ in evidence.glob("**/*.partial")),
    }  # fmt: skip


def _camera_ids(data: Path) -> set[str]:
    import yaml

    return {c["id"] for c in yaml.safe_load((data / "cameras.yaml").read_text())["cameras"]}


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


if __name__ == "__main__":
    main()
