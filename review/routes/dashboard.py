"""The operations-room dashboard: violations by hour and day, the review backlog, decisions,
camera coverage and daemon health, as server-drawn SVG; every number links to the filtered queue."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pipeline.store.dashboard import Bucket, Dashboard, load_dashboard
from review.auth import CurrentUser, database
from review.charts import STATE_COLOURS, Column, Segment, colour_map, stacked_columns, timeline
from review.web import RULE_LABELS, render

router = APIRouter()
DAYS = 7


@dataclass(frozen=True, slots=True)
class CountRow:
    """One camera and rule: violations in the last 24 h, today and the last `DAYS` days, with links."""

    camera: str
    rule: str
    last_24h: int
    today: int
    week: int
    href_24h: str
    href_today: str
    href_week: str


def queue_link(**params: str) -> str:
    """The queue filtered by `params` (status defaults to all, so counts match what it lists)."""
    return "/queue?" + urlencode({"status": "all", **{k: v for k, v in params.items() if v}})


def _day(t: datetime) -> str:
    return t.astimezone().strftime("%Y-%m-%d")


def _columns(buckets: list[Bucket], starts: list[datetime], fmt: str) -> list[Column]:
    by_start: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for b in buckets:
        by_start[b.start][b.rule] += b.count
    return [
        Column(t.strftime(fmt), tuple(
            Segment(rule, n, queue_link(rule=rule, **{"from": _day(t), "to": _day(t)}), RULE_LABELS.get(rule, rule))
            for rule, n in sorted(by_start[t].items())
        ))
        for t in starts
    ]  # fmt: skip


def count_rows(d: Dashboard) -> list[CountRow]:
    """Per camera and rule: the numbers of the table under the charts."""
    today = d.now.astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=DAYS - 1)
    keys = sorted({(b.camera, b.rule) for b in d.daily} | {(b.camera, b.rule) for b in d.hourly})
    rows = []
    for camera, rule in keys:
        last_24h = sum(b.count for b in d.hourly if (b.camera, b.rule) == (camera, rule))
        todays = sum(b.count for b in d.daily if (b.camera, b.rule) == (camera, rule) and b.start == today)
        week = sum(b.count for b in d.daily if (b.camera, b.rule) == (camera, rule))
        span = {"from": _day(d.now - timedelta(hours=23)), "to": _day(d.now)}
        rows.append(CountRow(
            camera, rule, last_24h, todays, week,
            queue_link(camera=camera, rule=rule, **span),
            queue_link(camera=camera, rule=rule, **{"from": _day(today), "to": _day(today)}),
            queue_link(camera=camera, rule=rule, **{"from": _day(first), "to": _day(today)}),
        ))  # fmt: skip
    return rows


@router.get("/dashboard")
def dashboard(request: Request, user: CurrentUser) -> Response:
    """The whole dashboard, as of now."""
    d = load_dashboard(database(request), days=DAYS)
    hour0 = d.now.astimezone().replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    day0 = d.now.astimezone().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=DAYS - 1)
    hours = [hour0 + timedelta(hours=i) for i in range(24)]
    days = [day0 + timedelta(days=i) for i in range(DAYS)]
    rules = colour_map([b.rule for b in d.daily] + [b.rule for b in d.hourly])
    decided = d.status_counts["confirmed"] + d.status_counts["rejected"]
    coverage = [(c, timeline(d.coverage_since, d.now, c.spans, STATE_COLOURS)) for c in d.coverage]
    return render(
        request, "dashboard.html", d=d, rows=count_rows(d), rule_colours=rules, state_colours=STATE_COLOURS,
        hourly_svg=stacked_columns(_columns(d.hourly, hours, "%H"), rules, label_every=3),
        daily_svg=stacked_columns(_columns(d.daily, days, "%a %d"), rules, width=420),
        decided=decided, coverage=coverage, queue_link=queue_link, days=DAYS,
        oldest_age=(d.now - d.oldest_pending) if d.oldest_pending else None,
    )  # fmt: skip
