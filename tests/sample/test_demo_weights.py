"""The committed demo weights match their manifest entry (no model is loaded here)."""

from __future__ import annotations

import pytest

from detector.weights import WeightsError, load_manifest, resolve
from pipeline.sample.dataset import CLASSES, DEMO_NAME


def test_the_manifest_lists_the_demo_weights_as_demo_weights_for_the_synthetic_scene():
    entry = next((e for e in load_manifest() if e.name == DEMO_NAME), None)
    assert entry is not None, "models/manifest.yaml has no demo-synthetic entry (run `trafficcam sample train`)"
    assert "DEMO WEIGHTS" in entry.notes and "synthetic" in entry.notes
    assert entry.imgsz == 320 and entry.classes == {name: name for name in CLASSES}
    assert entry.training is not None and "trafficcam sample train" in str(entry.training["command"])


def test_the_demo_weights_file_is_the_one_the_manifest_describes():
    try:
        weights = resolve(DEMO_NAME)
    except WeightsError as exc:
        pytest.skip(f"demo weights not present: {exc}")
    assert weights.entry is not None
    assert weights.sha256() == weights.entry.sha256
    assert weights.entry.bytes is not None and weights.entry.bytes < 8_000_000  # small enough to commit
