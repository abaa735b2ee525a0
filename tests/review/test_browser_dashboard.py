"""The dashboard in a real browser (headless Chromium, Playwright) on a real server: its numbers
match the database, its charts draw, a number leads to the queue that lists as many.

The screenshot goes to $TRAFFICCAM_SCREENSHOTS when set (docs/images/dashboard.png came from it).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.store import Database, count_violations
from pipeline.store.review_repo import add_user
from review import auth
from tests.review.conftest import PASSWORD, VIEWPORT, live_server
from tests.review.dashboard_data import seed_operations
from tests.review.test_dashboard import expected_counts

pytestmark = pytest.mark.slow


@pytest.fixture
def ops_server(db: Database) -> Iterator[str]:
    seed_operations(db)
    add_user(db, "rita", auth.HASHER.hash(PASSWORD), "reviewer")
    with live_server(db) as base:
        yield base


def test_dashboard_numbers_match_the_database_in_a_browser(browser, ops_server, db, shots: Path):
    page = browser.new_page(viewport={**VIEWPORT, "height": 1400})
    page.goto(ops_server + "/login")
    page.fill("input[name=name]", "rita")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/queue")
    page.click("header nav a[href='/dashboard']")
    page.wait_for_url("**/dashboard")

    for status in ("pending", "confirmed", "rejected"):
        shown = int(page.inner_text(f"[data-testid={status}] b"))
        assert shown == count_violations(db, status=status), status
    rows = page.eval_on_selector_all(
        "#counts tbody tr[data-camera]",
        "trs => trs.map(t => [t.dataset.camera, t.dataset.rule, t.querySelector('.n-24h').textContent,"
        " t.querySelector('.n-today').textContent, t.querySelector('.n-week').textContent])",
    )
    shown_counts = {(c, r): (int(a), int(b), int(w)) for c, r, a, b, w in rows}
    assert shown_counts == expected_counts(db, datetime.now(UTC))
    drawn = page.eval_on_selector_all("svg.chart rect", "rs => rs.filter(r => r.getBBox().height > 0).length")
    assert drawn >= 10  # bars of both charts and the coverage shares, really laid out
    titles = page.eval_on_selector_all("svg.chart rect title", "ts => ts.map(t => t.textContent)")
    assert any(t.endswith("Red light 1") or "Red light" in t for t in titles)
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)

    week = page.locator("tr[data-camera='junction-north'][data-rule='red_light'] a.n-week")
    n = int(week.inner_text())
    week.click()
    page.wait_for_url("**/queue?*")
    assert page.inner_text("h1").split()[0] == str(n)
    page.close()
