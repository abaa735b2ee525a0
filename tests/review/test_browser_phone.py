"""Chromium at phone width (390 px) and at desktop width: the queue and a violation fit the screen,
the evidence comes first and the decision bar does not cover it; and a session cookie replayed
after logout opens nothing and records nothing.

Screenshots go to $TRAFFICCAM_SCREENSHOTS when set (docs/img/ holds a few), else the tmp dir.
"""

from __future__ import annotations

import pytest

from pipeline.store.review_queries import violation_detail
from pipeline.store.review_repo import reviews_of
from tests.review import test_browser as kit
from tests.review.conftest import PASSWORD, VIEWPORT
from tests.review.conftest import wait_until as _wait_until
from tests.review.test_browser import _loaded_images

server = kit.server  # the desktop browser test's server: three violations with real evidence

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
WIDTHS = {"phone": PHONE, "desktop": VIEWPORT}


def _log_in(page, base: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/login")
    page.fill("input[name=name]", "rita")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/queue")


def _assert_fits(page) -> None:  # type: ignore[no-untyped-def]
    """No horizontal scrolling, and "Log out" on screen."""
    scroll_w, inner_w = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_w <= inner_w, f"the page is {scroll_w} px wide in a {inner_w} px window"
    logout = page.locator("button", has_text="Log out").bounding_box()
    assert logout is not None and logout["x"] >= 0 and logout["x"] + logout["width"] <= inner_w, logout


def _overlap(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])  # fmt: skip


@pytest.mark.parametrize("width", list(WIDTHS))
def test_queue_and_violation_fit_the_screen(browser, server, shots, width):
    page = browser.new_page(viewport=WIDTHS[width])
    _log_in(page, server)
    _assert_fits(page)
    assert all(w > 0 for w in _loaded_images(page))
    page.screenshot(path=str(shots / f"queue-{width}.png"))

    page.click("a.open >> nth=0")
    page.wait_for_url("**/violations/*")
    assert all(w > 0 for w in _loaded_images(page))
    _wait_until(page, "document.querySelector('video').readyState >= 2", 15)
    src = page.get_attribute("video", "src")
    assert page.get_attribute("a.original", "href") != src  # the marked clip plays; the original is a link
    assert "vehicle marked" in page.inner_text("figure.clip figcaption")
    _assert_fits(page)
    viewport = WIDTHS[width]
    buttons = [page.locator(f"button.{b}").bounding_box() for b in ("confirm", "reject")]
    during = page.locator("img[data-kind=during]").bounding_box()
    assert during is not None and all(b is not None for b in buttons)
    for b in buttons:  # both decision buttons on screen
        assert (
            0 <= b["x"]
            and b["x"] + b["width"] <= viewport["width"] + 1
            and b["y"] + b["height"] <= viewport["height"] + 1
        )
    # the crossing frame first, whole, on screen, and not under the decision buttons
    assert during["y"] >= 0 and during["y"] + during["height"] <= viewport["height"]
    assert during["width"] >= (0.9 * viewport["width"] if width == "phone" else 300)
    assert not any(_overlap(during, b) for b in buttons)
    if width == "phone":  # a bar fixed at the bottom, one row, that stays when scrolling
        assert all(abs(b["y"] + b["height"] - viewport["height"]) <= 1 for b in buttons)
        assert abs(buttons[0]["y"] - buttons[1]["y"]) <= 1
    else:
        images = [page.locator(f"img[data-kind={k}]").bounding_box() for k in ("before", "during", "after")]
        panel = page.locator("aside.panel").bounding_box()
        assert not any(_overlap(img, panel) for img in images)  # type: ignore[arg-type]
    page.screenshot(path=str(shots / f"violation-{width}.png"))
    if width == "phone":
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        last = page.locator("aside.panel").bounding_box()
        bar = page.locator("button.confirm").bounding_box()
        assert (
            last is not None and bar is not None and last["y"] + last["height"] <= bar["y"] + 1
        )  # nothing stays hidden
    page.close()


def test_a_cookie_replayed_after_logout_opens_nothing_and_records_nothing(browser, server, db):
    owner = browser.new_context(viewport=VIEWPORT)
    page = owner.new_page()
    _log_in(page, server)
    page.click("a.open >> nth=0")
    page.wait_for_url("**/violations/*")
    url, public_id = page.url, page.url.rsplit("/", 1)[-1].split("?")[0]
    token = page.get_attribute("#decide input[name=csrf_token]", "value")
    copied = owner.cookies()
    page.click("button:has-text('Log out')")
    page.wait_for_url("**/login")
    owner.close()

    thief = browser.new_context(viewport=VIEWPORT)
    thief.add_cookies(copied)
    stolen = thief.new_page()
    stolen.goto(url)
    assert "/login" in stolen.url and stolen.is_visible("input[name=password]")
    reply = stolen.request.post(
        f"{server}/violations/{public_id}/decision", form={"csrf_token": token or "", "decision": "confirm"}
    )
    assert "/login" in reply.url or reply.status == 401
    thief.close()
    assert reviews_of(db, public_id) == []
    detail = violation_detail(db, public_id)
    assert detail is not None and detail.item.status.value == "pending"
