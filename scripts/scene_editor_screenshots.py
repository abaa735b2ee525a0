"""The README's scene-editor screenshots, on the synthetic junction of `trafficcam sample render`
(no camera footage goes into the repository): a stop line being drawn, an invalid element, and
the detection region and clock box drawn with their tools, all by an operator.

    .venv/bin/python scripts/scene_editor_screenshots.py SAMPLE_DIR docs/images

SAMPLE_DIR holds `junction.mp4` and `scene.yaml` from `trafficcam sample render -o SAMPLE_DIR/junction.mp4`.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import uvicorn
from argon2 import PasswordHasher
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from pipeline.scenes.versions import save_scene  # noqa: E402
from pipeline.store.db import open_database  # noqa: E402
from pipeline.store.review_repo import add_user  # noqa: E402
from review.app import create_app  # noqa: E402


def drag(page, svg: dict, a: tuple[float, float], b: tuple[float, float]) -> None:  # type: ignore[no-untyped-def]
    """Drag from `a` to `b`, given as shares of the drawing's width and height."""
    page.mouse.move(svg["x"] + svg["width"] * a[0], svg["y"] + svg["height"] * a[1])
    page.mouse.down()
    page.mouse.move(svg["x"] + svg["width"] * b[0], svg["y"] + svg["height"] * b[1], steps=5)
    page.mouse.up()


def main(sample: Path, out: Path) -> None:
    data = Path(tempfile.mkdtemp())
    db = open_database(None, data)
    cap = cv2.VideoCapture(str(sample / "junction.mp4"))
    for _ in range(30):
        ok, frame = cap.read()
    text = (sample / "scene.yaml").read_text()
    camera = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("camera:"))
    save_scene(db, data, camera, text, "sample", note="from trafficcam sample render", reference=frame)
    add_user(db, "otto", PasswordHasher().hash("screenshots-only"), "operator")
    srv = uvicorn.Server(uvicorn.Config(create_app(db, secret_key="s" * 48), host="127.0.0.1", port=8765,
                                        log_level="warning"))  # fmt: skip
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.05)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1366, "height": 800})
        page.goto("http://127.0.0.1:8765/login")
        page.fill("input[name=name]", "otto")
        page.fill("input[name=password]", "screenshots-only")
        page.click("button[type=submit]")
        page.goto(f"http://127.0.0.1:8765/scenes/{camera}")
        time.sleep(2)
        page.keyboard.press("l")
        svg = page.locator("#scene-svg").bounding_box()
        assert svg is not None
        drag(page, svg, (0.55, 0.3), (0.9, 0.3))
        time.sleep(1.5)
        page.screenshot(path=str(out / "scene_editor.jpg"), quality=82)
        item = page.locator("#elements .element[data-kind=stop_lines]").last
        item.locator("input.el-id").fill(page.locator("#elements .element[data-kind=stop_lines] input.el-id").first
                                         .input_value())  # fmt: skip
        item.locator("input.el-id").press("Enter")
        time.sleep(1.5)
        page.screenshot(path=str(out / "scene_editor_invalid.jpg"), quality=82)
        page.evaluate("document.activeElement.blur()")  # the keys go to the drawing again
        page.keyboard.press("Control+z")  # the name, then the line
        page.keyboard.press("Control+z")
        page.keyboard.press("r")
        drag(page, svg, (0.05, 0.3), (0.97, 0.98))
        page.keyboard.press("c")
        drag(page, svg, (0.01, 0.01), (0.3, 0.07))
        page.locator("#elements input.el-clock-format").fill("%Y-%m-%d %H:%M:%S")  # as the sample's clock reads
        page.locator("#elements input.el-clock-format").press("Enter")
        page.locator("#elements input.el-clock-format").scroll_into_view_if_needed()
        time.sleep(1.5)
        page.screenshot(path=str(out / "scene_editor_region.jpg"), quality=82)
        browser.close()
    srv.should_exit = True


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
