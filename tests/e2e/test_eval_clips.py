"""The clips whose scene and truth the repository keeps (eval/clips; videos in ../shared/clips), run
with the real detector and scored against that truth: floors at what was measured.

Measured 2026-12-01 with `trafficcam eval --clips ../shared/clips --clips eval/clips` (every frame,
conf 0.25, the rules' defaults); MODELS.md "Evaluation on all shared clips" has the full table and why
each miss happens. The US clips run with `coco-n-f16`, the Vietnamese ones with `vn2`, the weights
each kind of footage is best served by. Floors leave room for tracker nondeterminism, not for wishes;
a miss the signal reader causes today (us_cspr003_redlight: overexposed red read as yellow) is not
asserted as found, only that no false report comes with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pipeline.evaluation import Truth, evaluate_clip, format_table

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Floor:
    """What a clip must keep scoring: red-light finds and false reports, agreement per signal head."""

    weights: str
    min_found: int
    max_false: int
    signals: dict[str, float] = field(default_factory=dict)


FLOORS = {
    # the black pickup runs the red at f41: found (measured 1 of 1, 0 false); the right mast head reads
    # red on only 0.525 of its frames (its red lamp is washed out), the others 1.000
    "us_cspr012_redlight": Floor(
        weights="coco-n-f16", min_found=1, max_false=0,
        signals={"mast_left_turn": 0.95, "mast_through_centre": 0.95, "pole_left": 0.95, "mast_through_right": 0.45},
    ),
    # the red sedan at f168: found (1 of 1, 0 false); all three heads 1.000
    "us_fredmeyer_redlight": Floor(
        weights="coco-n-f16", min_found=1, max_false=0,
        signals={"span_left": 0.95, "span_centre": 0.95, "span_right": 0.95},
    ),
    # the minivan at f180 is missed: mast_3 (its head) is read yellow from f151 on, so no report;
    # measured 0 false reports. Its signal agreement (0.05-0.89 per head) gets no floor: it is what fails.
    "us_cspr003_redlight": Floor(weights="coco-n-f16", min_found=0, max_false=0),
    # no clear red runner: a precision test on a motorbike queue at the zebra. vn2 measured 0 reports
    # (coco-n-f16 reports the rider who creeps over the zebra edge at f264 and stops: issue 18's first
    # failure class). Heads 0.987 / 1.000 / 0.992. One false report allowed for tracker nondeterminism.
    "vn_hanoi_cuanam_dbp": Floor(
        weights="vn2", min_found=0, max_false=1,
        signals={"near_main": 0.95, "far_left": 0.95, "far_right": 0.95},
    ),
    # both riders who go straight on red (f58, f112) are missed with either weights: the round head's
    # overexposed red lamp is read yellow (agreement 0.287, no floor: it is what fails). The right ARROW
    # head reads 1.000 (green, then dark = unknown). Measured 0 false reports.
    "vn_junction_rightarrow": Floor(weights="vn2", min_found=0, max_false=0, signals={"right_arrow": 0.95}),
}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_new_clip_floors(name, clip_runs):
    floor = FLOORS[name]
    run = clip_runs(name, weights=floor.weights)
    scored = evaluate_clip(name, run.truth, run.report)
    print("\n" + format_table([scored]))
    red = scored.matches.rules.get("red_light")
    found, false = (red.tp, red.fp) if red else (0, 0)
    assert found >= floor.min_found, f"found {found} red-light violations, floor {floor.min_found}"
    assert false <= floor.max_false, f"{false} false red-light reports, at most {floor.max_false}"
    for head, least in floor.signals.items():
        assert scored.signals[head] >= least, f"{head}: {scored.signals[head]:.3f} of frames agree, floor {least}"
    for head, share in wrong_colour_shares(run.truth, run.report).items():
        # issue 18's target: no head reads a wrong colour (not UNKNOWN, not the truth's) on over 1% of frames
        assert share <= 0.01, f"{head}: a wrong colour on {share:.3f} of frames"


def wrong_colour_shares(truth: Truth, report: dict) -> dict[str, float]:
    """Per truth head, the share of frames where the report's timeline shows a colour that is
    neither the truth's nor unknown."""
    shares = {}
    for head, timeline in truth.signals.items():
        expected = _per_frame([(c.start_frame, c.colour.value) for c in timeline], truth.frames)
        seen = _per_frame([(c["start_frame"], c["colour"]) for c in report["signals"].get(head, [])], truth.frames)
        wrong = sum(1 for e, r in zip(expected, seen, strict=True) if e and r and r != "unknown" and r != e)
        shares[head] = wrong / truth.frames
    return shares


def _per_frame(changes: list[tuple[int, str]], frames: int) -> list[str | None]:
    colours: list[str | None] = [None] * frames
    for start, colour in sorted(changes):
        colours[start:] = [colour] * max(0, frames - start)
    return colours
