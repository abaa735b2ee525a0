"""Scene configuration: one YAML file per camera view (format in docs/SCENE.md).

Validated with pydantic (`extra="forbid"`). Every error names the YAML line, the key and what
was expected, and all errors of a file are reported at once.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from detector.types import LABELS, Arrow, Colour
from pipeline.errors import SceneError
from pipeline.timing.site import SITE_KEYS, Location, OsdClock, check_timezone

Point = tuple[float, float]
Label = Annotated[str, Field(pattern="^(" + "|".join(LABELS) + ")$")]
Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _nonzero(v: Point | None) -> Point | None:
    if v is not None and math.hypot(*v) == 0:
        raise ValueError("direction vector must not be [0, 0]")
    return v


class Signal(_Strict):
    id: Ident
    box: tuple[float, float, float, float]
    # a head of arrow lamps: the way they point. Its colour counts only while the lit shape reads
    # as this arrow, and a stop line may name it only for that movement. None: round lamps.
    arrow: Arrow | None = None

    @field_validator("box")
    @classmethod
    def _ordered(cls, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        if box[2] <= box[0] or box[3] <= box[1]:
            raise ValueError(f"box must be [x1, y1, x2, y2] with x1 < x2 and y1 < y2, got {list(box)}")
        return box


Movement = Literal["straight", "left", "right", "u_turn"]


class StopLine(_Strict):
    id: Ident
    line: Annotated[list[Point], Field(min_length=2)]
    approach: Point
    signal: Ident
    # the second trigger line of a red-light camera: a vehicle proceeds into the junction when its
    # anchor crosses it (None: when the anchor has travelled `clear_distance` from where it crossed)
    clear_line: Annotated[list[Point], Field(min_length=2)] | None = None
    # pixels the anchor travels beyond its stop-line crossing to count as proceeding; None: the
    # rule's `clear_box_heights` times the vehicle's box height at the crossing
    clear_distance: Annotated[float, Field(gt=0)] | None = None
    # the head controlling each movement, where a movement has its own (an arrow); others: `signal`
    movements: dict[Movement, Ident] = {}

    _check_approach = field_validator("approach")(_nonzero)

    def head_for(self, movement: str | None) -> str:
        """The signal head that controls `movement` over this line (None: not known yet)."""
        return self.movements.get(movement, self.signal) if movement else self.signal  # type: ignore[call-overload]

    @property
    def heads(self) -> list[str]:
        """Every signal head this line's traffic obeys, `signal` first."""
        return list(dict.fromkeys([self.signal, *self.movements.values()]))


class Lane(_Strict):
    id: Ident
    polygon: Annotated[list[Point], Field(min_length=3)]
    direction: Point | None = None
    allowed: list[Label] | None = None

    _check_direction = field_validator("direction")(_nonzero)


class SolidLine(_Strict):
    id: Ident
    line: Annotated[list[Point], Field(min_length=2)]


class RedLightSettings(_Strict):
    enabled: bool = True
    grace_s: Annotated[float, Field(ge=0)] = 0.5
    violate_on: Annotated[list[Colour], Field(min_length=1)] = [Colour.RED]
    min_depth_px: Annotated[float, Field(ge=0)] = 4.0
    # person: a rider whose two-wheeler the detector missed (riders on a detected bike are merged into it)
    labels: Annotated[list[Label], Field(min_length=1)] = ["car", "motorcycle", "bus", "truck", "bicycle", "person"]
    # the two-line trigger: after crossing on red the vehicle must proceed (see StopLine.clear_*)
    clear_box_heights: Annotated[float, Field(gt=0)] = 1.0
    max_clear_s: Annotated[float, Field(gt=0)] = 4.0
    turn_angle_deg: Annotated[float, Field(gt=0, lt=90)] = 35.0


class StopLineOverrunSettings(_Strict):
    """Crossing the stop line on red and stopping before proceeding (off by default)."""

    enabled: bool = False
    grace_s: Annotated[float, Field(ge=0)] = 0.5
    violate_on: Annotated[list[Colour], Field(min_length=1)] = [Colour.RED]
    min_depth_px: Annotated[float, Field(ge=0)] = 4.0
    min_stop_s: Annotated[float, Field(gt=0)] = 1.0
    labels: Annotated[list[Label], Field(min_length=1)] = ["car", "motorcycle", "bus", "truck", "bicycle", "person"]


