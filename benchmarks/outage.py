"""Outage to enforcing: how long a camera is unwatched around a 20 s outage, MJPEG and RTSP.

    .venv/bin/python benchmarks/outage.py [--outage 20] [--shared ../shared]

Runs `trafficcam watch` (its own process) on two cameras playing the Hanoi clip: one MJPEG over
HTTP (tests/daemon/mjpeg_server.py), one RTSP H.264 from GStreamer's RTSP server
(tests/daemon/rtsp_server.py, under the system python3). Once both enforce, both servers are
killed for `--outage` seconds and started again. From the coverage ledger: when each camera
stopped enforcing (against the kill), and when it enforced again (against the restart); from
/health, when it showed enforcing again. Written to BENCHMARKS.md, section "Outage to enforcing".
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

import imageio_ffmpeg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.report import replace_section  # noqa: E402

TITLE = "Outage to enforcing"
CLIP = "hanoi_ltk_hangbai"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health(port: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
            return {c["id"]: c for c in json.loads(r.read())["cameras"]}
    except OSError:
        return {}


def start_servers(kind: str, video: Path, mjpeg_port: int, rtsp_port: int) -> list[subprocess.Popen[str]]:
    if kind == "mjpeg":
        cmd = [sys.executable, "-m", "tests.daemon.mjpeg_server", str(video), "--port", str(mjpeg_port), "--fps", "6",
               "--loop"]  # fmt: skip
    else:
        cmd = ["/usr/bin/python3", str(ROOT / "tests/daemon/rtsp_server.py"), "--port", str(rtsp_port), "--video",
               str(video), "--fps", "6"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout and "serving" in proc.stdout.readline()
    return [proc]


def wait(predicate, timeout: float, every: float = 0.2) -> float | None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.time()
        time.sleep(every)
    return None


def measure(kind: str, video: Path, scene: Path, weights: Path, outage: float) -> str:
    """One camera of `kind` alone (the machine is small): enforce, lose the server, get it back."""
    work = Path(tempfile.mkdtemp(prefix=f"outage-{kind}-"))
    mjpeg_port, rtsp_port, http_port = free_port(), free_port(), free_port()
    source = f"http://127.0.0.1:{mjpeg_port}/" if kind == "mjpeg" else f"rtsp://127.0.0.1:{rtsp_port}/cam"
    extra = ", rtsp_transport: tcp" if kind == "rtsp" else ""
    cameras = work / "cameras.yaml"
    cameras.write_text(f"cameras:\n  - {{id: {kind}, source: '{source}', scene: '{scene}', min_fps: 0.5{extra}}}\n")
    servers = start_servers(kind, video, mjpeg_port, rtsp_port)
    env = {**os.environ, "YOLO_OFFLINE": "1", "TRAFFICCAM_DATABASE_URL": ""}
    daemon = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "watch", "--cameras", str(cameras), "--data-dir",
                               str(work / "data"), "--weights", str(weights), "--http", f"127.0.0.1:{http_port}",
                               "--min-free-mb", "0"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    seen: float | None = None
    try:
        if not wait(lambda: health(http_port).get(kind, {}).get("enforcing"), 300):
            return f"| {kind} | never enforcing before the outage: {health(http_port).get(kind)} | | | |"
        for proc in servers:
            proc.kill()
            proc.wait()
        killed = time.time()
        time.sleep(outage)
        servers = start_servers(kind, video, mjpeg_port, rtsp_port)
        back = time.time()
        seen = wait(lambda: health(http_port).get(kind, {}).get("enforcing"), 180)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        for proc in servers:
            proc.kill()
    from pipeline.store.coverage import list_coverage
    from pipeline.store.db import open_database

    db = open_database(None, work / "data")
    ledger = list_coverage(db, kind)
    db.close()
    before = [p for p in ledger if p.enforcing and p.started_at.timestamp() < killed]
    down = next((p for p in ledger if not p.enforcing and before and p.started_at > before[-1].started_at), None)
    again = next((p for p in ledger if p.enforcing and down and p.started_at > down.started_at), None)

    def fmt(t: float | None) -> str:
        return "-" if t is None else f"{t:+.1f} s"

    return (
        f"| {kind} | {fmt(down.started_at.timestamp() - killed if down else None)} ({down.reason if down else '-'}) "
        f"| {fmt(again.started_at.timestamp() - back if again else None)} | {fmt(seen - back if seen else None)} "
        f"| {back - killed:.1f} s |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outage", type=float, default=20.0)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    clip = args.shared / "clips" / CLIP / "16h30.25.9.22.mp4"
    scene = args.shared / "clips" / CLIP / "scene.yaml"
    weights = args.shared / "models" / "yolov8n_int8.onnx"
    video = Path(tempfile.mkdtemp(prefix="outage-")) / "clip-x4.mp4"  # the RTSP server plays a file once
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-stream_loop", "3", "-i", str(clip),
                    "-c", "copy", str(video)], check=True)  # fmt: skip
    rows = [measure(k, clip if k == "mjpeg" else video, scene, weights, args.outage) for k in ("mjpeg", "rtsp")]
    body = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs (shared with other work), `benchmarks/outage.py --outage {args.outage:g}`, one camera "
        "at a time: its server killed once it enforced, started again after the outage. Ledger times are the "
        "periods `trafficcam cameras coverage` shows; /health shows enforcing only after it has held 10 s (the "
        "ledger dates it from when it began).",
        "",
        "| camera | ledger: not enforcing from (vs kill) | ledger: enforcing again (vs restart) "
        "| /health enforcing (vs restart) | source down (kill to restart) |",
        "|---|---|---|---|---|",
        *rows,
    ]
    replace_section(args.output, TITLE, "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    main()
