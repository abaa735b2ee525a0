"""Plate reading: Vietnamese formats (`formats`) and the OCR reader with its vote (`reader`).

The evidence writer reads each violation's plate on its background thread (`EvidenceRecorder`
with a `PlateReader`); the reading is stored as a suggestion (`PlateSuggestion`) that the
reviewer accepts or corrects.
"""

from __future__ import annotations

import os
from importlib import metadata

from pipeline.plates.formats import PlateKind, PlateText, is_valid, normalise, parse
from pipeline.plates.reader import PLATE_FRAMES, FrameReading, PlateReader, PlateReading, clearest, vote
from pipeline.store.records import PlateSuggestion

__all__ = [
    "PLATE_FRAMES",
    "FrameReading",
    "PlateKind",
    "PlateReader",
    "PlateReading",
    "PlateText",
    "clearest",
    "enabled",
    "engine_name",
    "is_valid",
    "normalise",
    "parse",
    "suggestion",
    "vote",
]


def enabled(asked: bool | None = None) -> bool:
    """Whether to read plates: as asked, else unless TRAFFICCAM_PLATES=off (e.g. outside Vietnam)."""
    if asked is not None:
        return asked
    return os.environ.get("TRAFFICCAM_PLATES", "on").strip().lower() not in ("off", "0", "no", "false")


def engine_name() -> str:
    """The OCR engine and its version, stored with each reading."""
    try:
        return f"rapidocr-onnxruntime {metadata.version('rapidocr-onnxruntime')}"
    except metadata.PackageNotFoundError:
        return "rapidocr-onnxruntime"


def suggestion(reading: PlateReading) -> PlateSuggestion:
    """The stored form of a reading (without its image)."""
    return PlateSuggestion(
        text=reading.text[:32] if reading.text else None,
        kind=reading.kind.value if reading.kind else None,
        format_valid=reading.valid,
        confidence=reading.confidence,
        frames_tried=reading.frames_tried,
        frames_read=reading.frames_read,
        frames_agreeing=reading.frames_agreeing,
        read_ms=round(reading.elapsed_s * 1000.0, 1),
        engine=engine_name(),
    )
