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


def write_report(report: dict[str, Any], path: Path) -> None:
    """Write atomically: a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
