"""Throughput: decode alone, the bare ultralytics loop, and `trafficcam process`, side by side.

    .venv/bin/python benchmarks/throughput.py [--shared ../shared] [--weights PATH] [--quick]

Every measurement runs in its own process (so peak RSS is its own), one after the other on the
same machine, and the table goes to stdout and into BENCHMARKS.md (section "Throughput"); a plot
of fps against frame size and analysis rate goes to benchmarks/throughput.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.report import replace_section  # noqa: E402

CLIPS = {  # name -> (video, scene) under shared/clips
    "640x480 Hanoi": ("hanoi_ltk_hangbai/16h30.25.9.22.mp4", "hanoi_ltk_hangbai/scene.yaml"),
    "960x540 Beijing": ("beijing_intersection/ua_detrac.mp4", None),
    "1280x720 Nepal": ("nepal_yellow_van_right/yellow_van_right.mp4", "nepal_yellow_van_right/scene.yaml"),
}
EMPTY_SCENE = "camera: bench\nframe_size: [{w}, {h}]\n"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_decode(video: str) -> dict:
    import cv2

    cap = cv2.VideoCapture(video)
    fps = cap.get(cv2.CAP_PROP_FPS)
    n, start = 0, time.perf_counter()
    while cap.read()[0]:
        n += 1
    wall = time.perf_counter() - start
    return {"frames": n, "analysed": 0, "wall_s": wall, "video_fps": fps, "rss_mb": _peak_rss_mb()}


def measure_bare(video: str, weights: str, analysis_fps: float | None) -> dict:
    """What a user would write: read every frame, track the analysed ones."""
    import cv2
    from ultralytics import YOLO

    model = YOLO(weights, task="detect")
    cap = cv2.VideoCapture(video)
    fps = cap.get(cv2.CAP_PROP_FPS)
    step = fps / min(analysis_fps or fps, fps)
    n = analysed = 0
    start = time.perf_counter()
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if int(n / step) != int((n - 1) / step) or n == 0:
            model.track(frame, persist=True, imgsz=320, verbose=False)
            analysed += 1
        n += 1
    wall = time.perf_counter() - start
    return {"frames": n, "analysed": analysed, "wall_s": wall, "video_fps": fps, "rss_mb": _peak_rss_mb()}


def measure_process(video: str, scene: str, weights: str, analysis_fps: float | None) -> dict:
    from pipeline.process import ProcessSettings, process_video

    with tempfile.TemporaryDirectory() as data:
        start = time.perf_counter()
        result = process_video(video, scene, ProcessSettings(weights=weights, analysis_fps=analysis_fps), Path(data))
        wall = time.perf_counter() - start
    return {
        "frames": result.frames_read, "analysed": result.frames_analysed, "wall_s": wall, "video_fps": result.fps,
        "rss_mb": _peak_rss_mb(), "stages": result.stage_s, "violations": len(result.reported),
    }  # fmt: skip


def run_child(mode: str, **kwargs: object) -> dict:
    """One measurement in a fresh interpreter."""
    cmd = [sys.executable, __file__, "--child", json.dumps({"mode": mode, **kwargs})]
    env = {**os.environ, "YOLO_OFFLINE": "1", "YOLO_VERBOSE": "False", "OPENCV_FFMPEG_LOGLEVEL": "-8"}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child(spec: dict) -> None:
    mode = spec.pop("mode")
    fn = {"decode": measure_decode, "bare": measure_bare, "process": measure_process}[mode]
    print(json.dumps(fn(**spec)))


def _scene_for(shared: Path, scene: str | None, video: str, tmp: Path) -> str:
    if scene:
        return str(shared / "clips" / scene)
    import cv2

    cap = cv2.VideoCapture(video)
    path = tmp / "empty-scene.yaml"
    path.write_text(EMPTY_SCENE.format(w=int(cap.get(3)), h=int(cap.get(4))))
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--weights", default=None, help="default: <shared>/models/yolov8n_int8.onnx")
    parser.add_argument("--quick", action="store_true", help="only the 640x480 clip, no analysis-rate sweep")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(json.loads(args.child))
        return
    weights = args.weights or str(args.shared / "models" / "yolov8n_int8.onnx")
    rows, plot_points = [], []
    clips = dict(list(CLIPS.items())[:1]) if args.quick else CLIPS
    with tempfile.TemporaryDirectory() as tmp:
        for label, (video_rel, scene_rel) in clips.items():
            video = str(args.shared / "clips" / video_rel)
            scene = _scene_for(args.shared, scene_rel, video, Path(tmp))
            decode = run_child("decode", video=video)
            bare = run_child("bare", video=video, weights=weights, analysis_fps=None)
            proc = run_child("process", video=video, scene=scene, weights=weights, analysis_fps=None)
            rows.append(_row(label, "decode alone (OpenCV)", decode, None, "benchmarks/throughput.py: cv2.read loop"))
            rows.append(_row(label, "bare ultralytics loop", bare, bare, "YOLO(w).track(frame, persist=True)"))
            rows.append(_row(label, "trafficcam process", proc, bare, "trafficcam process VIDEO --scene S --weights W"))
            rows.append(_stage_row(label, proc))
            plot_points.append((label, None, proc["frames"] / proc["wall_s"]))
            if not args.quick:
                for rate in (15.0, 10.0, 5.0):
                    if rate < decode["video_fps"]:
                        p = run_child("process", video=video, scene=scene, weights=weights, analysis_fps=rate)
                        plot_points.append((label, rate, p["frames"] / p["wall_s"]))
                        rows.append(_row(label, f"trafficcam process --analysis-fps {rate:g}", p, None,
                                         f"trafficcam process ... --analysis-fps {rate:g}"))
    table = _table(rows)
    print(table)
    plot = _plot(plot_points, ROOT / "benchmarks" / "throughput.png")
    cpu = platform.processor() or platform.machine()
    machine = f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
    body = (
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {machine}, weights {Path(weights).name} at 320 px, "
        "one process per row, one after the other. Produced by `.venv/bin/python benchmarks/throughput.py`.\n\n"
        + table + ("\n\n![fps against frame size and analysis rate](benchmarks/throughput.png)\n" if plot else "\n")
    )
    replace_section(ROOT / "BENCHMARKS.md", "Throughput", body)


def _row(clip: str, what: str, m: dict, bare: dict | None, command: str) -> list[str]:
    fps = m["frames"] / m["wall_s"]
    realtime = fps / m["video_fps"] if m["video_fps"] else 0
    ratio = f"{(bare['wall_s'] / m['wall_s']):.2f}" if bare else ""
    return [clip, what, f"{m['frames']}/{m['analysed']}", f"{fps:.1f}", f"{realtime:.2f}x", ratio,
            f"{m['rss_mb']:.0f}", f"`{command}`"]


def _stage_row(clip: str, proc: dict) -> list[str]:
    total = proc["wall_s"]
    shares = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in sorted(proc["stages"].items(), key=lambda kv: -kv[1]))
    return [clip, "process: share of wall time", "", "", "", "", "", shares]


def _table(rows: list[list[str]]) -> str:
    head = ["clip", "what", "frames read/analysed", "fps", "x real time", "speed vs bare loop", "peak RSS MB",
            "command / notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _plot(points: list[tuple[str, float | None, float]], out: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7, 4))
    for label in dict.fromkeys(p[0] for p in points):
        pts = sorted(((r or 30.0), fps) for lab, r, fps in points if lab == label)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
    ax.set_xlabel("analysis rate (frames analysed per second of video; 30 = every frame or the clip's rate)")
    ax.set_ylabel("frames processed per second")
    ax.set_title("trafficcam process throughput (COCO YOLOv8n int8, 320 px, 2-core CPU)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    return True


if __name__ == "__main__":
    main()
