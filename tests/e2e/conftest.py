"""One processing of each real clip per test session, shared by the end-to-end tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipeline.evaluation import Truth, load_truth
from pipeline.process import ProcessResult, ProcessSettings, process_video
from pipeline.report import build_report
from tests.conftest import COCO_WEIGHTS, need_shared
from tests.databases import database_url

EVAL_CLIPS = Path(__file__).resolve().parents[2] / "eval" / "clips"


@dataclass(frozen=True)
class ClipRun:
    name: str
    folder: Path
    data: Path
    truth: Truth
    result: ProcessResult
    report: dict[str, Any]


@pytest.fixture(scope="session")
def clip_runs(tmp_path_factory):
    """`run(name, analysis_fps, weights)`: process a shared clip with every rule, once per setting;
    the weights default to the COCO file in ../shared/models."""
    cache: dict[tuple[str, float | None, str | None], ClipRun] = {}

    def run(name: str, analysis_fps: float | None = None, weights: str | None = None) -> ClipRun:
        key = (name, analysis_fps, weights)
        if key not in cache:
            shared = need_shared("clips", name)
            need_shared("models", "yolov8n_int8.onnx")
            # scene and truth of the raw clips live in the repository (eval/clips), their videos in ../shared
            folder = EVAL_CLIPS / name if (EVAL_CLIPS / name / "truth.yaml").is_file() else shared
            truth = load_truth(folder / "truth.yaml")
            data = tmp_path_factory.mktemp(f"run-{name}")
            settings = ProcessSettings(weights=weights or str(COCO_WEIGHTS), analysis_fps=analysis_fps)
            result = process_video(shared / truth.video, folder / "scene.yaml", settings, data, database_url(data))
            cache[key] = ClipRun(name, folder, data, truth, result, build_report(result, data))
        return cache[key]

    return run