class SolidLineSettings(_Strict):
    enabled: bool = True
    min_frames: Annotated[int, Field(ge=1)] = 3


class WrongWaySettings(_Strict):
    enabled: bool = True
    min_travel_px: Annotated[float, Field(gt=0)] = 60.0
    min_duration_s: Annotated[float, Field(ge=0)] = 1.0
    min_box_heights: Annotated[float, Field(ge=0)] = 0.5


class LaneClassSettings(_Strict):
    enabled: bool = True
    min_duration_s: Annotated[float, Field(ge=0)] = 2.0


class RuleSettings(_Strict):
    red_light: RedLightSettings = RedLightSettings()
    stop_line_overrun: StopLineOverrunSettings = StopLineOverrunSettings()
    solid_line: SolidLineSettings = SolidLineSettings()
    wrong_way: WrongWaySettings = WrongWaySettings()
    lane_class: LaneClassSettings = LaneClassSettings()


class DetectionSettings(_Strict):
    """Where the detector looks (see docs/SCENE.md, "Detection region and tiles")."""

    # frame; roi (the bounding box of the drawn elements); or a box [x1, y1, x2, y2] drawn by hand
    region: Literal["frame", "roi"] | tuple[float, float, float, float] = "frame"
    margin: Annotated[float, Field(ge=0, le=1)] = 0.1
    tiles: tuple[Annotated[int, Field(ge=1, le=8)], Annotated[int, Field(ge=1, le=8)]] = (1, 1)
    overlap: Annotated[float, Field(ge=0, lt=0.9)] = 0.2
    whole_region: bool = False

    @field_validator("region", mode="before")
    @classmethod
    def _region(cls, value: Any) -> Any:
        # one clear message instead of one per member of the union
        if value in ("frame", "roi"):
            return value
        if isinstance(value, list | tuple) and len(value) == 4 and all(isinstance(c, int | float) for c in value):
            if value[2] <= value[0] or value[3] <= value[1]:
                raise ValueError(f"a region box must be [x1, y1, x2, y2] with x1 < x2 and y1 < y2, got {list(value)}")
            return value
        raise ValueError(f"expected one of 'frame' or 'roi', or a box [x1, y1, x2, y2], got {value!r}")


