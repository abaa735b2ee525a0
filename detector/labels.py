"""The one place where a model's class names become trafficcam labels."""

from __future__ import annotations

from collections.abc import Mapping

from detector.types import LABELS

ALIASES: dict[str, str] = {
    "car": "car",
    "van": "car",
    "taxi": "car",
    "motorcycle": "motorcycle",
    "motorbike": "motorcycle",
    "motobike": "motorcycle",  # spelling used by the Vietnamese CCTV dataset
    "scooter": "motorcycle",
    "bus": "bus",
    "truck": "truck",
    "lorry": "truck",
    "bicycle": "bicycle",
    "bike": "bicycle",
    "person": "person",
    "pedestrian": "person",
}


def normalise(name: str, overrides: Mapping[str, str | None] | None = None) -> str | None:
    """Map a model class name onto a trafficcam label, or None when trafficcam ignores it.

    `overrides` (from the weights manifest) wins over the built-in aliases; a value of None
    there drops the class.
    """
    key = name.strip().lower()
    if overrides is not None and key in overrides:
        label = overrides[key]
    else:
        label = ALIASES.get(key)
    if label is not None and label not in LABELS:
        raise ValueError(f"class {name!r} maps to {label!r}, which is not one of {LABELS}")
    return label


def label_map(names: Mapping[int, str], overrides: Mapping[str, str | None] | None = None) -> dict[int, str]:
    """Class id -> trafficcam label for every class of a model that trafficcam uses."""
    out = {}
    for cls_id, name in names.items():
        label = normalise(name, overrides)
        if label is not None:
            out[int(cls_id)] = label
    return out
