"""The JSON report of a run, in the shape of a clip's truth.yaml so the two compare mechanically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.process import ProcessResult


def build_report(result: ProcessResult, data_dir: Path) -> dict[str, Any]:
    return {
        "video": Path(result.video).name,
        "fps": round(result.fps, 3),
        "frames": result.frames_read,
        "frames_expected": result.frames_expected,
        "frames_analysed": result.frames_analysed,
        "camera": result.camera,
        "run_id": result.run_id,
        "software_version": __version__,
        "data_dir": str(data_dir),
        "warnings": result.warnings,
        # when frame 0 was recorded (UTC) and how that is known (README, "The time of an offence")
        "recorded_at": result.recorded.start.isoformat() if result.recorded and result.recorded.start else None,
        "time_source": result.recorded.source.value if result.recorded else None,
        "signals": result.signals,
        "signals_unreadable": unreadable_spans(result.signals, result.frames_read, result.fps),
        "violations": [
            {
                "id": r.public_id,
                "rule": r.violation.rule,
                "where": r.violation.where,
                "frame": r.violation.frame_index,
                "time_s": round(r.violation.timestamp, 3),
                "label": r.violation.label,
                "track_id": r.violation.track_id,
                "box": r.violation.box.as_list(),
                "confidence": round(r.violation.confidence, 3),
                "signal_colour": r.violation.signal_colour.value if r.violation.signal_colour else None,
                "seconds_into_colour": r.violation.seconds_into_colour,
                "evidence": r.evidence,
            }
            for r in result.reported
        ],
    }


def unreadable_spans(
    signals: dict[str, list[dict[str, Any]]], frames: int, fps: float
) -> dict[str, list[dict[str, float | int]]]:
    """Per signal head, the spans it could not be read (its colour UNKNOWN): rules do not fire on
    such a head, so these are the times its stop lines were not enforced. `end_frame` is the last
    unreadable frame."""
    spans: dict[str, list[dict[str, float | int]]] = {}
    for sid, timeline in signals.items():
        for i, change in enumerate(timeline):
            if change["colour"] != "unknown":
                continue
            start = int(change["start_frame"])
            end = int(timeline[i + 1]["start_frame"]) - 1 if i + 1 < len(timeline) else max(start, frames - 1)
            spans.setdefault(sid, []).append({
                "start_frame": start, "end_frame": end,
                "start_s": round(start / fps, 3) if fps else 0.0, "end_s": round(end / fps, 3) if fps else 0.0,
            })  # fmt: skip
    return spans


def write_report(report: dict[str, Any], path: Path) -> None:
    """Write atomically: a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
