"""A synthetic signalised junction with exact ground truth, rendered by the project itself.

`trafficcam sample render` draws a deterministic clip (perspective road, lane markings, stop line,
zebra, a signal head cycling green / yellow / red, cars, buses and motorbikes, some of them
breaking the rules on purpose) and writes its scene file and truth from the renderer's own state,
so a new user can see the pipeline work on a machine with no footage and no internet.

Modules: `world` (road layout, camera, scene file), `traffic` (signal plan, road users and their
motion), `vehicles` and `draw` (what a frame looks like), `render` (frames with exact boxes),
`truth` (the violations in them), `clip` (video + scene.yaml + truth.yaml), `dataset` (labelled
training frames and the demo weights).
"""

from pipeline.sample.clip import SampleClip, exact_truth, render_sample, signal_timeline
from pipeline.sample.render import Renderer, SampleSpec

__all__ = ["Renderer", "SampleClip", "SampleSpec", "exact_truth", "render_sample", "signal_timeline"]
