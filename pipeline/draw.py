"""Drawing: scene calibration overlays and the annotated evidence frames reviewers look at."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from detector.types import Box, Colour, Observation
from pipeline.scene import Scene

# BGR
WHITE, BLACK = (255, 255, 255), (0, 0, 0)
CYAN, MAGENTA, ORANGE = (255, 255, 0), (255, 0, 255), (0, 165, 255)
SIGNAL_BGR = {
    Colour.RED: (0, 0, 255),
    Colour.YELLOW: (0, 215, 255),
    Colour.GREEN: (0, 200, 0),
    Colour.UNKNOWN: (160, 160, 160),
    Colour.DARK: (60, 60, 60),
}
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _scale(image: np.ndarray) -> float:
    """Line and text size relative to a 640-px-wide frame."""
    return max(0.6, image.shape[1] / 640)


def _pts(points: Sequence[tuple[float, float]]) -> np.ndarray:
    return np.round(np.asarray(points, dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)


def label(image: np.ndarray, text: str, org: tuple[float, float], colour: tuple[int, int, int]) -> None:
    """Text with a dark outline so it reads on any background."""
    s = _scale(image)
    size, thick = 0.45 * s, max(1, int(round(s)))
    (tw, th), _ = cv2.getTextSize(text, FONT, size, thick + 2)
    # keep the whole text inside the frame
    x = int(min(max(0, org[0]), image.shape[1] - tw - 2))
    y = int(min(max(th + 2, org[1]), image.shape[0] - 4))
    cv2.putText(image, text, (x, y), FONT, size, BLACK, thick + 2, cv2.LINE_AA)
    cv2.putText(image, text, (x, y), FONT, size, colour, thick, cv2.LINE_AA)


def _arrow_from(image: np.ndarray, mid: tuple[float, float], direction: Sequence[float], colour, length: float) -> None:
    d = np.asarray(direction, dtype=float)
    d = d / (np.linalg.norm(d) or 1.0)
    tail = np.asarray(mid) - d * length / 2
    head = np.asarray(mid) + d * length / 2
    thick = max(2, int(2 * _scale(image)))
    cv2.arrowedLine(
        image, tuple(map(int, tail)), tuple(map(int, head)), colour, thick, cv2.LINE_AA, tipLength=0.35
    )


def draw_scene(
    image: np.ndarray,
    scene: Scene,
    *,
    highlight: str | None = None,
    signal_colours: dict[str, Colour] | None = None,
    faint: bool = False,
) -> np.ndarray:
    """Draw lanes, solid lines, stop lines with approach arrows and signal boxes, with their ids.

    `highlight` names the zone of a violation, drawn thicker and brighter than the rest.
    """
    out = image.copy()
    s = _scale(out)
    thick = max(1, int(round(2 * s)))
    overlay = out.copy()
    for lane in scene.lanes:
        colour = MAGENTA if lane.id == highlight else (200, 120, 0)
        cv2.fillPoly(overlay, [_pts(lane.polygon)], colour)
    alpha = 0.12 if faint else 0.22
    out = cv2.addWeighted(overlay, alpha, out, 1 - alpha, 0)
    for lane in scene.lanes:
        colour = MAGENTA if lane.id == highlight else (230, 150, 40)
        cv2.polylines(out, [_pts(lane.polygon)], True, colour, thick, cv2.LINE_AA)
        cx, cy = np.mean(np.asarray(lane.polygon), axis=0)
        if lane.direction is not None:
            _arrow_from(out, (cx, cy), lane.direction, colour, 40 * s)
        label(out, f"lane {lane.id}", (cx + 8 * s, cy), colour)
    for solid in scene.solid_lines:
        hot = solid.id == highlight
        cv2.polylines(out, [_pts(solid.line)], False, MAGENTA if hot else CYAN, thick * (3 if hot else 1), cv2.LINE_AA)
        label(out, f"solid {solid.id}", solid.line[len(solid.line) // 2], MAGENTA if hot else CYAN)
    for stop in scene.stop_lines:
        hot = stop.id == highlight
        colour = (0, 0, 255) if hot else WHITE
        cv2.polylines(out, [_pts(stop.line)], False, colour, thick * (3 if hot else 1), cv2.LINE_AA)
        mid = np.mean(np.asarray(stop.line[:2]), axis=0)
        _arrow_from(out, tuple(mid), stop.approach, colour, 40 * s)
        label(out, f"stop {stop.id} -> {stop.signal}", (stop.line[0][0] + 4, stop.line[0][1] - 6 * s), colour)
    for sig in scene.signals:
        colour = SIGNAL_BGR[(signal_colours or {}).get(sig.id, Colour.UNKNOWN)]
        x1, y1, x2, y2 = map(int, sig.box)
        cv2.rectangle(out, (x1 - 2, y1 - 2), (x2 + 2, y2 + 2), colour, thick, cv2.LINE_AA)
        label(out, sig.id, (x1, y1 - 6 * s), colour)
    return out


def draw_calibration(image: np.ndarray, scene: Scene) -> np.ndarray:
    """The boxes only calibration needs (not evidence): the detection region and the clock box."""
    out = image.copy()
    thick = max(1, int(round(2 * _scale(out))))
    green, purple = (89, 199, 52), (242, 90, 191)  # as the web editor draws them
    roi = scene.detection.region == "roi"
    region = scene.roi(scene.detection.margin) if roi else scene.region_box()
    if region is not None:
        x1, y1, x2, y2 = region
        cv2.rectangle(out, (x1, y1), (x2 - 1, y2 - 1), green, thick, cv2.LINE_AA)
        label(out, f"detection region ({'roi' if roi else 'drawn'})", (x1 + 4, y1 + 16), green)
    if scene.osd_clock is not None:
        x1, y1, x2, y2 = map(int, scene.osd_clock.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), purple, thick, cv2.LINE_AA)
        label(out, "clock", (x1 + 2, y2 + 14), purple)
    return out


def draw_vehicle(image: np.ndarray, box: Box, path: Sequence[tuple[float, float]], caption: str) -> None:
    """The violating vehicle: a thick box, its anchor path, and a caption above it (in place)."""
    s = _scale(image)
    thick = max(2, int(round(2.5 * s)))
    if len(path) >= 2:
        cv2.polylines(image, [_pts(path)], False, ORANGE, thick, cv2.LINE_AA)
    for p in path:
        cv2.circle(image, (int(p[0]), int(p[1])), thick, ORANGE, -1, cv2.LINE_AA)
    cv2.rectangle(image, (int(box.x1), int(box.y1)), (int(box.x2), int(box.y2)), MAGENTA, thick, cv2.LINE_AA)
    label(image, caption, (box.x1, max(12 * s, box.y1 - 6 * s)), MAGENTA)


def mark_track(image: np.ndarray, observations: Sequence[Observation], frame_index: int, caption: str) -> None:
    """The vehicle in a clip frame (in place): its box, interpolated between the observations
    around `frame_index` (detection may skip frames), and its path so far. Nothing is drawn when the
    track was not seen near this frame, rather than a box where the vehicle is not."""
    seen = sorted(observations, key=lambda o: o.frame_index)
    before = [o for o in seen if o.frame_index <= frame_index]
    after = [o for o in seen if o.frame_index >= frame_index]
    if not before or not after:
        return
    a, b = before[-1], after[0]
    t = 0.0 if b.frame_index == a.frame_index else (frame_index - a.frame_index) / (b.frame_index - a.frame_index)
    box = Box(*(pa + (pb - pa) * t for pa, pb in zip(_corners(a.box), _corners(b.box), strict=True)))
    draw_vehicle(image, box, [o.box.anchor for o in before] + [box.anchor], caption)


def _corners(box: Box) -> tuple[float, float, float, float]:
    return box.x1, box.y1, box.x2, box.y2


def signal_inset(image: np.ndarray, source: np.ndarray, box: Sequence[float], colour: Colour) -> None:
    """Paste an enlarged crop of a signal head into the top-left corner so the light is legible."""
    h, w = source.shape[:2]
    x1, y1, x2, y2 = box
    pad_x, pad_y = (x2 - x1) * 0.4, (y2 - y1) * 0.2
    xa, ya = max(0, int(x1 - pad_x)), max(0, int(y1 - pad_y))
    xb, yb = min(w, int(x2 + pad_x + 1)), min(h, int(y2 + pad_y + 1))
    if xb <= xa or yb <= ya:
        return
    crop = source[ya:yb, xa:xb]
    target_h = int(min(image.shape[0] * 0.35, max(120, 4 * crop.shape[0])))
    scale = target_h / crop.shape[0]
    big = cv2.resize(crop, (max(1, int(crop.shape[1] * scale)), target_h), interpolation=cv2.INTER_NEAREST)
    bh, bw = big.shape[:2]
    if bh + 10 > image.shape[0] or bw + 10 > image.shape[1]:
        return
    image[8 : 8 + bh, 8 : 8 + bw] = big
    cv2.rectangle(image, (6, 6), (10 + bw, 10 + bh), SIGNAL_BGR[colour], 3)


def data_bar(image: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """Append a black bar under the frame with the evidence data, lines wrapped to its width.

    The review page shows a still at a third to a half of a laptop screen (~320-420 px wide), so
    the text is sized to the frame's width, about 9 px high there at any frame size (the old fixed
    size gave 5 px on a 1080p frame: unreadable without enlarging)."""
    s = max(0.8, image.shape[1] / 640) * 1.35
    size, thick, margin = 0.5 * s, max(1, int(round(s))), int(8 * s)
    wrapped = [part for line in lines for part in _wrap(line, image.shape[1] - 2 * margin, size, thick)]
    line_h = int(21 * s)
    bar = np.zeros((line_h * len(wrapped) + int(8 * s), image.shape[1], 3), dtype=np.uint8)
    for i, text in enumerate(wrapped):
        cv2.putText(bar, text, (margin, (i + 1) * line_h), FONT, size, WHITE, thick, cv2.LINE_AA)
    return np.vstack([image, bar])


def _wrap(text: str, width: int, size: float, thick: int) -> list[str]:
    """`text` in lines that fit `width` pixels, broken between words."""
    out: list[str] = []
    for word in text.split(" "):
        if out and cv2.getTextSize(out[-1] + " " + word, FONT, size, thick)[0][0] <= width:
            out[-1] += " " + word
        else:
            out.append(word)
    return out or [""]


def read_frame(video, at_s: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    """One frame `at_s` seconds into a video (or the image itself)."""
    from pipeline.errors import SourceError
    from pipeline.source import VideoFile

    source = VideoFile(video)  # validates and explains unreadable files
    length = f"{source.duration_s:.1f} s" if source.duration_s else "unknown length"
    if at_s < 0 or (source.duration_s is not None and at_s >= source.duration_s):
        raise SourceError(f"{video}: no frame at {at_s} s (video is {length})")
    cap = cv2.VideoCapture(str(source.path))
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(round(at_s * source.fps)))
        ok, frame = cap.read()
    finally:
        cap.release()
    if not ok:
        raise SourceError(f"{video}: no frame at {at_s} s (video is {length})")
    return frame


def draw_scene_file(scene_path, video, output, at_s: float = 0.0) -> None:  # type: ignore[no-untyped-def]
    """`trafficcam scene draw`: the scene over a real frame, written to `output`."""
    from pipeline.errors import StorageError
    from pipeline.scene import load_scene

    scene = load_scene(scene_path)
    frame = read_frame(video, at_s)
    h, w = frame.shape[:2]
    if (w, h) != tuple(scene.frame_size):
        scene = scene.scaled_to(w, h)
    out = draw_calibration(draw_scene(frame, scene), scene)
    caption = f"{Path(scene_path).name}: camera {scene.camera}, {Path(video).name} at {at_s:.1f} s ({w}x{h})"
    out = data_bar(out, [caption])
    if not cv2.imwrite(str(output), out):
        raise StorageError(f"cannot write {output} (is the folder there and writable, and the suffix .png/.jpg?)")
