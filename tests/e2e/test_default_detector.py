"""The default weights end to end on real clips: no --weights, only what the repository ships."""

from __future__ import annotations

import pytest

from pipeline.evaluation import evaluate_clip, load_truth
from pipeline.process import ProcessSettings, process_video
from pipeline.report import build_report
from tests.conftest import need_shared
from tests.databases import database_url

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("clip", ["nepal_yellow_van_right"])
def test_default_weights_find_the_violations_of_a_non_vietnamese_clip(clip, tmp_path, monkeypatch):
    monkeypatch.delenv("TRAFFICCAM_MODEL_PATH", raising=False)  # nothing from ../shared/models
    monkeypatch.delenv("TRAFFICCAM_WEIGHTS", raising=False)
    folder = need_shared("clips", clip)
    truth = load_truth(folder / "truth.yaml")
    result = process_video(folder / truth.video, folder / "scene.yaml", ProcessSettings(), tmp_path,
                           database_url(tmp_path))  # fmt: skip
    report = build_report(result, tmp_path)
    solid = evaluate_clip(clip, truth, report).matches.rules["solid_line"]
    assert (solid.tp, solid.fp) == (1, 0), solid

