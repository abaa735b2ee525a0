"""Violation rules, one module each. A new rule adds its module and one line to `REGISTRY`."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pipeline.rules.base import Rule, SignalBoard, Violation
from pipeline.rules.lane_class import LaneClassRule
from pipeline.rules.red_light import RedLightRule
from pipeline.rules.solid_line import SolidLineRule
from pipeline.rules.stop_line_overrun import StopLineOverrunRule
from pipeline.rules.wrong_way import WrongWayRule
from pipeline.scene import Scene

REGISTRY: dict[str, Callable[[Scene], Rule]] = {
    "red_light": lambda s: RedLightRule(
        grace_s=s.rules.red_light.grace_s,
        violate_on=frozenset(s.rules.red_light.violate_on),
        min_depth_px=s.rules.red_light.min_depth_px,
        labels=frozenset(s.rules.red_light.labels),
        clear_box_heights=s.rules.red_light.clear_box_heights,
        max_clear_s=s.rules.red_light.max_clear_s,
        turn_angle_deg=s.rules.red_light.turn_angle_deg,
    ),
    "stop_line_overrun": lambda s: StopLineOverrunRule(
        grace_s=s.rules.stop_line_overrun.grace_s,
        violate_on=frozenset(s.rules.stop_line_overrun.violate_on),
        min_depth_px=s.rules.stop_line_overrun.min_depth_px,
        min_stop_s=s.rules.stop_line_overrun.min_stop_s,
        clear_box_heights=s.rules.red_light.clear_box_heights,
        labels=frozenset(s.rules.stop_line_overrun.labels),
    ),
    "solid_line": lambda s: SolidLineRule(min_frames=s.rules.solid_line.min_frames),
    "wrong_way": lambda s: WrongWayRule(
        s.rules.wrong_way.min_travel_px, s.rules.wrong_way.min_duration_s,
        min_box_heights=s.rules.wrong_way.min_box_heights,
    ),  # fmt: skip
    "lane_class": lambda s: LaneClassRule(min_duration_s=s.rules.lane_class.min_duration_s),
}


def build_rules(scene: Scene, enable: Iterable[str] = (), disable: Iterable[str] = ()) -> list[Rule]:
    """The rules to run on a scene: those enabled in its `rules:` section, adjusted by the CLI."""
    enable, disable = set(enable), set(disable)
    unknown = (enable | disable) - set(REGISTRY)
    if unknown:
        raise ValueError(f"unknown rule(s) {sorted(unknown)}; known rules: {sorted(REGISTRY)}")
    chosen = []
    for name, make in REGISTRY.items():
        on = getattr(scene.rules, name).enabled
        if (on or name in enable) and name not in disable:
            chosen.append(make(scene))
    return chosen


__all__ = ["REGISTRY", "Rule", "SignalBoard", "Violation", "build_rules"]
