"""One set of boxes from two detectors: a general one (COCO) and a fine-tune (Vietnamese CCTV).

A fine-tune finds what it was trained on better and forgets the rest; the general model keeps
what it knew. Run both on the frame and fuse:
1. every box becomes a trafficcam label (the manifests' class maps);
2. a box of one model that covers two or more boxes of the same class group of the other model
   is dropped: one box around a queue of cars is not a car (the fine-tune's failure on queues);
3. boxes of two models in one class group that overlap by IoU >= `same_iou`, or two-wheeler boxes
   one inside the other, are one road user: the outer box is kept (a rider-and-bike box over a
   bike-only box), else the more confident one;
Rider merging (a person on a two-wheeler) happens after, in the pipeline, as for one model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

GROUPS: dict[str, str] = {
    "car": "vehicle", "bus": "vehicle", "truck": "vehicle",
    "motorcycle": "two-wheeler", "bicycle": "two-wheeler",
    "person": "person",
}  # fmt: skip
SAME_IOU = 0.5
COVER_SHARE = 0.7  # a box "covers" another when this share of the other lies inside it


def _iou_and_cover(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IoU (len(a) x len(b)) and the share of each b box inside each a box."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    iou = inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)
    cover = inter / np.maximum(area_b[None, :], 1e-9)
    return iou, cover


def fuse(
    parts: Sequence[tuple[np.ndarray, np.ndarray, Sequence[str]]],
    same_iou: float = SAME_IOU,
    cover_share: float = COVER_SHARE,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Fuse the boxes of several models.

    Args:
        parts: per model, (xyxy N x 4, confidence N, labels N) in frame pixels, trafficcam labels.

    Returns:
        (xyxy, confidence, labels) of the fused set.
    """
    xyxy = [np.asarray(p[0], np.float32).reshape(-1, 4) for p in parts]
    conf = [np.asarray(p[1], np.float32).reshape(-1) for p in parts]
    labels = [list(p[2]) for p in parts]
    groups = [np.array([GROUPS.get(x, x) for x in lab], dtype=object) for lab in labels]
    keep = [np.ones(len(c), bool) for c in conf]
    # 2. a box covering two or more same-group boxes of another model is a queue, not a vehicle
    for i in range(len(parts)):
        for j in range(len(parts)):
            if i == j or not len(conf[i]) or not len(conf[j]):
                continue
            _, cover = _iou_and_cover(xyxy[i], xyxy[j])
            same = groups[i][:, None] == groups[j][None, :]
            covered = ((cover >= cover_share) & same).sum(1)
            keep[i] &= covered < 2
    # 3. one road user seen by two models: IoU >= same_iou, or the smaller box inside the larger
    #    (a bike-only box in a rider-and-bike box): keep the larger box when one holds the other,
    #    else the more confident one
    for i in range(len(parts)):
        for j in range(i + 1, len(parts)):
            if not len(conf[i]) or not len(conf[j]):
                continue
            iou, cover_ij = _iou_and_cover(xyxy[i], xyxy[j])  # cover_ij: share of j's box inside i's
            _, cover_ji = _iou_and_cover(xyxy[j], xyxy[i])
            same_group = groups[i][:, None] == groups[j][None, :]
            # nesting means one road user only for two-wheelers (a bike-only box in a rider-and-bike
            # box); a car box inside a larger one is a car in a queue box or a cab in a truck box
            riders = (groups[i][:, None] == "two-wheeler") & same_group
            nested = riders & ((cover_ij >= cover_share) | (cover_ji.T >= cover_share))
            for a, b in zip(*np.nonzero(same_group & ((iou >= same_iou) | nested)), strict=True):
                if not (keep[i][a] and keep[j][b]):
                    continue
                if cover_ij[a, b] >= cover_share and cover_ji[b, a] < cover_share:
                    keep[j][b] = False  # j's box lies inside i's: i's is the whole road user
                elif cover_ji[b, a] >= cover_share and cover_ij[a, b] < cover_share:
                    keep[i][a] = False
                elif conf[i][a] >= conf[j][b]:
                    keep[j][b] = False
                else:
                    keep[i][a] = False
    out_xyxy = np.concatenate([x[k] for x, k in zip(xyxy, keep, strict=True)]) if parts else np.zeros((0, 4))
    out_conf = np.concatenate([c[k] for c, k in zip(conf, keep, strict=True)]) if parts else np.zeros(0)
    out_labels = [lab for ls, k in zip(labels, keep, strict=True) for lab, kk in zip(ls, k, strict=True) if kk]
    return out_xyxy.astype(np.float32), out_conf.astype(np.float32), out_labels
