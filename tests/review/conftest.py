"""Fixtures for the review app: a data dir with violations and real evidence files, users,
logged-in test clients; and, for the browser tests, headless Chromium (Playwright), a live server
and the helpers to drive them."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from detector.types import Box, Colour
from pipeline.rules.base import Violation
from pipeline.store import Database, EvidenceFile, record_violation, start_run
from pipeline.store.records import PlateSuggestion
from pipeline.store.review_repo import add_user
from review import auth
from review.app import create_app
from tests.databases import open_test_database

PASSWORD = "correct-horse-1"
SECRET = "s" * 48
T0 = datetime(2024, 5, 1, 7, 30, tzinfo=UTC)
MIME = {"clip": "video/mp4", "clip_marked": "video/mp4"}
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its lowest cost, so logins in tests take microseconds, not 50 ms."""
    monkeypatch.setattr(auth, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    auth._dummy_hash.clear()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """An empty SQLite database under a fresh data dir."""
    database = open_test_database(tmp_path / "data")
    yield database
    database.close()


def new_run(db: Database, camera: str = "cam-1") -> int:
    """A run of `camera`."""
    return start_run(
        db, camera_id=camera, source="/clips/junction.mp4", model_name="coco-n", model_sha256="b" * 64,
        scene_sha256="c" * 64, settings_json="{}", settings_hash="d" * 64, software_version="0.1.0",
    )  # fmt: skip


def add_violation(
    db: Database,
    run_id: int,
    n: int,
    *,
    camera: str = "cam-1",
    rule: str = "red_light",
    when: datetime | None = None,
    files: dict[str, bytes] | None = None,
    plate: PlateSuggestion | None = None,
) -> str:
    """Record violation number `n` with evidence files written under the data dir; its public id."""
    public_id = f"{n:032x}"
    when = when or T0 + timedelta(seconds=n)
    folder = f"evidence/{camera}/{when:%Y-%m-%d}/{public_id}"
    files = files or {k: f"{k} of {public_id}".encode() for k in ("before", "during", "after", "vehicle", "clip")}
    evidence = []
    for kind, data in files.items():
        rel = f"{folder}/{kind}.{'mp4' if kind.startswith('clip') else 'jpg'}"
        path = db.data_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        evidence.append(EvidenceFile(kind, rel, sha, len(data), MIME.get(kind, "image/jpeg")))
    v = Violation(
        rule=rule, where="southbound", track_id=n, label="motorcycle", frame_index=10 * n, timestamp=n / 2,
        box=Box(100.0, 200.0, 140.0, 260.0), confidence=0.8, signal_id="main", signal_colour=Colour.RED,
        seconds_into_colour=3.25,
    )  # fmt: skip
    record_violation(
        db, v, camera_id=camera, run_id=run_id, dedup_key=f"k{n}", occurred_at=when, evidence=evidence,
        public_id=public_id, plate=plate,
    )  # fmt: skip
    return public_id


@pytest.fixture
def violations(db: Database) -> list[str]:
    """Three pending violations (public ids, oldest first) with evidence files."""
    run_id = new_run(db)
    return [add_violation(db, run_id, n) for n in (1, 2, 3)]


@pytest.fixture
def users(db: Database) -> dict[str, str]:
    """ada (admin), rita and rob (reviewers), all with `PASSWORD`."""
    hashed = auth.HASHER.hash(PASSWORD)
    for name, role in (("ada", "admin"), ("rita", "reviewer"), ("rob", "reviewer")):
        add_user(db, name, hashed, role)
    return {"ada": "admin", "rita": "reviewer", "rob": "reviewer"}


@pytest.fixture
def app(db: Database):  # type: ignore[no-untyped-def]
    """The review app on `db`."""
    return create_app(db, secret_key=SECRET)


@pytest.fixture
def client(app) -> TestClient:  # type: ignore[no-untyped-def]
    """An anonymous browser."""
    return TestClient(app, follow_redirects=False)


@pytest.fixture
def login(app, users) -> Callable[[str], TestClient]:  # type: ignore[no-untyped-def]
    """`login("rita")`: a browser logged in as that user."""

    def make(name: str) -> TestClient:
        c = TestClient(app, follow_redirects=False)
        r = c.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": csrf(c, "/login")})
        assert r.status_code == 303, r.text
        return c

    return make


def csrf(client: TestClient, page: str) -> str:
    """The CSRF token in the forms of `page`."""
    r = client.get(page)
    assert r.status_code == 200, (page, r.status_code)
    found = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
    assert found, f"no CSRF token on {page}"
    return found.group(1)


def form_value(html: str, name: str) -> str:
    """The value of hidden input `name` in `html`."""
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no input {name}"
    return found.group(1)


# -- browser tests ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """Debian's headless Chromium through Playwright (skips where either is missing)."""
    if not CHROMIUM.exists():
        pytest.skip("needs Chromium at /usr/bin/chromium (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright (pip install playwright)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: $TRAFFICCAM_SCREENSHOTS when set (the README's come from there)."""
    folder = Path(os.environ.get("TRAFFICCAM_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def live_server(db: Database) -> Iterator[str]:
    """The review app on `db` under uvicorn on a free local port; its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(db, secret_key=SECRET), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def wait_until(page, expression: str, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    """Poll `expression` with page.evaluate: Playwright's wait_for_function needs eval, which the
    app's Content-Security-Policy rightly forbids."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {expression}")
        time.sleep(0.1)


def log_in(page, base: str, name: str) -> None:  # type: ignore[no-untyped-def]
    """Log `name` in (password `PASSWORD`) through the login form; lands on the queue."""
    page.goto(base + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/queue")