class Scene(_Strict):
    camera: Ident
    frame_size: tuple[Annotated[int, Field(gt=0)], Annotated[int, Field(gt=0)]]
    signals: list[Signal] = []
    stop_lines: list[StopLine] = []
    lanes: list[Lane] = []
    solid_lines: list[SolidLine] = []
    rules: RuleSettings = RuleSettings()
    detection: DetectionSettings = DetectionSettings()
    # the site: where the camera is and its clock (pipeline/timing/site.py); not in scene_hash
    timezone: str | None = None
    location: Location | None = None
    offence_codes: dict[Ident, Annotated[str, Field(min_length=1, max_length=100)]] | None = None
    osd_clock: OsdClock | None = None

    _check_timezone = field_validator("timezone")(check_timezone)

    def signal(self, signal_id: str) -> Signal:
        return next(s for s in self.signals if s.id == signal_id)

    def scaled_to(self, width: int, height: int) -> Scene:
        """The same scene with every coordinate scaled to a frame of `width` x `height`."""
        sx, sy = width / self.frame_size[0], height / self.frame_size[1]
        if (sx, sy) == (1.0, 1.0):
            return self

        def pts(points: list[Point]) -> list[Point]:
            return [(x * sx, y * sy) for x, y in points]

        def vec(v: Point | None) -> Point | None:
            return None if v is None else (v[0] * sx, v[1] * sy)

        return self.model_copy(
            update={
                "frame_size": (width, height),
                "signals": [
                    s.model_copy(update={"box": (s.box[0] * sx, s.box[1] * sy, s.box[2] * sx, s.box[3] * sy)})
                    for s in self.signals
                ],
                "stop_lines": [
                    s.model_copy(update={
                        "line": pts(s.line), "approach": vec(s.approach),
                        "clear_line": None if s.clear_line is None else pts(s.clear_line),
                        "clear_distance": None if s.clear_distance is None
                        else s.clear_distance * _along(s.approach, sx, sy),
                    })
                    for s in self.stop_lines
                ],
                "lanes": [
                    lane.model_copy(update={"polygon": pts(lane.polygon), "direction": vec(lane.direction)})
                    for lane in self.lanes
                ],
                "solid_lines": [s.model_copy(update={"line": pts(s.line)}) for s in self.solid_lines],
                "detection": self.detection if isinstance(self.detection.region, str) else self.detection.model_copy(
                    update={"region": (self.detection.region[0] * sx, self.detection.region[1] * sy,
                                       self.detection.region[2] * sx, self.detection.region[3] * sy)}),
                "osd_clock": None if self.osd_clock is None else self.osd_clock.model_copy(
                    update={"box": (self.osd_clock.box[0] * sx, self.osd_clock.box[1] * sy,
                                    self.osd_clock.box[2] * sx, self.osd_clock.box[3] * sy)}),
            }
        )

    def detection_windows(self) -> list[tuple[int, int, int, int]] | None:
        """The windows of a frame the detector runs on, from `detection`; None: the whole frame once."""
        from detector.tiling import detection_windows

        d = self.detection
        if d.region == "frame" and d.tiles == (1, 1):
            return None
        region = self.roi(d.margin) if d.region == "roi" else self.region_box()
        return detection_windows(self.frame_size, region, d.tiles, d.overlap, d.whole_region)

    def region_box(self) -> tuple[int, int, int, int] | None:
        """The hand-drawn detection region in whole pixels inside the frame; None when not a box."""
        box = self.detection.region
        if isinstance(box, str):
            return None
        w, h = self.frame_size
        x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
        return (x1, y1, max(x1 + 1, min(w, math.ceil(box[2]))), max(y1 + 1, min(h, math.ceil(box[3]))))

    def roi(self, margin: float = 0.1) -> tuple[int, int, int, int]:
        """Bounding box of every line, lane and signal, grown by `margin` of the frame size."""
        xs: list[float] = []
        ys: list[float] = []
        for s in self.signals:
            xs += [s.box[0], s.box[2]]
            ys += [s.box[1], s.box[3]]
        for pts in [s.line for s in self.stop_lines] + [s.line for s in self.solid_lines] + [
            lane.polygon for lane in self.lanes
        ]:
            xs += [p[0] for p in pts]
            ys += [p[1] for p in pts]
        w, h = self.frame_size
        if not xs:
            return (0, 0, w, h)
        mx, my = margin * w, margin * h
        return (
            max(0, int(min(xs) - mx)),
            max(0, int(min(ys) - my)),
            min(w, int(math.ceil(max(xs) + mx))),
            min(h, int(math.ceil(max(ys) + my))),
        )


def _along(direction: Point, sx: float, sy: float) -> float:
    """How much a length along `direction` grows when x scales by `sx` and y by `sy`."""
    return math.hypot(direction[0] * sx, direction[1] * sy) / math.hypot(*direction)


def _points(value: Any) -> list[tuple[float, float]]:
    """The well-formed [x, y] points of a raw YAML value (malformed ones are pydantic's to report)."""
    if not isinstance(value, list):
        return []
    return [
        (float(p[0]), float(p[1]))
        for p in value
        if isinstance(p, list) and len(p) == 2 and all(isinstance(c, int | float) and _finite(c) for c in p)
    ]


