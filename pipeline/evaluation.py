"""Score a pipeline report against a clip's hand-checked `truth.yaml` (DESIGN.md, "Ground truth and reports").

A reported violation matches a true one when `rule` and `where` agree and the frames are within
`tolerance_s` seconds (at the truth's fps). Matching is one-to-one and exact: a small assignment
solver picks the pairing with the most true positives, then the most reports set aside on
`uncertain` entries, then the smallest total frame distance.
"""

from __future__ import annotations

import json
import logging
import math
import reprlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from detector.types import Colour
from pipeline.errors import TrafficcamError

log = logging.getLogger(__name__)

Frame = Annotated[int, Field(ge=0)]


class _Tolerant(BaseModel):
    # truth files carry extra keys (note, box, crossings_on_green, ...) and reports grow fields
    model_config = ConfigDict(extra="ignore", frozen=True)


class SignalChange(_Tolerant):
    """One change point of a signal timeline: `colour` holds from `start_frame` to the next change."""

    start_frame: Frame
    colour: Colour


class TruthEvent(_Tolerant):
    """One hand-checked violation (or doubtful case) in a truth file."""

    rule: str
    where: str
    frame: Frame
    label: str | None = None
    box: tuple[float, float, float, float] | None = None
    note: str | None = None


class Truth(_Tolerant):
    """A clip's `truth.yaml`: what really happens, frame indices 0-based."""

    video: str
    fps: Annotated[float, Field(gt=0)]
    frames: Annotated[int, Field(gt=0)]
    signals: dict[str, list[SignalChange]] = {}
    violations: list[TruthEvent] = []
    uncertain: list[TruthEvent] = []
    crossings_on_green: int | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Truth:
        for sid, timeline in self.signals.items():
            starts = [c.start_frame for c in timeline]
            if not starts or starts[0] != 0 or starts != sorted(set(starts)):
                raise ValueError(
                    f"signals.{sid}: expected change points starting at frame 0, strictly increasing; "
                    f"got start_frames {starts}"
                )
        late = [e.frame for e in (*self.violations, *self.uncertain) if e.frame >= self.frames]
        if late:
            raise ValueError(f"event frames {late} lie past the clip's last frame {self.frames - 1}")
        return self


class ReportedViolation(_Tolerant):
    """One violation as the pipeline's `--report` JSON lists it (fields not used here are dropped)."""

    rule: str
    where: str
    frame: Frame
    id: str | int | None = None
    time_s: float | None = None
    label: str | None = None
    track_id: int | None = None
    confidence: float | None = None
    box: tuple[float, float, float, float] | None = None


class Report(_Tolerant):
    """The JSON report `trafficcam process ... --report out.json` writes."""

    video: str | None = None
    fps: float | None = None
    frames: int | None = None
    signals: dict[str, list[SignalChange]] = {}
    violations: list[ReportedViolation] = []


_M = TypeVar("_M", bound=BaseModel)
_E = TypeVar("_E", TruthEvent, ReportedViolation)


def _validate(model: type[_M], data: Any, source: str) -> _M:
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg'].replace('Value error, ', '')}"
            + (f" (got {reprlib.repr(e['input'])})" if e["type"] != "value_error" else "")
            for e in exc.errors()
        ]
        raise TrafficcamError(
            f"{source}: not a valid {model.__name__.lower()} file\n  " + "\n  ".join(problems)
        ) from None


