"""The check set of the kept score: non-Vietnamese frames, night-styled frames, rendered night frames.

`build_checkset(clips_root, out)` writes JPEGs and an `index.txt` of `style path` lines:
- `day`: every `every_s`-th second (from `offset_s`) of each clip in `CLIPS`, taken from
  `../shared/clips` — roads in Nepal, Taiwan, China and the US, none of them Vietnamese;
- `night`: the same frames darkened, with headlight glare, sensor noise and motion blur
  (`night_style`), seeded so the set is the same on every machine;
- `rendered-night`: night frames of the synthetic junction (`pipeline.sample`), if importable.

Training recipes must not use these frames: `is_check_frame` says which frame indices of a clip
are in the set.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# non-Vietnamese clips of ../shared/clips: (folder, video file)
CLIPS: tuple[tuple[str, str], ...] = (
    ("beijing_intersection", "ua_detrac.mp4"),
    ("nepal_army_jeep_right", "army_jeep_right.mp4"),
    ("nepal_bike_rider_extreme_right", "bike_rider_extreme_right.mp4"),
    ("nepal_gray_car_left", "gray_car_left.mp4"),
    ("nepal_white_car_right", "white_car_right.mp4"),
    ("nepal_yellow_van_right", "yellow_van_right.mp4"),
    ("taiwan_highway", "traffic1.mp4"),
    ("us_cspr003_redlight", "demo1.mp4"),
    ("us_cspr012_redlight", "demo3.mp4"),
    ("us_fredmeyer_redlight", "demo4.mp4"),
)


@dataclass(frozen=True)
class CheckSetSpec:
    every_s: float = 2.0
    offset_s: float = 0.5
    night_seed: int = 17
    rendered_night_seeds: tuple[int, ...] = (31, 32)
    rendered_every_s: float = 3.0
    rendered_seconds: float = 24.0


def check_frames(fps: float, frames: int, spec: CheckSetSpec = CheckSetSpec()) -> list[int]:
    """Frame indices of a clip of `frames` frames at `fps` that belong to the check set."""
    out, t = [], spec.offset_s
    while True:
        index = int(round(t * fps))
        if index >= frames:
            return out
        out.append(index)
        t += spec.every_s


def is_check_frame(index: int, fps: float, frames: int, spec: CheckSetSpec = CheckSetSpec()) -> bool:
    """Whether frame `index` of a clip is a check frame (training recipes skip these)."""
    return index in check_frames(fps, frames, spec)


def night_style(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Make a day frame look like night CCTV: dark, blue-ish, headlight glare, noise, some blur."""
    img = image.astype(np.float32) / 255.0
    img = np.power(img, 2.2) * rng.uniform(0.35, 0.55)  # darker, with the mid-tones crushed
    img[..., 0] *= 1.1  # a cold cast (BGR)
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(int(rng.integers(2, 5))):  # headlights and street lamps: soft bright blobs
        cx, cy = rng.uniform(0, w), rng.uniform(0.3 * h, h)
        r = rng.uniform(0.02, 0.06) * max(w, h)
        img += (0.9 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)))[..., None]
    img += rng.normal(0.0, 0.025, img.shape).astype(np.float32)  # sensor noise at high gain
    out = np.clip(img * 255.0, 0, 255).astype(np.uint8)
    k = int(rng.integers(1, 4)) * 2 + 1  # horizontal motion blur of a long exposure
    kernel = np.zeros((k, k), np.float32)
    kernel[k // 2, :] = 1.0 / k
    return cv2.filter2D(out, -1, kernel)


VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".ts")


def clip_video(clip_dir: Path) -> Path | None:
    """The video of a clip folder (the first by name), or None when it has none."""
    if not clip_dir.is_dir():
        return None
    videos = sorted(p for p in clip_dir.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    return videos[0] if videos else None


def frames_at(video: Path, pick: Callable[[float, int], Sequence[int]]) -> Iterator[tuple[int, np.ndarray]]:
    """The frames of `video` whose indices `pick(fps, frame_count)` chooses, in that order."""
    cap = cv2.VideoCapture(str(video))
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        for index in pick(fps, int(cap.get(cv2.CAP_PROP_FRAME_COUNT))):
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = cap.read()
            if ok:
                yield index, frame
    finally:
        cap.release()


def build_checkset(clips_root: Path, out: Path, spec: CheckSetSpec = CheckSetSpec()) -> Path:
    """Write the check set's images under `out` and return its index (`style path` per line).

    Raises:
        FileNotFoundError: none of the clips is under `clips_root`.
    """
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.night_seed)
    lines: list[str] = []
    found = 0
    for folder, name in CLIPS:
        video = clips_root / folder / name
        if not video.is_file():
            continue
        found += 1
        for index, frame in frames_at(video, lambda fps, n: check_frames(fps, n, spec)):
            stem = f"{folder}_{index:05d}"
            for style, image in (("day", frame), ("night", night_style(frame, rng))):
                path = out / f"{stem}_{style}.jpg"
                cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
                lines.append(f"{style} {path.name}")
    if not found:
        names = ", ".join(f for f, _ in CLIPS)
        raise FileNotFoundError(f"none of the check set's clips ({names}) is under {clips_root}")
    lines += _rendered_night(out, spec)
    index_file = out / "index.txt"
    index_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return index_file


def _rendered_night(out: Path, spec: CheckSetSpec) -> list[str]:
    try:
        from pipeline.sample.render import Renderer, SampleSpec
    except ImportError:  # detector/ used without the pipeline package
        return []
    lines = []
    for seed in spec.rendered_night_seeds:
        sample = SampleSpec(seconds=spec.rendered_seconds, fps=10.0, width=960, height=540, night=True, seed=seed)
        step = max(1, int(math.floor(spec.rendered_every_s * sample.fps)))
        for frame in Renderer(sample).frames(step=step):
            if not frame.users:
                continue
            path = out / f"rendered_s{seed}_{frame.index:04d}_night.jpg"
            cv2.imwrite(str(path), frame.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
            lines.append(f"rendered-night {path.name}")
    return lines


def read_index(index_file: Path) -> list[tuple[str, Path]]:
    """(style, image path) pairs of a check set index written by `build_checkset`."""
    out = []
    for n, line in enumerate(index_file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2:
            raise ValueError(f"{index_file}:{n}: expected 'style image', got {line!r}")
        out.append((parts[0], index_file.parent / parts[1]))
    return out
