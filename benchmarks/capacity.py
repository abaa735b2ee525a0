"""Cameras per machine: how many looped cameras one `trafficcam watch` keeps at 5 analysed fps.

    .venv/bin/python benchmarks/capacity.py [--sizes 640x480,1920x1080] [--detectors shared,per-camera]
        [--cameras 1,2,4] [--seconds 30] [--weights NAME] [--shared ../shared] [--output BENCHMARKS.md]

For each frame size and detector arrangement, starts the real daemon (`python -m pipeline.cli
watch`, its own process) with N cameras (`--cameras`), each playing the Hanoi clip in a loop at the
clip's own rate (6 fps, the file source paces it as a camera would send it) and asking for
`analysis_fps: 5`. 640x480 is the clip as recorded; 1920x1080 is the same clip scaled with FFmpeg
(H.264, same frame rate), so only the pixels differ. Once every camera has analysed frames, it
counts each camera's analysed frames (/health) and the daemon's CPU time over `--seconds`. The
cameras held is the largest N where every camera kept `--floor` (4.75) analysed fps; the total
analysed fps shows what the machine gives when it holds fewer. Before each run it records the load average:
other work on the machine counts.
Writes BENCHMARKS.md, section "Cameras per machine" (with `--weights`, a section of its own),
rewritten after each run.
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import imageio_ffmpeg
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.report import replace_section  # noqa: E402

TITLE = "Cameras per machine"
CLIP = "hanoi_ltk_hangbai"
VIDEO = "16h30.25.9.22.mp4"
ANALYSIS_FPS = 5.0


@dataclass
class Run:
    size: str
    detector: str
    cameras: int
    fps: list[float]
    cpu_cores: float
    load: tuple[float, float, float]
    note: str = ""

    @property
    def held(self) -> bool:
        return bool(self.fps) and len(self.fps) == self.cameras and min(self.fps) >= FLOOR


FLOOR = 4.75


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health(port: int) -> dict[str, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
            return {c["id"]: c for c in json.loads(r.read())["cameras"]}
    except OSError:
        return {}


def video_for(size: str, clip: Path, work: Path) -> Path:
    if size == "640x480":
        return clip
    out = work / f"hanoi-{size}.mp4"
    if not out.exists():
        w, h = size.split("x")
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(clip), "-vf",
                        f"scale={w}:{h}", "-c:v", "libx264", "-preset", "fast", "-crf", "23", "-pix_fmt", "yuv420p",
                        "-an", str(out)], check=True)  # fmt: skip
    return out


def measure(size: str, detector: str, n: int, video: Path, scene: Path, args: argparse.Namespace) -> Run:
    """One daemon with `n` cameras on `video`: each camera's analysed fps and the daemon's CPU."""
    work = Path(tempfile.mkdtemp(prefix=f"capacity-{size}-{detector}-{n}-"))
    cameras = work / "cameras.yaml"
    cameras.write_text("cameras:\n" + "".join(
        f"  - {{id: cam{i}, source: '{video}', scene: '{scene}', loop: true, analysis_fps: {ANALYSIS_FPS:g}, "
        "min_fps: 0.5}\n" for i in range(n)
    ))  # fmt: skip
    port = free_port()
    cmd = [sys.executable, "-m", "pipeline.cli", "watch", "--cameras", str(cameras), "--data-dir", str(work / "data"),
           "--http", f"127.0.0.1:{port}", "--min-free-mb", "0", "--quiet"]  # fmt: skip
    if args.weights:
        cmd += ["--weights", args.weights]
    if detector == "shared":
        cmd.append("--shared-detector")
    elif detector.startswith("shared-"):  # shared-K: K inference threads
        cmd += ["--shared-detector", "--detector-workers", detector.removeprefix("shared-")]
    load = os.getloadavg()
    env = {**os.environ, "YOLO_OFFLINE": "1", "TRAFFICCAM_DATABASE_URL": ""}
    log = (work / "watch.log").open("w")
    daemon = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            h = health(port)
            if len(h) == n and all(c.get("frames_analysed", 0) > 0 for c in h.values()):
                break
            if daemon.poll() is not None:
                return Run(size, detector, n, [], 0.0, load, f"daemon exited {daemon.returncode}, see {work}")
            time.sleep(0.5)
        else:
            return Run(size, detector, n, [], 0.0, load, "not every camera analysed a frame within 180 s")
        time.sleep(args.settle)  # past the model load and the first sessions' frame-rate probes
        proc = psutil.Process(daemon.pid)
        before, cpu0, t0 = health(port), proc.cpu_times(), time.monotonic()
        time.sleep(args.seconds)
        after, cpu1, t1 = health(port), proc.cpu_times(), time.monotonic()
        dt = t1 - t0
        fps = [(after[c]["frames_analysed"] - before[c]["frames_analysed"]) / dt for c in sorted(after)]
        cores = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / dt
        return Run(size, detector, n, fps, cores, load)
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(90)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


def render(runs: list[Run], args: argparse.Namespace, started: str) -> str:
    lines = [
        f"`benchmarks/capacity.py {' '.join(sys.argv[1:])}`".replace(" `", "`"),
        "",
        f"Measured {started} UTC on {platform.node()} ({os.cpu_count()} cores, "
        f"{platform.processor() or platform.machine()}), weights `{args.weights or 'the default'}`. Each camera "
        f"plays the Hanoi clip looped at its own 6 fps (1920x1080: the same clip scaled with FFmpeg, H.264) and "
        f"asks for {ANALYSIS_FPS:g} analysed fps; each row is one `trafficcam watch` process with N cameras, "
        f"measured for {args.seconds:g} s after every camera had analysed frames. CPU is the daemon process's "
        "(user + system, in cores; 1.00 = one core busy). **The machine is shared**: the load average before "
        "each run is in the table, and a load above 2 means other work took cores from the daemon.",
        "",
        "| size | detector | cameras | analysed fps per camera (min / mean) | total analysed fps | daemon CPU (cores) "
        f"| CPU per camera | load before | all >= {FLOOR:.2f} fps |",
        "|---|---|---:|---|---:|---:|---:|---|---|",
    ]
    for r in runs:
        if not r.fps:
            lines.append(f"| {r.size} | {r.detector} | {r.cameras} | {r.note} | | | | {r.load[0]:.1f} | no |")
            continue
        lines.append(
            f"| {r.size} | {r.detector} | {r.cameras} | {min(r.fps):.2f} / {sum(r.fps) / len(r.fps):.2f} "
            f"| {sum(r.fps):.1f} | {r.cpu_cores:.2f}"
            f" | {r.cpu_cores / r.cameras:.2f} | {r.load[0]:.1f} | {'yes' if r.held else 'no'} |"
        )
    held: dict[tuple[str, str], int] = {}
    for r in runs:
        held.setdefault((r.size, r.detector), 0)
        if r.held:
            held[(r.size, r.detector)] = max(held[(r.size, r.detector)], r.cameras)
    if held:
        lines += ["", f"Cameras held (largest N where every camera kept {FLOOR:.2f} analysed fps):", ""]
        lines += [f"- {size}, {det} detector: **{n}**" for (size, det), n in held.items()]
    return "\n".join(lines)


def main() -> None:
    global FLOOR
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="640x480,1920x1080", help="Comma-separated: 640x480 and/or 1920x1080.")
    p.add_argument(
        "--detectors",
        default="shared,shared-1,per-camera",
        help="Comma-separated: shared (the default pool: one inference thread per core), shared-K "
        "(K inference threads), per-camera (the daemon's default: a detector per camera).",
    )
    p.add_argument("--seconds", type=float, default=30.0, help="Measured seconds per run.")
    p.add_argument("--settle", type=float, default=5.0, help="Seconds after start-up before measuring.")
    p.add_argument("--cameras", default="1,2,4", help="Comma-separated numbers of cameras, one run each.")
    p.add_argument("--floor", type=float, default=FLOOR, help="Analysed fps every camera must keep.")
    p.add_argument("--weights", default=None, help="Manifest name or path (default: the daemon's default).")
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    p.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    args = p.parse_args()
    FLOOR = args.floor
    clip, scene = args.shared / "clips" / CLIP / VIDEO, args.shared / "clips" / CLIP / "scene.yaml"
    if not clip.exists():
        p.error(f"needs {clip} (the shared clips; --shared DIR)")
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    detectors = [d.strip() for d in args.detectors.split(",") if d.strip()]
    for s in sizes:
        if s not in ("640x480", "1920x1080"):
            p.error(f"--sizes: {s!r} is neither 640x480 nor 1920x1080")
    for d in detectors:
        if not (d in ("shared", "per-camera") or (d.startswith("shared-") and d[7:].isdigit() and int(d[7:]) > 0)):
            p.error(f"--detectors: {d!r} is none of shared, shared-K (K inference threads), per-camera")
    try:
        counts = sorted({int(n) for n in args.cameras.split(",") if n.strip()})
    except ValueError:
        p.error(f"--cameras: {args.cameras!r} is not a comma-separated list of numbers")
    if not counts or counts[0] < 1:
        p.error("--cameras: at least one camera per run")
    work = Path(tempfile.mkdtemp(prefix="capacity-"))
    started = f"{datetime.now(UTC):%Y-%m-%d %H:%M}"
    runs: list[Run] = []
    title = TITLE + (f", `--weights {args.weights}`" if args.weights else "")  # one section per weights
    for size in sizes:
        video = video_for(size, clip, work)
        for detector in detectors:
            for n in counts:
                run = measure(size, detector, n, video, scene, args)
                runs.append(run)
                low = f"{min(run.fps):.2f}" if run.fps else run.note
                print(f"capacity: {size} {detector} N={n}: min {low} fps, {run.cpu_cores:.2f} cores, "
                      f"load {run.load[0]:.1f}", flush=True)  # fmt: skip
                replace_section(args.output, title, render(runs, args, started))
    print(render(runs, args, started))


if __name__ == "__main__":
    main()
