"""The scene editor in a real browser (headless Chromium) on a real Hanoi frame, as an operator:
draw a stop line by dragging, set its approach and signal, save; the saved YAML has it and
`trafficcam scene check` passes; an invalid element shows its error in place and is not saved; an
older version is restored; the review log shows each save. Then a detection region and the
on-screen clock box drawn with their tools and a turn arrow's head saved as valid YAML; the
violation page links the version a violation was judged under; a reviewer gets 403.

Screenshots go to $TRAFFICCAM_SCREENSHOTS when set.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import cv2
import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli.main import app as cli
from pipeline.scenes.versions import save_scene
from pipeline.store import Database
from pipeline.store.review_repo import add_user
from pipeline.store.scene_versions import get_scene_version, link_run, list_scene_versions
from review import auth
from tests.conftest import need_shared
from tests.review.conftest import PASSWORD, add_violation, live_server, log_in, new_run, wait_until

pytestmark = pytest.mark.slow
VIEWPORT = {"width": 1366, "height": 800}
READY = "document.getElementById('editor').dataset.ready === 'yes'"
VALID = "document.getElementById('editor').dataset.valid === 'yes'"


@pytest.fixture
def server(db: Database) -> Iterator[str]:
    """The app with admin ada, operator otto, reviewer rita and camera `hanoi` whose version 1 is
    the shared clip's scene, drawn on a real frame of the clip."""
    folder = need_shared("clips", "hanoi_ltk_hangbai")
    cap = cv2.VideoCapture(str(folder / "16h30.25.9.22.mp4"))
    frame = cap.read()[1]
    cap.release()
    text = (folder / "scene.yaml").read_text().replace("camera: hanoi-ltk-hangbai", "camera: hanoi")
    save_scene(db, db.data_dir, "hanoi", text, "setup", note="from the clip folder", reference=frame)
    hashed = auth.HASHER.hash(PASSWORD)
    for name, role in (("ada", "admin"), ("otto", "operator"), ("rita", "reviewer")):
        add_user(db, name, hashed, role)
    with live_server(db) as base:
        yield base


def _check_cli(path) -> str:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["scene", "check", str(path)])
    assert result.exit_code == 0, result.output
    return result.output


