"""End to end on the rendered sample: the demo weights and the whole pipeline find every violation.

The synthetic junction is easy (clean shapes, a fixed camera, a clearly lit signal head), so
anything short of precision and recall 1.0 is a bug in the renderer, the training data or the
pipeline, not bad luck.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.weights import WeightsError, resolve
from pipeline.evaluation import evaluate_clip, format_table, load_truth
from pipeline.process import ProcessSettings, process_video
from pipeline.report import build_report
from pipeline.sample import SampleSpec, render_sample
from tests.databases import database_url

DEMO = "demo-synthetic"


def demo_weights() -> str:
    try:
        return resolve(DEMO).path
    except WeightsError as exc:
        pytest.skip(f"needs the demo weights ({exc}); make them with `trafficcam sample train`")


@pytest.mark.slow
@pytest.mark.parametrize("night", [False, True], ids=["day", "night"])
def test_the_demo_weights_find_every_violation_of_the_rendered_truth(tmp_path: Path, night: bool):
    weights = demo_weights()
    spec = SampleSpec(seconds=16.0, fps=10.0, width=640, height=360, night=night, seed=7)
    clip = render_sample(spec, tmp_path / "junction" / "junction.mp4")
    truth = load_truth(clip.truth)
    assert {v.rule for v in truth.violations} == {"red_light", "solid_line", "wrong_way"}

    data = tmp_path / "data"
    result = process_video(clip.video, clip.scene, ProcessSettings(weights=weights), data, database_url(data))
    scores = evaluate_clip("junction-night" if night else "junction", truth, build_report(result, data))
    print("\n" + format_table([scores]))

    total = scores.matches.total
    assert (total.precision, total.recall) == (1.0, 1.0), format_table([scores])
    assert scores.signals["main"] >= 0.99
    for reported in result.reported:  # each violation comes with its evidence
        assert {"before", "during", "after"} <= set(reported.evidence)
        assert all((data / path).is_file() for path in reported.evidence.values())
