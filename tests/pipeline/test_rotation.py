"""Rotation metadata: a video stored sideways comes upright, and its scene is turned with it.

The clip is made here with ffmpeg: a white block at a known place of the stored frame, and a
display matrix saying "turn by 90 degrees" (as phones write it).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from pipeline.rotation import match_rotation, rotate_scene
from pipeline.scene import Scene
from pipeline.source import VideoFile

W, H = 320, 240
BLOCK = (20, 10, 60, 40)  # x1, y1, x2, y2 in the stored frame


def turned_clip(tmp_path: Path, display_rotation: int) -> Path:
    raw = tmp_path / "stored.avi"
    writer = cv2.VideoWriter(str(raw), cv2.VideoWriter_fourcc(*"MJPG"), 5, (W, H))
    image = np.zeros((H, W, 3), np.uint8)
    image[BLOCK[1] : BLOCK[3], BLOCK[0] : BLOCK[2]] = 255
    for _ in range(5):
        writer.write(image)
    writer.release()
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    plain, turned = tmp_path / "plain.mp4", tmp_path / f"turned{display_rotation}.mp4"
    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-i", str(raw), "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    str(plain)], check=True)  # fmt: skip
    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-display_rotation", str(display_rotation), "-i", str(plain),
                    "-c", "copy", str(turned)], check=True)  # fmt: skip
    return turned


def scene_on_stored_frame() -> Scene:
    return Scene.model_validate({
        "camera": "phone", "frame_size": [W, H],
        "signals": [{"id": "main", "box": list(BLOCK)}],
        "stop_lines": [{"id": "s", "line": [[0, 200], [320, 200]], "signal": "main", "approach": [0, -1]}],
    })  # fmt: skip


@pytest.mark.parametrize("display_rotation", [90, 270])
def test_a_turned_video_comes_upright_and_its_scene_is_turned_with_it(tmp_path, display_rotation):
    source = VideoFile(turned_clip(tmp_path, display_rotation))
    assert (source.width, source.height) == (H, W)  # upright: 240 wide, 320 high
    assert source.rotation in (90, 270)
    frame = next(iter(source.frames()))
    source.close()
    warnings: list[str] = []
    scene = match_rotation(scene_on_stored_frame(), source.width, source.height, source.rotation, warnings)
    assert scene.frame_size == (H, W) and warnings
    x1, y1, x2, y2 = (int(round(v)) for v in scene.signals[0].box)
    block = frame.image[y1:y2, x1:x2]
    assert block.size and block.mean() > 200, "the signal box is not on the white block of the upright frame"
    assert frame.image.mean() < 60  # and the block is all there is


def test_a_scene_drawn_on_the_upright_frame_is_kept():
    upright = rotate_scene(scene_on_stored_frame(), 90)
    assert match_rotation(upright, H, W, 90, []) is upright


def test_turning_four_times_is_the_identity_and_directions_turn_too():
    scene = scene_on_stored_frame()
    turned = rotate_scene(scene, 90)
    assert turned.stop_lines[0].approach == (1, 0)  # "up" in the stored frame is "right" turned clockwise
    again = rotate_scene(rotate_scene(rotate_scene(turned, 90), 90), 90)
    assert again.signals[0].box == pytest.approx(scene.signals[0].box)
    flat = [c for p in again.stop_lines[0].line for c in p]
    assert flat == pytest.approx([c for p in scene.stop_lines[0].line for c in p])
