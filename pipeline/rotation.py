"""Video rotation metadata: frames come upright, and a scene drawn on the stored frame follows them.

Phones and some cameras store video sideways with a display matrix saying how to turn it.
OpenCV's FFmpeg backend applies it (`CAP_PROP_ORIENTATION_AUTO`), so frames arrive as a player
shows them. A scene drawn on a frame as stored (its `frame_size` the stored width x height) would
then be stretched onto the turned frame; `match_rotation` turns it instead. A scene whose shape
already matches the turned frame was drawn on it and is kept. A half turn keeps the shape, so
there the scene is taken as drawn on the upright picture, as a player shows it.
"""

from __future__ import annotations

import logging

from pipeline.scene import Point, Scene

log = logging.getLogger(__name__)


def rotate_point(p: Point, degrees: int, width: float, height: float) -> Point:
    """Where point `p` of a `width` x `height` stored frame lands once the frame is turned
    `degrees` clockwise (OpenCV's `CAP_PROP_ORIENTATION_META`)."""
    x, y = p
    if degrees == 90:
        return (height - y, x)
    if degrees == 180:
        return (width - x, height - y)
    if degrees == 270:
        return (y, width - x)
    return p


def rotate_vector(v: Point | None, degrees: int) -> Point | None:
    if v is None:
        return None
    dx, dy = v
    return {90: (-dy, dx), 180: (-dx, -dy), 270: (dy, -dx)}.get(degrees, v)


def rotate_scene(scene: Scene, degrees: int) -> Scene:
    """`scene` (drawn on the stored frame) turned `degrees` clockwise with its frame."""
    if degrees not in (90, 180, 270):
        return scene
    w, h = scene.frame_size

    def pts(points: list[Point]) -> list[Point]:
        return [rotate_point(p, degrees, w, h) for p in points]

    def box(b: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        (x1, y1), (x2, y2) = pts([(b[0], b[1]), (b[2], b[3])])
        return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))

    return scene.model_copy(
        update={
            "frame_size": (h, w) if degrees in (90, 270) else (w, h),
            "signals": [s.model_copy(update={"box": box(s.box)}) for s in scene.signals],
            "stop_lines": [s.model_copy(update={"line": pts(s.line), "approach": rotate_vector(s.approach, degrees)})
                           for s in scene.stop_lines],
            "lanes": [lane.model_copy(update={"polygon": pts(lane.polygon),
                                              "direction": rotate_vector(lane.direction, degrees)})
                      for lane in scene.lanes],
            "solid_lines": [s.model_copy(update={"line": pts(s.line)}) for s in scene.solid_lines],
        }
    )  # fmt: skip


def match_rotation(scene: Scene, width: int, height: int, degrees: int, warnings: list[str]) -> Scene:
    """The scene for upright frames of `width` x `height` from a video stored turned by `degrees`:
    turned with them when it was drawn on the stored frame (its shape is the stored one)."""
    if degrees not in (90, 270):
        return scene
    fw, fh = scene.frame_size
    upright = abs(fw / fh - width / height) < 0.01
    stored = abs(fw / fh - height / width) < 0.01
    if upright or not stored:
        return scene
    msg = (f"scene {scene.camera} is drawn on the video as stored ({fw}x{fh}); the video is turned "
           f"{degrees} degrees for display ({width}x{height}): the scene is turned with it")  # fmt: skip
    warnings.append(msg)
    log.info(msg)
    return rotate_scene(scene, degrees)
