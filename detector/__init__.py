"""Perception: frames in, typed detections, tracks and signal states out."""
