"""Evidence clip encoding: CPU time and file size per x264 preset, on real frames.

The evidence writer encodes each violation's clip on the same cores that run detection, so the
encoder's CPU time is taken from the frame loop (see BENCHMARKS.md, "Throughput"). This encodes
the same frames with `pipeline.evidence.encode_clip` at each preset and reports the encoder's CPU
time (ffmpeg is a child process: its user + system time), wall time and file size.

    .venv/bin/python benchmarks/clip_encoding.py [--shared ../shared]

The table goes to stdout and into BENCHMARKS.md (section "Evidence clip encoding").
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.report import replace_section  # noqa: E402

CLIPS = {  # label -> (video under shared/clips, first frame, seconds): a clip as long as the default package's 6 s
    "640x480 Hanoi, 6 fps": ("hanoi_ltk_hangbai/16h30.25.9.22.mp4", 100, 6.0),
    "1280x720 Nepal, 30 fps": ("nepal_yellow_van_right/yellow_van_right.mp4", 0, 4.6),
}
PRESETS = ("veryfast", "superfast", "ultrafast")


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    import cv2

    from pipeline import evidence

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()
    default = evidence.CLIP_PRESET
    head = "| clip | frames | preset | encoder CPU s | wall s | size KB |\n|---|---:|---|---:|---:|---:|"
    rows = []
    for label, (video, first, seconds) in CLIPS.items():
        cap = cv2.VideoCapture(str(args.shared / "clips" / video))
        cap.set(cv2.CAP_PROP_POS_FRAMES, first)
        fps = cap.get(cv2.CAP_PROP_FPS)
        frames = []
        while len(frames) < round(seconds * fps):
            ok, image = cap.read()
            if not ok:
                break
            frames.append(image)
        cap.release()
        for preset in PRESETS:
            evidence.CLIP_PRESET = preset
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "clip.mp4"
                cpu0, wall0 = _children_cpu_s(), time.perf_counter()
                evidence.encode_clip(frames, fps, out)
                cpu, wall = _children_cpu_s() - cpu0, time.perf_counter() - wall0
                size = out.stat().st_size / 1024
            mark = " (default)" if preset == default else ""
            rows.append(f"| {label} | {len(frames)} | {preset}{mark} | {cpu:.2f} | {wall:.2f} | {size:.0f} |")
    table = head + "\n" + "\n".join(rows)
    print(table)
    machine = f"{os.cpu_count()} cores"
    body = (
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {machine} by `.venv/bin/python benchmarks/clip_encoding.py`: "
        "the same decoded frames piped to ffmpeg's libx264 at CRF 26 as the evidence writer does, one preset "
        "after the other. The evidence writer uses the default.\n\n" + table
    )
    replace_section(ROOT / "BENCHMARKS.md", "Evidence clip encoding", body)


if __name__ == "__main__":
    main()