def _finite(value: int | float) -> bool:
    """A coordinate a float can hold (YAML allows 10**400, .inf and .nan; pydantic reports them)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _semantic_errors(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """Cross-field checks on the raw data (ids, references, frame bounds), so they are reported
    together with type errors instead of only after those are fixed."""
    errors: list[tuple[tuple[Any, ...], str]] = []
    size = data.get("frame_size")
    bounds = size if isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size) else None

    def inside(loc: tuple[Any, ...], points: list[tuple[float, float]]) -> None:
        if bounds is None:
            return
        w, h = bounds
        for i, (x, y) in enumerate(points):
            if not (0 <= x <= w and 0 <= y <= h):
                errors.append(
                    (loc + (i,), f"point [{x:g}, {y:g}] lies outside frame_size [{w}, {h}] (expected 0..{w}, 0..{h})")
                )

    def items(section: str) -> list[tuple[int, dict[str, Any]]]:
        value = data.get(section)
        return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)] if isinstance(value, list) else []

    for section in ("signals", "stop_lines", "lanes", "solid_lines"):
        seen: set[str] = set()
        for i, item in items(section):
            if not isinstance(item.get("id"), str):
                continue  # not an id at all: pydantic reports its type
            if item.get("id") in seen:
                errors.append(((section, i, "id"), f"duplicate id {item['id']!r}: ids must be unique within {section}"))
            seen.add(item.get("id"))
    signal_ids = [s.get("id") for _, s in items("signals")]
    arrows = {s.get("id"): s.get("arrow") for _, s in items("signals") if s.get("arrow")}
    for i, s in items("signals"):
        box = _points([s.get("box", [])[:2], s.get("box", [])[2:]]) if isinstance(s.get("box"), list) else []
        inside(("signals", i, "box"), box)
    for i, sl in items("stop_lines"):
        inside(("stop_lines", i, "line"), _points(sl.get("line")))
        inside(("stop_lines", i, "clear_line"), _points(sl.get("clear_line")))
        heads = [(("stop_lines", i, "signal"), sl.get("signal"))] if "signal" in sl else []
        if isinstance(sl.get("movements"), dict):
            heads += [(("stop_lines", i, "movements", k), v) for k, v in sl["movements"].items()]
        for loc, head in heads:
            if head not in signal_ids:
                known = ", ".join(map(str, signal_ids)) or "none defined"
                errors.append((loc, f"names signal {head!r}, which does not exist (signals: {known})"))
            elif isinstance(head, str) and head in arrows and loc[-1] != arrows[head]:
                what = "the line's own signal" if loc[-1] == "signal" else f"the {loc[-1]!r} movement"
                errors.append((loc, f"signal {head!r} shows a {arrows[head]!r} arrow, so it cannot control "
                                    f"{what}: name it under movements as {arrows[head]!r}"))
    for i, lane in items("lanes"):
        inside(("lanes", i, "polygon"), _points(lane.get("polygon")))
    for i, solid in items("solid_lines"):
        inside(("solid_lines", i, "line"), _points(solid.get("line")))
    detection = data.get("detection")
    if isinstance(detection, dict) and isinstance(detection.get("region"), list):
        region = detection["region"]
        inside(("detection", "region"), _points([region[:2], region[2:]]))
    clock = data.get("osd_clock")
    if isinstance(clock, dict) and isinstance(clock.get("box"), list):
        inside(("osd_clock", "box"), _points([clock["box"][:2], clock["box"][2:]]))
    if isinstance(detection, dict) and detection.get("region") == "roi":
        if not any(data.get(k) for k in ("signals", "stop_lines", "lanes", "solid_lines")):
            errors.append(
                (("detection", "region"), "region 'roi' is the bounding box of the signals, stop lines, lanes and "
                 "solid lines, and this scene has none: draw them first or use region 'frame'")
            )
    return errors


def _line_index(
    node: yaml.Node, path: tuple[Any, ...] = (), seen: set[int] | None = None
) -> dict[tuple[Any, ...], int]:
    """Map every key path of a composed YAML document to its 1-based line.

    A node reached again through an alias is not walked again: an anchor that contains itself
    would recurse for ever, and a chain of aliases ("billion laughs") would take exponential time."""
    seen = set() if seen is None else seen
    lines = {path: node.start_mark.line + 1}
    if id(node) in seen:
        return lines
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = path + (key.value if isinstance(key, yaml.ScalarNode) else "?",)
            lines.update(_line_index(value, sub, seen))
            lines[sub] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_line_index(item, path + (i,), seen))
    return lines


def _line_of(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int:
    probe = loc
    while probe not in lines and probe:
        probe = probe[:-1]
    return lines.get(probe, 1)


def _format(loc: tuple[Any, ...], message: str, line: int) -> str:
    def part(p: Any) -> str:  # a key of odd characters (a newline) is shown quoted: one error, one line
        return f"[{p}]" if isinstance(p, int) else f".{p}" if str(p).isprintable() else f".{str(p)!r}"

    key = "".join(part(p) for p in loc).lstrip(".") or "(top level)"
    return f"line {line}: {key}: {message}"


def _pydantic_message(err: Any) -> str:
    kind, loc = err["type"], err["loc"]
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}"
    if kind == "missing" and loc and isinstance(loc[-1], int):
        return f"too few numbers: item {loc[-1]} is missing (a box is [x1, y1, x2, y2], a point [x, y])"
    if kind == "missing":
        return "required key is missing"
    if kind == "string_pattern_mismatch" and "A-Za-z0-9" in err.get("ctx", {}).get("pattern", ""):
        return f"an id may use only letters, digits, '_', '.' and '-', got {err['input']!r}"
    if kind in ("tuple_type", "list_type"):
        return f"expected a list such as [x, y] or [[x, y], ...], got {err.get('input')!r}"
    if kind == "too_short" and loc and loc[-1] in ("line", "polygon"):
        need = 3 if loc[-1] == "polygon" else 2
        got = len(err["input"]) if isinstance(err.get("input"), list) else "?"
        return f"a {loc[-1]} needs at least {need} points [[x, y], ...], got {got}"
    if kind == "literal_error":
        return f"expected one of {err.get('ctx', {}).get('expected', '?')}, got {err.get('input')!r}"
    if kind == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern", "").startswith("^(car"):
        return f"expected one of {', '.join(LABELS)}, got {err['input']!r}"
    got = err.get("input")
    shown = repr(got) if not isinstance(got, dict) else "a mapping"
    return f"{err['msg'].replace('Value error, ', '')} (got {shown})"


def parse_scene(data: Any, path: str = "<scene>", lines: dict[tuple[Any, ...], int] | None = None) -> Scene:
    """Validate already-parsed YAML data; raise SceneError listing every problem."""
    lines = lines or {}
    if not isinstance(data, dict):
        raise SceneError(path, [f"line 1: (top level): expected a mapping of scene keys, got {type(data).__name__}"])
    problems: list[tuple[tuple[Any, ...], str]] = []
    scene = None
    try:
        scene = Scene.model_validate(data)
    except ValidationError as exc:
        problems += [(tuple(e["loc"]), _pydantic_message(e)) for e in exc.errors()]
    problems += _semantic_errors(data)
    if problems or scene is None:
        located = sorted(((_line_of(loc, lines), loc, msg) for loc, msg in problems), key=lambda t: t[0])
        raise SceneError(path, [_format(loc, msg, line) for line, loc, msg in located])
    return scene


def read_yaml_with_lines(
    path: str | Path, error: type[SceneError] = SceneError
) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """A YAML file's data and the line of every key path in it; unreadable files raise `error`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(str(p), ["file not found"]) from None
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8, or a NUL byte in the path
        raise error(str(p), [f"cannot read file: {exc}"]) from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "line ?"
        raise error(str(p), [f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    return data, _line_index(node) if node is not None else {}


def load_scene(path: str | Path) -> Scene:
    """Read and validate a scene file."""
    data, lines = read_yaml_with_lines(path)
    return parse_scene(data, str(path), lines)


def scene_hash(scene: Scene) -> str:
    """SHA-256 of the scene's validated content (comments and key order do not matter)."""
    # the default detection settings are left out, so scenes written before they existed keep their hash
    # the site keys (time zone, location, offence codes, on-screen clock) do not change what is found
    exclude = set(SITE_KEYS) | ({"detection"} if scene.detection == DetectionSettings() else set())
    return hashlib.sha256(scene.model_dump_json(exclude=exclude).encode()).hexdigest()