def _load(path: str | Path, model: type[_M], parse: Callable[[str], Any]) -> _M:
    kind = model.__name__.lower()
    try:
        data = parse(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrafficcamError(f"{path}: {kind} file not found; check the path") from None
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:  # JSONDecodeError is a ValueError
        raise TrafficcamError(f"{path}: cannot read {kind} file: {exc}") from None
    return _validate(model, data, str(path))


def load_truth(path: str | Path) -> Truth:
    """Read and validate a clip's `truth.yaml`; raise TrafficcamError listing every problem."""
    return _load(path, Truth, yaml.safe_load)


def load_report(path: str | Path) -> Report:
    """Read and validate a pipeline `--report` JSON file; raise TrafficcamError listing every problem."""
    return _load(path, Report, json.loads)


@dataclass(frozen=True)
class Match:
    """A reported violation paired with the truth entry it stands for."""

    truth: TruthEvent
    reported: ReportedViolation

    @property
    def frame_offset(self) -> int:
        """Reported frame minus true frame."""
        return self.reported.frame - self.truth.frame


@dataclass(frozen=True)
class RuleScore:
    """Outcome for one rule. `set_aside`: reports that hit an `uncertain` entry (not scored);
    `duplicates`: the false positives that are a second report of a road user already reported
    (see `_duplicates`): one vehicle, two reports."""

    rule: str
    matched: tuple[Match, ...] = ()
    false_positives: tuple[ReportedViolation, ...] = ()
    misses: tuple[TruthEvent, ...] = ()
    set_aside: tuple[Match, ...] = ()
    duplicates: tuple[ReportedViolation, ...] = ()

    @property
    def tp(self) -> int:
        return len(self.matched)

    @property
    def fp(self) -> int:
        return len(self.false_positives)

    @property
    def fn(self) -> int:
        return len(self.misses)

    @property
    def precision(self) -> float:
        """tp / (tp + fp); 1.0 when nothing was reported (no false alarm was raised)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """tp / (tp + fn); 1.0 when there was nothing to find."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass(frozen=True)
class MatchResult:
    """Per-rule scores of one report against one truth file, rules in name order."""

    rules: dict[str, RuleScore]
    tolerance_frames: float

    @property
    def total(self) -> RuleScore:
        """All rules pooled into one score (rule name "all")."""
        return _pool("all", self.rules.values())


def _pool(rule: str, scores: Iterable[RuleScore]) -> RuleScore:
    """One score holding every pair, false positive, miss and set-aside of `scores`."""
    scores = list(scores)
    return RuleScore(
        rule,
        matched=tuple(m for s in scores for m in s.matched),
        false_positives=tuple(r for s in scores for r in s.false_positives),
        misses=tuple(e for s in scores for e in s.misses),
        set_aside=tuple(m for s in scores for m in s.set_aside),
        duplicates=tuple(r for s in scores for r in s.duplicates),
    )


def _by_place(events: Iterable[_E]) -> dict[tuple[str, str], list[_E]]:
    """Events grouped by (rule, where): only events in the same group can match."""
    groups: dict[tuple[str, str], list[_E]] = defaultdict(list)
    for e in events:
        groups[(e.rule, e.where)].append(e)
    return groups


def _min_cost_assignment(cost: list[list[float]]) -> list[int]:
    """Column for each row at the least total cost (Hungarian algorithm, needs rows <= columns)."""
    n, m = len(cost), len(cost[0])
    u, v, owner, way = [0.0] * (n + 1), [0.0] * (m + 1), [0] * (m + 1), [0] * (m + 1)
    for row in range(1, n + 1):
        owner[0], j0 = row, 0
        slack, used = [math.inf] * (m + 1), [False] * (m + 1)
        while owner[j0]:
            used[j0], i0, delta, j1 = True, owner[j0], math.inf, 0
            for j in range(1, m + 1):
                if not used[j]:
                    reduced = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if reduced < slack[j]:
                        slack[j], way[j] = reduced, j0
                    if slack[j] < delta:
                        delta, j1 = slack[j], j
            for j in range(m + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    slack[j] -= delta
            j0 = j1
        while j0:
            owner[j0], j0 = owner[way[j0]], way[j0]
    column = [-1] * n
    for j in range(1, m + 1):
        if owner[j]:
            column[owner[j] - 1] = j - 1
    return column


def _assign(reports: list[ReportedViolation], targets: list[tuple[TruthEvent, bool]], tol: float) -> dict[int, int]:
    """Optimal one-to-one pairing of reports with (truth event, is_uncertain) targets; report -> target index.

    Weights make the objective lexicographic: most true positives, then most set-asides, then the
    least total (normalised) frame distance. Unmatched rows take one of the zero-cost padding columns.
    """
    if not reports or not targets:
        return {}
    n = len(reports)
    w_uncertain = n + 1.0  # beats any total of normalised distances (each < 1)
    w_true = (n + 1.0) ** 2  # beats any number of set-asides plus distances
    cost = [[0.0] * (len(targets) + n) for _ in reports]
    for i, rep in enumerate(reports):
        for j, (event, uncertain) in enumerate(targets):
            distance = abs(rep.frame - event.frame)
            if distance <= tol:
                cost[i][j] = -(w_uncertain if uncertain else w_true) + distance / (tol + 1.0)
    return {i: j for i, j in enumerate(_min_cost_assignment(cost)) if j < len(targets) and cost[i][j] < 0}


def _score_group(
    rule: str, reports: list[ReportedViolation], true: list[TruthEvent], doubtful: list[TruthEvent], tol: float
) -> RuleScore:
    targets = [(e, False) for e in true] + [(e, True) for e in doubtful]
    pairs = _assign(reports, targets, tol)
    hit = set(pairs.values())
    false_positives = tuple(r for i, r in enumerate(reports) if i not in pairs)
    return RuleScore(
        rule,
        matched=tuple(Match(targets[j][0], reports[i]) for i, j in pairs.items() if not targets[j][1]),
        false_positives=false_positives,
        misses=tuple(e for j, (e, uncertain) in enumerate(targets) if not uncertain and j not in hit),
        set_aside=tuple(Match(targets[j][0], reports[i]) for i, j in pairs.items() if targets[j][1]),
        duplicates=_duplicates(false_positives, [reports[i] for i in pairs], tol),
    )


def _duplicates(
    false_positives: Sequence[ReportedViolation], paired: Sequence[ReportedViolation], tol: float
) -> tuple[ReportedViolation, ...]:
    """The false positives that repeat another report of the same place: within `tol` frames of a
    report paired with a truth entry (or of an earlier false positive), with box centres closer
    than the taller box's height (one road user moves less than its own length between the two;
    a rider's `person` box and their bike's box, one frame apart, are nearly one box)."""
    seen = list(paired)
    out = []
    for r in sorted(false_positives, key=lambda r: r.frame):
        if r.box is not None and any(_same_road_user(r, o, tol) for o in seen):
            out.append(r)
        seen.append(r)
    return tuple(out)


def _same_road_user(a: ReportedViolation, b: ReportedViolation, tol: float) -> bool:
    if a.box is None or b.box is None or abs(a.frame - b.frame) > tol:
        return False
    (ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2) = a.box, b.box
    distance = math.hypot((ax1 + ax2 - bx1 - bx2) / 2, (ay1 + ay2 - by1 - by2) / 2)
    return distance < max(ay2 - ay1, by2 - by1)


def _warn_if_other_clip(truth: Truth, report: Report) -> None:
    if report.video and Path(report.video).name != Path(truth.video).name:
        log.warning("report is for video %r but the truth is for %r", report.video, truth.video)
    if report.fps and abs(report.fps - truth.fps) > 0.01 * truth.fps:
        log.warning("report fps %.3f differs from truth fps %.3f; frame indices may not line up", report.fps, truth.fps)


def match_violations(
    truth: Truth | Mapping[str, Any], report: Report | Mapping[str, Any], *, tolerance_s: float = 1.0
) -> MatchResult:
    """Pair reported violations with true ones, one-to-one, per rule.

    Args:
        truth: the clip's truth (a `Truth` or the parsed YAML mapping).
        report: the pipeline report (a `Report` or the parsed JSON mapping).
        tolerance_s: largest frame gap, in seconds at the truth's fps, that still matches (inclusive).

    Returns:
        Scores per rule. A report on an `uncertain` entry is set aside (neither tp nor fp); an
        unmatched `uncertain` entry is not a miss. Precision is 1.0 when nothing was reported and
        recall is 1.0 when there was nothing to find.
    """
    if not tolerance_s >= 0:
        raise ValueError(f"tolerance_s must be a number of seconds >= 0, got {tolerance_s!r}")
    truth, report = _validate(Truth, truth, "<truth>"), _validate(Report, report, "<report>")
    _warn_if_other_clip(truth, report)
    tol = tolerance_s * truth.fps
    reported, true, doubtful = _by_place(report.violations), _by_place(truth.violations), _by_place(truth.uncertain)
    places = sorted(reported.keys() | true.keys() | doubtful.keys())
    parts = {p: _score_group(p[0], reported.get(p, []), true.get(p, []), doubtful.get(p, []), tol) for p in places}
    rules = sorted({rule for rule, _ in places})
    return MatchResult({r: _pool(r, (s for (rule, _), s in parts.items() if rule == r)) for r in rules}, tol)


def _colour_per_frame(timeline: list[SignalChange], frames: int) -> list[Colour | None]:
    """Colour at each frame 0..frames-1; None before the first change point."""
    colours: list[Colour | None] = [None] * frames
    for change in sorted(timeline, key=lambda c: c.start_frame):
        colours[change.start_frame :] = [change.colour] * max(0, frames - change.start_frame)
    return colours


def signal_agreement(truth: Truth | Mapping[str, Any], report: Report | Mapping[str, Any]) -> dict[str, float]:
    """Share of frames 0..truth.frames-1 where the report's colour equals the truth's, per truth signal.

    A signal missing from the report scores 0.0; report signals the truth does not list are ignored.
    """
    truth, report = _validate(Truth, truth, "<truth>"), _validate(Report, report, "<report>")
    agreement: dict[str, float] = {}
    for sid, timeline in truth.signals.items():
        expected = _colour_per_frame(timeline, truth.frames)
        seen = _colour_per_frame(report.signals.get(sid, []), truth.frames)
        agreement[sid] = sum(a == b for a, b in zip(expected, seen, strict=True)) / truth.frames
    return agreement


@dataclass(frozen=True)
class ClipResult:
    """Everything scored for one clip."""

    clip: str
    matches: MatchResult
    signals: dict[str, float]


def evaluate_clip(
    clip: str, truth: Truth | Mapping[str, Any], report: Report | Mapping[str, Any], *, tolerance_s: float = 1.0
) -> ClipResult:
    """Match violations and compare signal timelines of one clip."""
    truth, report = _validate(Truth, truth, "<truth>"), _validate(Report, report, "<report>")
    return ClipResult(clip, match_violations(truth, report, tolerance_s=tolerance_s), signal_agreement(truth, report))


def _columns(header: list[str], rows: list[list[str]], left: int) -> list[str]:
    """Align rows under a header: the first `left` columns flush left, the rest flush right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in [header, *rows]
    ]


def format_table(results: Iterable[ClipResult]) -> str:
    """Plain-text table: per clip and rule tp, fp, fn, precision, recall (plus "all"), then signal agreement."""
    results = list(results)
    rows, signal_rows = [], []
    for res in results:
        for score in [*res.matches.rules.values(), res.matches.total]:
            nums = [str(score.tp), str(score.fp), str(score.fn), f"{score.precision:.2f}", f"{score.recall:.2f}"]
            rows.append([res.clip, score.rule, *nums])
        signal_rows += [[res.clip, sid, f"{share:.3f}"] for sid, share in res.signals.items()]
    if len(results) > 1:  # totals over every clip, per rule and overall
        names = sorted({name for res in results for name in res.matches.rules})
        for name in [*names, "all"]:
            parts = [res.matches.total if name == "all" else res.matches.rules.get(name) for res in results]
            score = _pool(name, [p for p in parts if p is not None])
            nums = [str(score.tp), str(score.fp), str(score.fn), f"{score.precision:.2f}", f"{score.recall:.2f}"]
            rows.append(["TOTAL", name, *nums])
    lines = _columns(["clip", "rule", "tp", "fp", "fn", "precision", "recall"], rows, left=2)
    duplicates = [(res.clip, r) for res in results for r in res.matches.total.duplicates]
    lines.append("")
    lines.append(
        f"one vehicle, two reports: {len(duplicates)} of the false positives repeat a report of the same "
        "road user" + "".join(f"\n  {clip} {r.rule} at {r.where}, frame {r.frame}" for clip, r in duplicates)
    )
    if signal_rows:
        lines += ["", *_columns(["clip", "signal", "agreement"], signal_rows, left=2)]
    return "\n".join(lines)
