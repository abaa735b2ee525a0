"""The daemon's analysis clock: a camera asked for N analysed frames a second gets N where the
stream has them, never more on average, and a stall is not made up with a burst."""

from __future__ import annotations

import pytest

from pipeline.daemon.worker import is_due, next_tick


def analysed(frame_times: list[float], analysis_fps: float) -> list[float]:
    due, out = float("-inf"), []
    for t in frame_times:
        if is_due(due, t, analysis_fps):
            out.append(t)
            due = next_tick(due, t, analysis_fps)
    return out


@pytest.mark.parametrize(("stream_fps", "asked", "expected"), [
    (6, 5, 5.0),  # a minimum gap of 1/5 s would take every second frame: 3 fps (issue 23's capacity runs)
    (25, 5, 5.0), (30, 5, 5.0), (12.5, 5, 5.0), (5, 5, 5.0),
    (4, 5, 4.0),  # a stream slower than asked: every frame
    (25, 2, 2.0),
])  # fmt: skip
def test_the_rate_asked_is_the_rate_analysed(stream_fps: float, asked: float, expected: float) -> None:
    times = [i / stream_fps for i in range(int(stream_fps * 60))]
    got = analysed(times, asked)
    assert len(got) / 60 == pytest.approx(expected, abs=0.05)


def test_a_stall_is_not_made_up_with_a_burst() -> None:
    times = [i / 25 for i in range(250)] + [20 + i / 25 for i in range(250)]  # 10 s lost in the middle
    got = analysed(times, 5)
    after = [t for t in got if 20 <= t < 30]
    assert len(after) <= 51  # 10 s at 5 fps, plus at most the one tick made up
    gaps = [b - a for a, b in zip(after, after[1:], strict=False)]
    assert min(gaps) >= 0.04 - 1e-9 and sum(1 for g in gaps if g < 0.15) <= 1
