"""The scene editor in a real browser (headless Chromium) on a real Hanoi frame: draw a stop line
by dragging, set its approach and signal, save; the saved YAML has it and `trafficcam scene check`
passes; an invalid element shows its error in place and is not saved; an older version is restored.

Screenshots go to $TRAFFICCAM_SCREENSHOTS when set (the README's come from there).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli.main import app as cli
from pipeline.scenes.versions import save_scene
from pipeline.store import Database
from pipeline.store.review_repo import add_user
from pipeline.store.scene_versions import get_scene_version, list_scene_versions
from review import auth
from review.app import create_app
from tests.conftest import need_shared
from tests.review.conftest import PASSWORD, SECRET
from tests.review.test_browser import ARGS, CHROMIUM, _wait_until

pytestmark = pytest.mark.slow
VIEWPORT = {"width": 1366, "height": 800}


@pytest.fixture(scope="module")
def chromium():  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.skip("needs Chromium at /usr/bin/chromium (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright (pip install playwright)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def server(db: Database) -> Iterator[str]:
    """The app with admin ada and camera `hanoi` whose version 1 is the shared clip's scene,
    drawn on a real frame of the clip."""
    import uvicorn

    folder = need_shared("clips", "hanoi_ltk_hangbai")
    cap = cv2.VideoCapture(str(folder / "16h30.25.9.22.mp4"))
    frame = cap.read()[1]
    cap.release()
    text = (folder / "scene.yaml").read_text().replace("camera: hanoi-ltk-hangbai", "camera: hanoi")
    save_scene(db, db.data_dir, "hanoi", text, "setup", note="from the clip folder", reference=frame)
    add_user(db, "ada", auth.HASHER.hash(PASSWORD), "admin")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(db, secret_key=SECRET), host="127.0.0.1", port=port,
                                        log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


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


def test_draw_save_reject_invalid_and_restore(chromium, server, db, tmp_path):
    shots = Path(os.environ.get("TRAFFICCAM_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page = chromium.new_page(viewport=VIEWPORT)
    page.goto(server + "/login")
    page.fill("input[name=name]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/queue")
    page.goto(server + "/scenes/hanoi")
    _wait_until(page, "document.getElementById('editor').dataset.valid === 'yes'", 15)
    _wait_until(page, "document.querySelector('#scene-svg image') !== null", 5)

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
    _wait_until(page, "document.getElementById('editor').dataset.valid === 'yes'", 10)
    page.screenshot(path=str(shots / "scene_editor.png"))
    with page.expect_navigation(timeout=20_000):  # saved, the page reloads with the new version in its history
        page.click("#save")
    _wait_until(page, "document.querySelector(\"li[data-version='2']\") !== null", 15)
    _wait_until(page, "document.getElementById('editor').dataset.ready === 'yes'", 15)

    saved = get_scene_version(db, "hanoi")
    assert saved is not None and saved.version == 2 and saved.author == "ada"
    data = yaml.safe_load(saved.yaml_text)
    far = next(s for s in data["stop_lines"] if s["id"] == "far_stop")
    assert far["approach"] == [0, 1] and far["signal"] == "far_right_repeater"
    assert abs(far["line"][0][0] - 230) < 4 and abs(far["line"][1][1] - 268) < 4
    written = db.data_dir / "scenes" / "hanoi" / "v0002.yaml"
    result = CliRunner().invoke(cli, ["scene", "check", str(written)])
    assert result.exit_code == 0 and "2 stop line(s)" in result.output, result.output

    # an invalid element: a second stop line named like the first; shown in place, not saved
    page.keyboard.press("l")
    _drag(page, (200, 420), (520, 430))
    item = page.locator("#elements .element[data-kind=stop_lines]").last
    item.locator("input.el-id").fill("far_stop")
    item.locator("input.el-id").press("Enter")
    _wait_until(page, "document.getElementById('editor').dataset.valid === 'no'", 10)
    error = page.locator("#elements .element[data-kind=stop_lines]").last.locator(".problem").inner_text()
    assert "duplicate id 'far_stop'" in error
    assert page.locator("#scene-svg g.invalid").count() == 1
    page.screenshot(path=str(shots / "scene_editor_invalid.png"))
    page.click("#save")
    _wait_until(page, "document.getElementById('status').textContent.startsWith('not saved')", 10)
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
    page.close()
