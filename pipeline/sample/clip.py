"""Write a rendered sample clip: the video, its scene file and its truth, side by side."""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml

from pipeline.sample.render import Renderer, SampleSpec, UserBox
from pipeline.sample.truth import TrueViolation, find_violations
from pipeline.scene import parse_scene

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]


@dataclass
class SampleClip:
    """What `render_sample` wrote and what it knows about it."""

    spec: SampleSpec
    video: Path
    scene: Path
    truth: Path
    violations: list[TrueViolation]
    uncertain: list[TrueViolation]
    frames_sha256: str
    tracks: dict[int, list[tuple[int, UserBox]]] = field(default_factory=dict)


class VideoWriter:
    """H.264 MP4 through the FFmpeg of imageio-ffmpeg (OpenCV's mp4v where there is none)."""

    def __init__(self, path: Path, width: int, height: int, fps: float, crf: int = 18):
        self.path = path
        self._proc: subprocess.Popen[bytes] | None = None
        self._cv: cv2.VideoWriter | None = None
        try:
            import imageio_ffmpeg

            exe: str | None = imageio_ffmpeg.get_ffmpeg_exe()
        except (ImportError, RuntimeError):
            exe = shutil.which("ffmpeg")
        if exe:
            cmd = [exe, "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
                   "-s", f"{width}x{height}", "-framerate", f"{fps:g}", "-i", "-", "-c:v", "libx264",
                   "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p", "-threads", "1",
                   "-movflags", "+faststart", str(path)]
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        else:
            self._cv = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))

    def write(self, image: np.ndarray) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.write(np.ascontiguousarray(image).tobytes())
        else:
            assert self._cv is not None
            self._cv.write(image)

    def close(self) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
            if self._proc.wait() != 0:
                raise OSError(f"ffmpeg could not write {self.path}: {err.strip()[-300:]}")
        elif self._cv is not None:
            self._cv.release()


def render_sample(
    spec: SampleSpec, video: Path, progress: ProgressFn | None = None, camera_id: str = "sample-junction"
) -> SampleClip:
    """Render `spec` to `video` and write `scene.yaml` and `truth.yaml` in the same folder.

    The truth comes from the boxes the renderer drew (see pipeline/sample/truth.py).
    """
    video = Path(video)
    video.parent.mkdir(parents=True, exist_ok=True)
    renderer = Renderer(spec)
    scene_data = renderer.layout.scene(camera_id)
    scene = parse_scene(scene_data, "<sample scene>")
    digest = hashlib.sha256()
    tracks: dict[int, list[tuple[int, UserBox]]] = {}
    writer = VideoWriter(video, spec.width, spec.height, spec.fps)
    try:
        for frame in renderer.frames():
            writer.write(frame.image)
            digest.update(frame.image.tobytes())
            for user in frame.users:
                tracks.setdefault(user.agent_id, []).append((frame.index, user))
            if progress is not None:
                progress(frame.index + 1, spec.frames)
    finally:
        writer.close()
    timeline = signal_timeline(spec)
    violations, uncertain = find_violations(tracks, scene, {"main": timeline}, spec.fps)
    scene_path, truth_path = video.parent / "scene.yaml", video.parent / "truth.yaml"
    when = "night" if spec.night else "day"
    _write_yaml(scene_path, scene_data,
                f"# Synthetic junction rendered by trafficcam ({when}, seed {spec.seed}), {spec.width}x{spec.height}.\n"
                "# Written by `trafficcam sample render` from the renderer's own camera model.\n")
    truth = {
        "video": video.name,
        "fps": spec.fps,
        "frames": spec.frames,
        "signals": {"main": timeline},
        "violations": [v.as_dict() for v in violations],
        "uncertain": [v.as_dict() for v in uncertain],
    }
    _write_yaml(truth_path, truth,
                f"# Exact truth of {video.name} (seed {spec.seed}, {when}): from the boxes the renderer drew.\n"
                "# Frames are 0-based; a violation's frame is the first frame its anchor is past the line.\n")
    return SampleClip(spec, video, scene_path, truth_path, violations, uncertain, digest.hexdigest(), tracks)


def exact_truth(spec: SampleSpec, camera_id: str = "sample-junction") -> SampleClip:
    """The truth of `spec` without drawing or writing anything (paths are left empty)."""
    renderer = Renderer(spec)
    scene = parse_scene(renderer.layout.scene(camera_id), "<sample scene>")
    tracks: dict[int, list[tuple[int, UserBox]]] = {}
    for frame in renderer.frames(draw=False):
        for user in frame.users:
            tracks.setdefault(user.agent_id, []).append((frame.index, user))
    violations, uncertain = find_violations(tracks, scene, {"main": signal_timeline(spec)}, spec.fps)
    return SampleClip(spec, Path(), Path(), Path(), violations, uncertain, "", tracks)


def signal_timeline(spec: SampleSpec) -> list[dict[str, object]]:
    """Change points of the signal in frames: the colour at frame i is the plan's colour at i / fps."""
    changes: list[dict[str, object]] = []
    for i in range(spec.frames):
        colour = spec.plan.colour_at(i / spec.fps)
        if not changes or changes[-1]["colour"] != colour:
            changes.append({"start_frame": i, "colour": colour})
    return changes


def _write_yaml(path: Path, data: object, header: str) -> None:
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=120)
    path.write_text(header + text, encoding="utf-8")
