"""Server-side sessions: a copied cookie dies with logout, a new password, a disabled user or an
admin's "end sessions"; idle and absolute timeouts; what the cookie and the table hold."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

from fastapi.testclient import TestClient

from pipeline.store.review_repo import reviews_of
from pipeline.store.review_sessions import SessionPolicy
from review.app import SESSION_COOKIE, create_app
from tests.databases import sql
from tests.review.conftest import PASSWORD, SECRET, csrf
from tests.review.test_web_auth import post_login


def _copy(c: TestClient) -> TestClient:
    """Another browser holding a copy of `c`'s session cookie (as a thief would)."""
    thief = TestClient(c.app, follow_redirects=False)
    thief.cookies.set(SESSION_COOKIE, c.cookies[SESSION_COOKIE])
    return thief


def _sessions(db, name: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    return sql(
        db.data_dir,
        "SELECT s.address, s.user_agent, s.ended_at, s.end_reason FROM sessions s JOIN users u ON u.id = s.user_id "
        "WHERE u.name = :name ORDER BY s.created_at",
        name=name,
    )


def test_cookie_holds_only_a_token_and_the_row_says_who(login, db):
    c = login("rita")
    assert c.get("/queue").status_code == 200  # shows (and drops) the "Logged in as" message
    payload = c.cookies[SESSION_COOKIE].split(".")[0]
    data = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    assert list(data) == ["sid"] and len(data["sid"]) >= 40
    [(address, agent, ended, reason)] = _sessions(db, "rita")
    assert address == "testclient" and agent and ended is None and reason is None


def test_copied_cookie_is_dead_after_logout_and_records_nothing(login, db, violations):
    c = login("rita")
    thief = _copy(c)
    token = csrf(thief, "/queue")  # the copy works while the session lives
    assert c.post("/logout", data={"csrf_token": csrf(c, "/queue")}).status_code == 303
    assert thief.get("/queue").headers["location"].startswith("/login")
    r = thief.post(f"/violations/{violations[0]}/decision", data={"csrf_token": token, "decision": "confirm"})
    assert r.status_code in (303, 401) and reviews_of(db, violations[0]) == []
    assert thief.get("/evidence/1").status_code == 401
    assert [s[3] for s in _sessions(db, "rita")] == ["logout"]


def test_copied_admin_cookie_cannot_export_after_logout(login, violations):
    ada = login("ada")
    thief = _copy(ada)
    assert thief.get("/export/download?format=csv").status_code == 200
    ada.post("/logout", data={"csrf_token": csrf(ada, "/queue")})
    assert thief.get("/export/download?format=csv").status_code == 401


def test_admin_ends_every_session_of_a_user(login, db):
    laptop, phone, ada = login("rita"), login("rita"), login("ada")
    rob = login("rob")
    page = ada.get("/admin/users").text
    assert "End sessions" in page and "testclient" in page
    r = ada.post("/admin/users/rita/logout", data={"csrf_token": csrf(ada, "/admin/users")})
    assert r.status_code == 303 and "2 open session(s) of rita ended" in ada.get("/admin/users").text
    assert laptop.get("/queue").status_code == 303 and phone.get("/queue").status_code == 303
    assert rob.get("/queue").status_code == 200 and ada.get("/queue").status_code == 200
    assert login("rita").get("/queue").status_code == 200  # she may log in again


def test_admin_password_reset_ends_sessions_and_takes_the_new_password(login, db):
    rita, ada = login("rita"), login("ada")
    token = csrf(ada, "/admin/users")
    r = ada.post("/admin/users/rita/password", data={"csrf_token": token, "password": "short"})
    assert "at least 8 characters" in ada.get(r.headers["location"]).text
    assert rita.get("/queue").status_code == 200  # a refused reset changes nothing
    ada.post("/admin/users/rita/password", data={"csrf_token": token, "password": "a-new-password"})
    assert rita.get("/queue").status_code == 303
    fresh = TestClient(ada.app, follow_redirects=False)
    assert post_login(fresh, "rita", PASSWORD).status_code == 401
    assert post_login(fresh, "rita", "a-new-password").status_code == 303
    assert _sessions(db, "rita")[0][3] == "password"


def test_disabling_ends_the_session_rows(login, db):
    rob, ada = login("rob"), login("ada")
    ada.post("/admin/users/rob/disable", data={"csrf_token": csrf(ada, "/admin/users")})
    assert rob.get("/queue").status_code == 303
    assert [s[3] for s in _sessions(db, "rob")] == ["disabled"]


def test_idle_timeout_and_absolute_lifetime(db, users):
    idle = create_app(db, secret_key=SECRET, sessions=SessionPolicy(idle=timedelta(seconds=1)))
    c = TestClient(idle, follow_redirects=False)
    post_login(c, "rita", PASSWORD)
    for _ in range(3):  # in use: it lives on past the idle timeout
        time.sleep(0.4)
        assert c.get("/queue").status_code == 200
    time.sleep(1.1)
    assert c.get("/queue").status_code == 303
    short = create_app(db, secret_key=SECRET, sessions=SessionPolicy(lifetime=timedelta(seconds=2)))
    c = TestClient(short, follow_redirects=False)
    post_login(c, "rob", PASSWORD)
    kept = _copy(c)  # a copy without the cookie's own Max-Age: the server must refuse it
    time.sleep(0.5)
    assert c.get("/queue").status_code == 200
    time.sleep(1.6)
    assert kept.get("/queue").status_code == 303
    assert [s[3] for s in _sessions(db, "rita")] == ["idle"] and [s[3] for s in _sessions(db, "rob")] == ["expired"]
