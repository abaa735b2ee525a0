"""A real browser (headless Chromium through Playwright) against a real server: log in, open the
queue, open a violation, see its images and clip load, confirm with the keyboard, see the next.

Screenshots (1366x768) go to $TRAFFICCAM_SCREENSHOTS when set, else to the test's tmp dir.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.store import Database
from pipeline.store.review_repo import add_user, reviews_of
from review import auth
from tests.review.conftest import PASSWORD, VIEWPORT, add_violation, live_server, new_run, wait_until

pytestmark = pytest.mark.slow


def _evidence_files() -> dict[str, bytes]:
    """Real JPEGs and an H.264 clip, drawn so each frame says what it is."""
    import cv2
    import numpy as np

    from pipeline.evidence import encode_clip

    def frame(text: str, shift: int, size: tuple[int, int] = (640, 480)) -> np.ndarray:
        w, h = size
        img = np.full((h, w, 3), (70, 80, 90), np.uint8)
        cv2.rectangle(img, (0, int(h * 0.6)), (w, h), (60, 60, 60), -1)
        cv2.line(img, (0, int(h * 0.7)), (w, int(h * 0.7)), (255, 255, 255), 4)
        cv2.rectangle(
            img, (w // 2 - 20, int(h * 0.8) - shift), (w // 2 + 20, int(h * 0.8) - shift + 60), (30, 30, 200), -1
        )
        cv2.putText(img, text, (12, 34), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        return img

    def jpeg(img: np.ndarray) -> bytes:
        return cv2.imencode(".jpg", img)[1].tobytes()

    files = {k: jpeg(frame(k, s)) for k, s in (("before", 0), ("during", 60), ("after", 120))}
    files["vehicle"] = jpeg(cv2.resize(frame("car", 60)[300:420, 280:360], (100, 150)))
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"clip-{os.getpid()}.mp4"
    encode_clip([jpeg(frame(f"t={i / 6:.1f}s", 10 * i)) for i in range(18)], 6.0, out)
    files["clip"] = out.read_bytes()
    marked = [frame(f"t={i / 6:.1f}s", 10 * i) for i in range(18)]
    for i, img in enumerate(marked):  # the box the pipeline draws around the vehicle
        y = int(480 * 0.8) - 10 * i
        cv2.rectangle(img, (300, y), (340, y + 60), (255, 0, 255), 3)
    encode_clip([jpeg(img) for img in marked], 6.0, out)
    files["clip_marked"] = out.read_bytes()
    out.unlink()
    return files


@pytest.fixture
def server(db: Database) -> Iterator[str]:
    """The review app under uvicorn on a free local port, with three violations and user rita."""
    files = _evidence_files()
    run_id = new_run(db)
    for n in (1, 2, 3):
        add_violation(db, run_id, n, files=files)
    add_user(db, "rita", auth.HASHER.hash(PASSWORD), "reviewer")
    with live_server(db) as base:
        yield base


_wait_until = wait_until  # the name the phone test imports


def _loaded_images(page) -> list[int]:  # type: ignore[no-untyped-def]
    _wait_until(page, "[...document.images].every(i => i.complete)", 10)
    return page.eval_on_selector_all("img[src^='/evidence/']", "els => els.map(e => e.naturalWidth)")


def test_review_in_a_real_browser(browser, server, db, shots):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(server + "/queue")
    assert "/login" in page.url
    page.screenshot(path=str(shots / "login.png"))
    page.fill("input[name=name]", "rita")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/queue")
    assert "3 pending violations" in page.inner_text("h1")
    widths = _loaded_images(page)
    assert len(widths) == 3 and all(w > 0 for w in widths), widths
    page.screenshot(path=str(shots / "queue.png"))

    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url("**/violations/*")
    first = page.url.rsplit("/", 1)[-1]
    widths = _loaded_images(page)
    assert len(widths) == 4 and all(w > 0 for w in widths), widths  # before, during, after, vehicle
    _wait_until(page, "document.querySelector('video').readyState >= 2", 15)
    assert page.evaluate("document.querySelector('video').videoWidth") == 640
    page.screenshot(path=str(shots / "violation.png"))

    page.fill("input[name=plate]", "30K-559.78")  # a confirmation needs the plate (none was read here)
    page.keyboard.press("Escape")
    page.keyboard.press("c")  # confirm
    page.wait_for_url(lambda url: first not in url and "/violations/" in url)
    assert "Confirmed" in page.inner_text(".flash.ok")
    assert all(w > 0 for w in _loaded_images(page))
    page.screenshot(path=str(shots / "after_confirm.png"))
    assert reviews_of(db, first)[-1].decision.value == "confirm"

    second = page.url.rsplit("/", 1)[-1]
    page.keyboard.press("r")  # no reason chosen yet: asks for one, submits nothing
    assert page.url.endswith(second) and page.is_visible("fieldset.reasons.ask")
    page.keyboard.press("2")
    page.keyboard.press("r")
    page.wait_for_url(lambda url: second not in url)
    assert reviews_of(db, second)[-1].reason == "signal_misread"
    page.close()


def test_traversal_over_a_real_socket(server, db):
    """A raw request line with ``..`` and ``%2e%2e``, as curl --path-as-is would send it."""
    import httpx

    host, port = server.removeprefix("http://").split(":")
    with httpx.Client(base_url=server) as c:
        token = c.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        c.post("/login", data={"name": "rita", "password": PASSWORD, "csrf_token": token})
        cookie = "; ".join(f"{k}={v}" for k, v in c.cookies.items())
    for path in ("/evidence/../../../../etc/passwd", "/evidence/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                 "/evidence/..%2f..%2f..%2fetc%2fpasswd", "/static/../app.py"):  # fmt: skip
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n".encode())
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
        status = reply.split(b" ", 2)[1]
        assert status in (b"404", b"400"), (path, reply[:200])
        assert b"root:" not in reply and b"import " not in reply


def test_serve_command_starts_the_app(tmp_path):
    """`trafficcam serve` as a process: it answers, keeps its secret private, stops on SIGTERM."""
    import signal
    import subprocess
    import sys

    import httpx

    from tests.conftest import REPO
    from tests.databases import database_env

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tmp_path / "data"
    code = "import sys, typer; from review.cli import register; app = typer.Typer(); register(app); app()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port), "--data-dir", str(data), "--idle-timeout", "5"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **database_env(data)},
    )  # fmt: skip
    try:
        deadline, status = time.monotonic() + 60, None
        while time.monotonic() < deadline and status is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code
            except httpx.TransportError:
                time.sleep(0.2)
        assert status == 200
        assert (data / "review-secret.key").stat().st_mode & 0o777 == 0o600
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:  # uvicorn must not believe the header
            token = c.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
            codes = [
                c.post("/login", data={"name": "eve", "password": "guess-" + str(i), "csrf_token": token},
                       headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
                for i in range(6)
            ]  # fmt: skip
        assert codes == [401] * 5 + [429]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert "no users yet" in err and f"http://127.0.0.1:{port}/" in out
    assert "Traceback" not in err
