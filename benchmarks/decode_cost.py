"""What one 1080p stream costs before the detector: H.264 vs H.265 decode, and what skipping saves.

    .venv/bin/python benchmarks/decode_cost.py [--frames 240] [--shared ../shared] [--output BENCHMARKS.md]

Encodes the shared 1920x1080 clip (vn_ptz_stopline_plates, 30 fps) with FFmpeg as H.264 (libx264)
and H.265 (libx265), CRF 23 / 28, then reads each with OpenCV's FFmpeg backend, the stream
reader's own path (pipeline/daemon/streams.py), and times per frame: `grab()` (demux and decode:
OpenCV's FFmpeg backend decodes every frame in grab), `retrieve()` (the conversion to BGR) and
the JPEG encoding every frame gets for the evidence ring buffer. Wall and CPU time per frame
(decoding uses several threads). Writes BENCHMARKS.md, section "Decode cost per 1080p stream".
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import imageio_ffmpeg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.report import replace_section  # noqa: E402
from pipeline.source import JPEG_QUALITY  # noqa: E402

TITLE = "Decode cost per 1080p stream"
CLIP = ("vn_ptz_stopline_plates", "traffic.mp4")
CODECS = {"H.264": ["-c:v", "libx264", "-preset", "fast", "-crf", "23"],
          "H.265": ["-c:v", "libx265", "-preset", "fast", "-crf", "28", "-x265-params", "log-level=error"]}  # fmt: skip


def encode(clip: Path, codec: str, work: Path) -> Path:
    out = work / f"1080p-{codec.replace('.', '')}.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(clip), *CODECS[codec],
                    "-pix_fmt", "yuv420p", "-an", str(out)], check=True)  # fmt: skip
    return out


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def time_reads(video: Path, frames: int) -> dict[str, float]:
    """ms per frame, wall and CPU, of grab, retrieve and JPEG encoding."""
    cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    out = {k: 0.0 for k in ("grab", "grab_cpu", "retrieve", "retrieve_cpu", "jpeg", "jpeg_cpu")}
    n = 0
    while n < frames:
        w, c = time.perf_counter(), cpu()
        if not cap.grab():
            cap.release()
            cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)  # loop the clip
            continue
        w2, c2 = time.perf_counter(), cpu()
        ok, image = cap.retrieve()
        w3, c3 = time.perf_counter(), cpu()
        cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        w4, c4 = time.perf_counter(), cpu()
        out["grab"] += w2 - w
        out["grab_cpu"] += c2 - c
        out["retrieve"] += w3 - w2
        out["retrieve_cpu"] += c3 - c2
        out["jpeg"] += w4 - w3
        out["jpeg_cpu"] += c4 - c3
        n += 1
    cap.release()
    return {k: 1000 * v / n for k, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=240, help="Frames timed per codec.")
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    p.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    args = p.parse_args()
    clip = args.shared / "clips" / CLIP[0] / CLIP[1]
    if not clip.exists():
        p.error(f"needs {clip} (the shared clips; --shared DIR)")
    work = Path(tempfile.mkdtemp(prefix="decode-cost-"))
    load = os.getloadavg()[0]
    rows = []
    for codec in CODECS:
        video = encode(clip, codec, work)
        time_reads(video, 10)  # warm the caches
        t = time_reads(video, args.frames)
        mb = video.stat().st_size / 1e6
        rows.append(
            f"| {codec} | {mb:.1f} | {t['grab']:.1f} ({t['grab_cpu']:.1f}) | {t['retrieve']:.1f} "
            f"({t['retrieve_cpu']:.1f}) | {t['jpeg']:.1f} ({t['jpeg_cpu']:.1f}) "
            f"| {(t['grab_cpu'] + t['retrieve_cpu'] + t['jpeg_cpu']) * 25 / 1000:.2f} |"
        )
        print(rows[-1], flush=True)
    body = [
        f"`benchmarks/decode_cost.py --frames {args.frames}`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on "
        f"{platform.node()} ({os.cpu_count()} cores, {platform.processor() or platform.machine()}), load average "
        f"{load:.1f} before (the machine is shared). The {CLIP[0]} clip (1920x1080, {clip.stat().st_size / 1e6:.1f} "
        "MB as shipped) re-encoded with FFmpeg, read with OpenCV's FFmpeg backend as the stream reader reads. "
        "ms per frame, wall (CPU in brackets, all threads):",
        "",
        "| codec | file MB | grab (demux + decode) | retrieve (to BGR) | JPEG for the ring buffer "
        "| cores for a 25 fps stream |",
        "|---|---:|---|---|---|---:|",
        *rows,
    ]
    replace_section(args.output, TITLE, "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    main()