def _to_screen(page, x: float, y: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Page coordinates of scene pixel (x, y) on the editor's SVG."""
    box = page.locator("#scene-svg").bounding_box()
    w, h = page.evaluate("document.getElementById('scene-svg').viewBox.baseVal.width"), page.evaluate(
        "document.getElementById('scene-svg').viewBox.baseVal.height"
    )
    return box["x"] + x * box["width"] / w, box["y"] + y * box["height"] / h


def _drag(page, a: tuple[float, float], b: tuple[float, float]) -> None:  # type: ignore[no-untyped-def]
    page.mouse.move(*_to_screen(page, *a))
    page.mouse.down()
    for i in range(1, 6):
        t = i / 5
        page.mouse.move(*_to_screen(page, a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t))
    page.mouse.up()


def test_draw_save_reject_invalid_and_restore(browser, server, db, shots):
    page = browser.new_page(viewport=VIEWPORT)
    log_in(page, server, "otto")  # an operator: scenes, no users
    page.click("header nav a[href='/scenes']")
    page.wait_for_url("**/scenes")
    page.click("a.button[href='/scenes/hanoi']")
    page.wait_for_url("**/scenes/hanoi")
    wait_until(page, VALID, 15)
    wait_until(page, "document.querySelector('#scene-svg image') !== null", 5)

    # draw a second stop line on the far side of the junction by dragging, set approach and signal
    page.keyboard.press("l")
    _drag(page, (230, 262), (470, 268))
    item = page.locator("#elements .element[data-kind=stop_lines]").last
    item.locator("input.el-id").fill("far_stop")
    item.locator("input.el-id").press("Enter")
    item = page.locator("#elements .element[data-kind=stop_lines]").last
    item.locator("select.el-approach").select_option(label="down")
    item = page.locator("#elements .element[data-kind=stop_lines]").last
    item.locator("select.el-signal").select_option("far_right_repeater")
    wait_until(page, "document.getElementById('editor').dataset.valid === 'yes'", 10)
    page.screenshot(path=str(shots / "scene_editor.png"))
    with page.expect_navigation(timeout=20_000):  # saved, the page reloads with the new version in its history
        page.click("#save")
    wait_until(page, "document.querySelector(\"li[data-version='2']\") !== null", 15)
    wait_until(page, "document.getElementById('editor').dataset.ready === 'yes'", 15)

    saved = get_scene_version(db, "hanoi")
    assert saved is not None and saved.version == 2 and saved.author == "otto"
    data = yaml.safe_load(saved.yaml_text)
    far = next(s for s in data["stop_lines"] if s["id"] == "far_stop")
    assert far["approach"] == [0, 1] and far["signal"] == "far_right_repeater"
    assert abs(far["line"][0][0] - 230) < 4 and abs(far["line"][1][1] - 268) < 4
    assert "2 stop line(s)" in _check_cli(db.data_dir / "scenes" / "hanoi" / "v0002.yaml")

    # an invalid element: a second stop line named like the first; shown in place, not saved
    page.keyboard.press("l")
    _drag(page, (200, 420), (520, 430))
    item = page.locator("#elements .element[data-kind=stop_lines]").last
    item.locator("input.el-id").fill("far_stop")
    item.locator("input.el-id").press("Enter")
    wait_until(page, "document.getElementById('editor').dataset.valid === 'no'", 10)
    error = page.locator("#elements .element[data-kind=stop_lines]").last.locator(".problem").inner_text()
    assert "duplicate id 'far_stop'" in error
    assert page.locator("#scene-svg g.invalid").count() == 1
    page.screenshot(path=str(shots / "scene_editor_invalid.png"))
    page.click("#save")
    wait_until(page, "document.getElementById('status').textContent.startsWith('not saved')", 10)
    assert len(list_scene_versions(db, "hanoi")) == 2

    # restore version 1
    page.goto(server + "/scenes/hanoi")
    page.click("li[data-version='1'] button.restore")
    page.wait_for_url("**/scenes/hanoi")
    assert "Version 1 restored as version 3" in page.inner_text(".flash.ok")
    versions = list_scene_versions(db, "hanoi")
    assert versions[0].version == 3 and versions[0].yaml_text == versions[-1].yaml_text
    assert versions[0].reference_path == versions[-1].reference_path
    page.screenshot(path=str(shots / "scene_editor_versions.png"))

    # the review log: both saves and the roll-back, who and which version
    page.click("header nav a[href='/log']")
    page.wait_for_url("**/log")
    rows = page.locator("table.scene-log tbody tr")
    assert rows.count() == 3
    assert [rows.nth(i).get_attribute("data-version") for i in range(3)] == ["3", "2", "1"]
    newest, saved_row = rows.nth(0).inner_text(), rows.nth(1).inner_text()
    assert "otto" in newest and "rolled back to v1, as v3" in newest
    assert "otto" in saved_row and "saved v2" in saved_row and saved.sha256[:12] in saved_row
    page.close()


def test_region_clock_and_turn_head_then_the_violation_links_its_version(browser, server, db, shots):
    judged = add_violation(db, (run := new_run(db, "hanoi")), 1, camera="hanoi")
    link_run(db, run, list_scene_versions(db, "hanoi")[0].id)
    page = browser.new_page(viewport=VIEWPORT)
    log_in(page, server, "otto")
    page.goto(server + "/scenes/hanoi")
    wait_until(page, VALID, 15)
    page.uncheck("#snap")  # corners exactly where dragged

    page.keyboard.press("r")  # the detection region: drag a box over the road
    _drag(page, (20, 150), (620, 470))
    page.keyboard.press("c")  # the clock box round the burnt-in date and time
    _drag(page, (242, 1), (400, 19))
    assert page.locator("#elements input.el-clock-format").input_value() == "%d/%m/%Y %H:%M:%S"
    stop = page.locator("#elements .element[data-kind=stop_lines]").first
    heads = stop.locator("select.el-signal option").all_inner_texts()
    stop.locator("select.el-movement[data-movement=right]").select_option(heads[-1])
    wait_until(page, VALID, 10)
    assert page.locator("#scene-svg g.single[data-kind=region]").count() == 1
    assert page.locator("#scene-svg g.single[data-kind=clock]").count() == 1
    assert page.locator("#elements select.el-region-mode").input_value() == "box"
    page.screenshot(path=str(shots / "scene_editor_region.png"))
    with page.expect_navigation(timeout=20_000):
        page.click("#save")
    wait_until(page, READY, 15)

    saved = get_scene_version(db, "hanoi")
    assert saved is not None and saved.version == 2
    data = yaml.safe_load(saved.yaml_text)
    x1, y1, x2, y2 = data["detection"]["region"]
    assert abs(x1 - 20) < 4 and abs(y1 - 150) < 4 and abs(x2 - 620) < 4 and abs(y2 - 470) < 4
    assert data["osd_clock"]["format"] == "%d/%m/%Y %H:%M:%S" and abs(data["osd_clock"]["box"][2] - 400) < 4
    assert data["stop_lines"][0]["movements"] == {"right": heads[-1]}
    assert "detection:\n  region: [" in saved.yaml_text
    _check_cli(db.data_dir / "scenes" / "hanoi" / "v0002.yaml")

    # the violation was judged under version 1: its page says so and opens that version
    page.goto(server + f"/violations/{judged}")
    link = page.locator(".scene-version a")
    assert link.inner_text() == "version 1" and saved.sha256[:12] not in page.inner_text(".scene-version")
    link.click()
    page.wait_for_url(re.compile(r".*/scenes/hanoi\?version=1$"))
    wait_until(page, READY, 15)
    assert "Showing version 1" in page.inner_text(".old-version")
    assert page.locator("#scene-svg g.single[data-kind=region]").count() == 0  # version 1 had none
    assert page.locator("li.shown").get_attribute("data-version") == "1"
    with page.expect_navigation(timeout=20_000):  # saved as the newest, on version 1's frame
        page.click("#save")
    wait_until(page, READY, 15)
    third, _, first = list_scene_versions(db, "hanoi")
    assert third.version == 3 and third.sha256 == first.sha256 and third.reference_path == first.reference_path
    assert third.note == "edited from version 1" and page.locator(".old-version").count() == 0
    page.close()


def test_a_reviewer_gets_403_from_the_editor(browser, server):
    page = browser.new_page(viewport=VIEWPORT)
    log_in(page, server, "rita")
    assert page.locator("header nav a[href='/scenes']").count() == 0
    assert page.goto(server + "/scenes/hanoi").status == 403
    page.close()
