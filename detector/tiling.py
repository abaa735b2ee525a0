"""Where the detector looks in a frame: a region of interest, overlapping tiles, and the merge.

A small road user far from the camera is a few pixels wide once a whole frame is shrunk to the
model's 320 px input. Running the model on a crop (the scene's region of interest) or on several
overlapping tiles of it gives each vehicle more input pixels, at the cost of one inference per
window. Boxes found in a window are shifted back to frame coordinates, and the duplicates that
overlapping windows produce are merged before anything is tracked.

Pure numpy: no model here (see `detector.yolo.YoloDetector` for the inference).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Window = tuple[int, int, int, int]  # x1, y1, x2, y2 in frame pixels, x2 / y2 exclusive


def tile_windows(region: Window, cols: int, rows: int, overlap: float = 0.2) -> list[Window]:
    """Split `region` into `cols` x `rows` tiles, each sharing `overlap` of its size with its neighbour.

    Tiles are equal in size and together cover the region exactly (the last tile of a row ends
    on the region's edge). Order: row by row, left to right.
    """
    if cols < 1 or rows < 1:
        raise ValueError(f"tiles must be at least 1 x 1, got {cols} x {rows}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"tile overlap must be in [0, 1), got {overlap}")
    x1, y1, x2, y2 = region
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"region must be [x1, y1, x2, y2] with x1 < x2 and y1 < y2, got {list(region)}")

    def spans(start: int, end: int, n: int) -> list[tuple[int, int]]:
        length = end - start
        size = length / (n - (n - 1) * overlap)  # n tiles of `size` overlapping by overlap * size
        step = size * (1 - overlap)
        out = []
        for i in range(n):
            a = start + int(round(i * step))
            b = end if i == n - 1 else min(end, a + int(math.ceil(size)))
            out.append((a, b))
        return out

    return [(a, b, c, d) for b, d in spans(y1, y2, rows) for a, c in spans(x1, x2, cols)]


def detection_windows(
    frame_size: tuple[int, int],
    region: Window | None = None,
    tiles: tuple[int, int] = (1, 1),
    overlap: float = 0.2,
    whole_region: bool = False,
) -> list[Window]:
    """The windows one frame is run through: the region (default the whole frame) as it is or cut
    into tiles, plus the whole region once more when `whole_region` (for vehicles bigger than a tile)."""
    w, h = frame_size
    x1, y1, x2, y2 = region or (0, 0, w, h)
    bounded = (max(0, x1), max(0, y1), min(w, x2), min(h, y2))
    if tiles == (1, 1):
        return [bounded]
    windows = tile_windows(bounded, tiles[0], tiles[1], overlap)
    return [bounded, *windows] if whole_region else windows


def to_frame(xyxy: np.ndarray, window: Window) -> np.ndarray:
    """Boxes (N x 4, x1 y1 x2 y2) found in a window's crop, in frame coordinates."""
    return xyxy + np.array([window[0], window[1], window[0], window[1]], dtype=xyxy.dtype)


def cut_at_inner_edge(xyxy: np.ndarray, window: Window, bounds: Window, tolerance: float = 2.0) -> np.ndarray:
    """Which boxes (frame coordinates) touch an edge of `window` that lies inside `bounds`: a vehicle
    cut in two by the tile, which a neighbouring tile sees whole or in part."""
    if len(xyxy) == 0:
        return np.zeros(0, dtype=bool)
    wx1, wy1, wx2, wy2 = window
    bx1, by1, bx2, by2 = bounds
    cut = np.zeros(len(xyxy), dtype=bool)
    if wx1 > bx1:
        cut |= xyxy[:, 0] <= wx1 + tolerance
    if wy1 > by1:
        cut |= xyxy[:, 1] <= wy1 + tolerance
    if wx2 < bx2:
        cut |= xyxy[:, 2] >= wx2 - tolerance
    if wy2 < by2:
        cut |= xyxy[:, 3] >= wy2 - tolerance
    return cut


def merge_boxes(
    xyxy: np.ndarray,
    conf: np.ndarray,
    cls: np.ndarray,
    cut: np.ndarray | None = None,
    iou: float = 0.5,
    contained: float = 0.7,
    seam: float = 0.2,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge the duplicates that overlapping windows find, class by class, most confident first.

    A box is dropped when it overlaps a kept box of its class by IoU >= `iou` (plain NMS), or
    when at least `contained` of the smaller of the two lies inside the other (a vehicle seen whole
    in one window and cut in another), or, when both were cut by a tile edge, at least `seam` of
    it (the two parts of a vehicle wider than the overlap share only the overlap). When either of
    a pair dropped that way was cut, the kept box grows to cover both, so the parts become one.

    Returns:
        (xyxy, conf, cls) of the kept boxes.
    """
    n = len(xyxy)
    if n == 0:
        return xyxy.reshape(0, 4), conf.reshape(0), cls.reshape(0)
    cut = np.zeros(n, dtype=bool) if cut is None else cut
    order = np.argsort(-conf, kind="stable")
    boxes = xyxy[order].astype(np.float64)
    scores, classes, cuts = conf[order], cls[order], cut[order]
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    alive = np.ones(n, dtype=bool)
    kept: list[int] = []
    for i in range(n):
        if not alive[i]:
            continue
        kept.append(i)
        alive[i] = False
        rest = np.flatnonzero(alive & (classes == classes[i]))
        if len(rest) == 0:
            continue
        inter = _intersection(boxes[i], boxes[rest])
        union = areas[i] + areas[rest] - inter
        overlap_iou = inter / np.maximum(union, 1e-9)
        overlap_small = inter / np.maximum(np.minimum(areas[i], areas[rest]), 1e-9)
        dup = (overlap_iou >= iou) | (overlap_small >= contained) | (cuts[i] & cuts[rest] & (overlap_small >= seam))
        grow = rest[dup & (cuts[rest] | cuts[i])]
        if len(grow):
            boxes[i, :2] = np.minimum(boxes[i, :2], boxes[grow, :2].min(axis=0))
            boxes[i, 2:] = np.maximum(boxes[i, 2:], boxes[grow, 2:].max(axis=0))
            areas[i] = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
            cuts[i] = False  # whole now
        alive[rest[dup]] = False
    keep = np.array(kept, dtype=int)
    return boxes[keep].astype(xyxy.dtype), scores[keep], classes[keep]


def _intersection(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    w = np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0])
    h = np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


def parse_tiles(text: str) -> tuple[int, int]:
    """'2x2' -> (2, 2): columns x rows, each 1 to 8."""
    parts = text.lower().replace(" ", "").split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"tiles must look like COLSxROWS, e.g. 2x2 or 3x2, got {text!r}")
    cols, rows = int(parts[0]), int(parts[1])
    if not (1 <= cols <= 8 and 1 <= rows <= 8):
        raise ValueError(f"tiles must be 1 to 8 columns and rows, got {text!r}")
    return cols, rows


def windows_union(windows: Sequence[Window]) -> Window:
    """The smallest window covering all of `windows`."""
    return (
        min(w[0] for w in windows),
        min(w[1] for w in windows),
        max(w[2] for w in windows),
        max(w[3] for w in windows),
    )
