"""The violations in a rendered clip, from the exact boxes the renderer drew (DESIGN.md truth format).

Each rule is judged on the anchor (bottom-centre of the box) of every road user in every frame,
as the rules define it, so a perfect detector and tracker would report exactly these:

- red_light: the first frame whose anchor is past the stop line (the step from the previous
  frame meets the line), when the signal has been red for at least `grace_s` and the road user
  was behind the line when red began. Crossings within a frame or two of `grace_s` go to
  `uncertain` (the pipeline may date the start of red a frame late).
- solid_line: the first frame on the other side of a solid line, after a step that meets it, when
  the road user stays on that side for `min_frames` frames.
- wrong_way: the last frame of the first window of at least `min_duration_s` (and at most 4 s)
  inside a lane over which the anchor moved `min_travel_px` against the lane's direction (cosine
  < -0.5): where the wrong-way travel is established.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.geometry import cosine, path_crosses_polyline, point_in_polygon, side_of_polyline, signed_distance
from pipeline.sample.render import UserBox
from pipeline.scene import Scene

Point = tuple[float, float]
WRONG_WAY_WINDOW_S = 4.0
MAX_COSINE = -0.5


@dataclass(frozen=True)
class TrueViolation:
    rule: str
    where: str
    frame: int
    label: str
    box: tuple[float, float, float, float]
    agent_id: int
    note: str

    def as_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "where": self.where, "frame": self.frame, "label": self.label,
                "box": [round(v, 1) for v in self.box], "note": self.note}


Track = Sequence[tuple[int, UserBox]]  # (frame index, box) in frame order


def anchor(box: tuple[float, float, float, float]) -> Point:
    return ((box[0] + box[2]) / 2.0, box[3])


def colour_at(timeline: Sequence[Mapping[str, object]], frame: int) -> tuple[str, int]:
    """The colour at `frame` and the frame it began."""
    current = timeline[0]
    for change in timeline:
        if int(change["start_frame"]) <= frame:  # type: ignore[call-overload]
            current = change
    return str(current["colour"]), int(current["start_frame"])  # type: ignore[call-overload]


def find_violations(
    tracks: Mapping[int, Track], scene: Scene, timelines: Mapping[str, Sequence[Mapping[str, object]]], fps: float
) -> tuple[list[TrueViolation], list[TrueViolation]]:
    """(violations, uncertain) of every road user's track, ordered by frame."""
    found: list[TrueViolation] = []
    doubtful: list[TrueViolation] = []
    for agent_id, track in sorted(tracks.items()):
        if len(track) < 2:
            continue
        for line in scene.stop_lines:
            hit = _red_light(agent_id, track, line.id, line.line, line.approach, timelines[line.signal], fps, scene)
            if hit is not None:
                (found if hit[1] else doubtful).append(hit[0])
        for solid in scene.solid_lines:
            v = _solid_line(agent_id, track, solid.id, solid.line, scene.rules.solid_line.min_frames)
            if v is not None:
                found.append(v)
        for lane in scene.lanes:
            if lane.direction is not None:
                v = _wrong_way(agent_id, track, lane.id, lane.polygon, lane.direction, fps, scene)
                if v is not None:
                    found.append(v)
    key = lambda v: (v.frame, v.rule, v.where, v.agent_id)  # noqa: E731
    return sorted(found, key=key), sorted(doubtful, key=key)


def _red_light(agent_id: int, track: Track, where: str, line: list[Point], approach: Point,
               timeline: Sequence[Mapping[str, object]], fps: float, scene: Scene) -> tuple[TrueViolation, bool] | None:
    settings = scene.rules.red_light
    a, b = line[0], line[-1]
    depth = [signed_distance(anchor(u.box), a, b, approach) for _, u in track]
    for i in range(1, len(track)):
        if not depth[i - 1] <= 0 < depth[i]:
            continue
        if not path_crosses_polyline(anchor(track[i - 1][1].box), anchor(track[i][1].box), line):
            continue
        frame, user = track[i]
        colour, since = colour_at(timeline, frame)
        if colour not in settings.violate_on:
            return None
        seconds_in = (frame - since) / fps
        margin = 1.5 / fps
        if seconds_in < settings.grace_s - margin:
            return None
        before = [d for (f, _), d in zip(track, depth, strict=True) if f <= since]
        if before and before[-1] > 0:
            return None  # already past the line when the colour began
        note = (f"{user.label} #{agent_id} ({user.role}) crosses the stop line {seconds_in:.1f} s into {colour}"
                f" (anchor at y {user.box[3]:.1f})")
        certain = seconds_in >= settings.grace_s + margin
        return TrueViolation("red_light", where, frame, user.label, user.box, agent_id, note), certain
    return None


def _side(p: Point, line: list[Point]) -> int:
    d = side_of_polyline(p, line)
    return 0 if d == 0 else (1 if d > 0 else -1)


def _solid_line(agent_id: int, track: Track, where: str, line: list[Point], min_frames: int) -> TrueViolation | None:
    sides = [_side(anchor(u.box), line) for _, u in track]
    settled, last = 0, -1
    for i, side in enumerate(sides):
        if side == 0:
            continue
        if settled == 0 or side == settled:
            settled, last = side, i
            continue
        stays = sides[i : i + min_frames]
        if len(stays) == min_frames and all(s == side for s in stays):
            path = [anchor(u.box) for _, u in track[last : i + 1]]
            if any(path_crosses_polyline(p, q, line) for p, q in zip(path, path[1:], strict=False)):
                frame, user = track[i]
                note = f"{user.label} #{agent_id} ({user.role}) changes lanes across the solid line {where}"
                return TrueViolation("solid_line", where, frame, user.label, user.box, agent_id, note)
            settled, last = side, i
    return None


def _wrong_way(agent_id: int, track: Track, where: str, polygon: list[Point], direction: Point, fps: float,
               scene: Scene) -> TrueViolation | None:
    settings = scene.rules.wrong_way
    inside = [point_in_polygon(anchor(u.box), polygon) for _, u in track]
    run = 0  # first index of the current stretch inside the lane
    for end in range(len(track)):
        if not inside[end]:
            run = end + 1
            continue
        end_frame = track[end][0]
        p = anchor(track[end][1].box)
        for start in range(end - 1, run - 1, -1):
            span = (end_frame - track[start][0]) / fps
            if span > WRONG_WAY_WINDOW_S:
                break
            q = anchor(track[start][1].box)
            move = (p[0] - q[0], p[1] - q[1])
            if span >= settings.min_duration_s and math.hypot(*move) >= settings.min_travel_px:
                if cosine(move, direction) < MAX_COSINE:
                    frame, user = track[end]
                    note = f"{user.label} #{agent_id} ({user.role}) travels against the direction of lane {where}"
                    return TrueViolation("wrong_way", where, frame, user.label, user.box, agent_id, note)
                break
    return None
