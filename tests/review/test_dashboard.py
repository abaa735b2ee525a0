"""The dashboard's numbers are the database's, and each one leads to a queue that lists them."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from pipeline.store import Database, count_violations, list_violations
from pipeline.store.coverage import list_coverage
from review.charts import Column, Segment, share_bar, stacked_columns, timeline
from tests.review.dashboard_data import seed_operations


def expected_counts(db: Database, now: datetime) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(camera, rule) -> (last 24 h by whole local hours, today, last 7 local days), from the rows."""
    hour0 = now.astimezone().replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    today = now.astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    week0 = today - timedelta(days=6)
    out: Counter[tuple[str, str, str]] = Counter()
    for v in list_violations(db):
        key = (v.camera_id, v.rule)
        out[(*key, "24h")] += v.occurred_at >= hour0
        out[(*key, "today")] += v.occurred_at >= today
        out[(*key, "week")] += v.occurred_at >= week0
    keys = {(c, r) for c, r, _ in out if out[(c, r, "week")] or out[(c, r, "24h")]}
    return {k: (out[(*k, "24h")], out[(*k, "today")], out[(*k, "week")]) for k in keys}


def shown_counts(html: str) -> dict[tuple[str, str], tuple[int, int, int]]:
    rows = re.findall(
        r'<tr data-camera="([^"]+)" data-rule="([^"]+)">.*?class="n-24h"[^>]*>(\d+)<.*?class="n-today"[^>]*>(\d+)<'
        r'.*?class="n-week"[^>]*>(\d+)<', html, re.S)  # fmt: skip
    return {(c, r): (int(a), int(b), int(w)) for c, r, a, b, w in rows}


def test_the_dashboard_shows_the_database(login, db: Database) -> None:
    seed_operations(db)
    client: TestClient = login("rita")
    page = client.get("/dashboard")
    assert page.status_code == 200
    html = page.text
    now = datetime.now(UTC)
    assert shown_counts(html) == expected_counts(db, now)
    for status in ("pending", "confirmed", "rejected"):
        n = count_violations(db, status=status)
        assert re.search(rf'data-testid="{status}"><b>{n}</b>', html), status
    assert re.search(r'data-reason="signal_misread"><td>[^<]*</td><td><a [^>]*>2</a>', html)
    assert "<svg" in html and "cdn" not in html.lower() and "<script src=\"http" not in html


def test_each_week_number_links_to_a_queue_listing_as_many(login, db: Database) -> None:
    seed_operations(db)
    client: TestClient = login("rita")
    html = client.get("/dashboard").text
    links = re.findall(r'class="n-week" href="([^"]+)">(\d+)<', html)
    assert len(links) == 3
    for href, n in links:
        queue = client.get(href.replace("&amp;", "&"))
        assert re.search(rf"<h1>{n}\s+violations?</h1>", queue.text), (href, n)


def test_an_empty_database_draws_an_empty_dashboard(login) -> None:
    html = login("rita").get("/dashboard").text
    assert "No violations in the last 7 days" in html and "No `trafficcam watch` instance" in html


def test_coverage_shares_come_from_the_ledger(login, db: Database) -> None:
    seed_operations(db)
    html = login("rita").get("/dashboard").text
    now = datetime.now(UTC)
    start = now.astimezone().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=6)
    for camera in ("junction-north", "junction-south"):
        enforcing = sum(
            (min(p.ended_at or p.last_seen_at, now) - max(p.started_at, start)).total_seconds()
            for p in list_coverage(db, camera) if p.reason.value == "enforcing" and (p.ended_at or now) > start
        )  # fmt: skip
        share = 100 * enforcing / (now - start).total_seconds()
        shown = re.search(rf'<tr data-camera="{camera}">.*?class="enforcing">([\d.]+)%', html, re.S)
        assert shown is not None and float(shown.group(1)) == pytest.approx(share, abs=0.1)


def test_charts_are_svg_with_a_link_and_a_title_per_segment() -> None:
    col = Column("07", (Segment("red_light", 3, "/queue?rule=red_light"), Segment("wrong_way", 1, None)))
    svg = str(stacked_columns([col], {"red_light": "#111111"}))
    assert svg.count("<rect") == 2 and '<a href="/queue?rule=red_light">' in svg and "red_light 3" in svg
    bar = str(share_bar([Segment("enforcing", 3), Segment("stream_down", 1)], {}))
    assert "enforcing: 75.0%" in bar and "stream_down: 25.0%" in bar
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    span = (t0 + timedelta(hours=12), t0 + timedelta(hours=36), "enforcing")
    strip = str(timeline(t0, t0 + timedelta(days=2), [span], {"enforcing": "#0a0"}, width=480))
    assert '<rect x="120.0" y="0" width="240.0"' in strip and 'fill="#0a0"' in strip
