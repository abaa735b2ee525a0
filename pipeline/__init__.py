"""trafficcam pipeline: scene config, sources, rules, evidence, storage, CLI."""

__version__ = "0.1.0"
