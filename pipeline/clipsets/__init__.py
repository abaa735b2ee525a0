"""Clip sets for `trafficcam eval`: clip folders gathered from several roots, videos found apart from truth."""

from pipeline.clipsets.discovery import CLIPS_PATH_ENV, EvalClip, discover_clips

__all__ = ["CLIPS_PATH_ENV", "EvalClip", "discover_clips"]
