"""Logging in, sessions, CSRF, rate limiting and who may see what."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from review.app import SESSION_COOKIE, create_app
from review.auth import LoginLimiter
from tests.review.conftest import PASSWORD, SECRET, csrf

PAGES = ["/queue", "/log", "/violations/{pid}", "/violations/{pid}/next"]
ADMIN_PAGES = ["/admin/users", "/export", "/export/download?format=csv", "/export/download?format=json"]


def post_login(c: TestClient, name: str, password: str, **extra: str):
    return c.post("/login", data={"name": name, "password": password, "csrf_token": csrf(c, "/login"), **extra})


def test_anonymous_is_sent_to_login(client, violations):
    for page in PAGES + ["/admin/users", "/export", "/"]:
        r = client.get(page.format(pid=violations[0]))
        assert r.status_code == 303, page
        assert r.headers["location"].startswith("/login"), page
    assert client.get("/queue?camera=x").headers["location"] == "/login?next=/queue%3Fcamera%3Dx"
    assert client.get("/export/download?format=csv").status_code == 401


def test_anonymous_posts_are_refused(client, violations):
    token = csrf(client, "/login")
    for url in (f"/violations/{violations[0]}/decision", "/admin/users", "/admin/users/ada/disable",
                "/export/selection.zip"):  # fmt: skip
        r = client.post(url, data={"csrf_token": token, "decision": "confirm", "name": "x", "password": "y" * 9})
        assert r.status_code in (303, 401), url
        assert r.status_code == 401 or r.headers["location"].startswith("/login")


def test_login_then_queue_and_the_session_cookie(client, users, violations):
    r = post_login(client, "rita", PASSWORD, next="/queue?camera=cam-1")
    assert r.status_code == 303 and r.headers["location"] == "/queue?camera=cam-1"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(SESSION_COOKIE + "=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert PASSWORD not in cookie and "rita" not in cookie.split(";")[0].split(".")[-1]
    assert client.get("/queue").status_code == 200


def test_wrong_password_and_unknown_user(client, users):
    for name, password in (("rita", "wrong-password"), ("nobody", PASSWORD), ("", "")):
        r = post_login(client, name, password)
        assert r.status_code == 401 and "Wrong name or password" in r.text
    assert client.get("/queue").status_code == 303


def test_open_redirect_after_login_is_refused(client, users):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        r = post_login(TestClient(client.app, follow_redirects=False), "rita", PASSWORD, next=target)
        assert r.headers["location"] == "/queue", target


def test_login_without_csrf_is_refused(client, users):
    client.get("/login")
    r = client.post("/login", data={"name": "rita", "password": PASSWORD})
    assert r.status_code == 403
    r = client.post("/login", data={"name": "rita", "password": PASSWORD, "csrf_token": "guess"})
    assert r.status_code == 403
    assert client.get("/queue").status_code == 303  # still logged out


def test_forged_session_cookie_is_ignored(client, users):
    client.cookies.set(SESSION_COOKIE, "eyJ1c2VyIjogImFkYSJ9.forged.signature")
    assert client.get("/queue").status_code == 303
    other = create_app(client.app.state.db, secret_key="o" * 48)  # same db, another key
    c2 = TestClient(other, follow_redirects=False)
    post_login(c2, "ada", PASSWORD)
    client.cookies.set(SESSION_COOKIE, c2.cookies[SESSION_COOKIE])
    assert client.get("/queue").status_code == 303


def test_rate_limit_five_failures_a_minute(db, users):
    now = [1000.0]
    app = create_app(db, secret_key=SECRET, limiter=LoginLimiter(clock=lambda: now[0]))
    c = TestClient(app, follow_redirects=False)
    for _ in range(5):
        assert post_login(c, "rita", "wrong-password").status_code == 401
    r = post_login(c, "rita", PASSWORD)  # even the right password waits
    assert r.status_code == 429 and "Too many failed logins" in r.text
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert post_login(c, "rob", PASSWORD).status_code == 303  # another user is not locked out
    now[0] += 61
    assert post_login(TestClient(app, follow_redirects=False), "rita", PASSWORD).status_code == 303


def test_rate_limit_per_address_across_names(db, users):
    app = create_app(db, secret_key=SECRET, limiter=LoginLimiter(per_address=8))
    c = TestClient(app, follow_redirects=False)
    for i in range(8):
        post_login(c, f"guess{i}", "wrong-password")
    assert post_login(c, "rita", PASSWORD).status_code == 429


def test_logout_needs_csrf_and_ends_the_session(login):
    c = login("rita")
    assert c.post("/logout").status_code == 403
    r = c.post("/logout", data={"csrf_token": csrf(c, "/queue")})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert c.get("/queue").status_code == 303


def test_disabled_user_loses_the_session_at_once(login, db):
    from pipeline.store.review_repo import set_user_disabled

    c = login("rob")
    set_user_disabled(db, "rob", True)
    assert c.get("/queue").status_code == 303
    r = post_login(TestClient(c.app, follow_redirects=False), "rob", PASSWORD)
    assert r.status_code == 401


@pytest.mark.parametrize("page", PAGES)
def test_reviewer_and_admin_see_review_pages(login, violations, page):
    for name in ("rita", "ada"):
        assert login(name).get(page.format(pid=violations[0])).status_code in (200, 303), (name, page)


def test_reviewer_cannot_manage_users_or_export(login, violations, db):
    rita = login("rita")
    for page in ADMIN_PAGES + ["/export/download?format=zip"]:
        r = rita.get(page)
        assert r.status_code == 403 and "Only admins" in r.text, page
    token = csrf(rita, "/queue")
    assert rita.post("/admin/users", data={"csrf_token": token, "name": "eve", "password": "x" * 10,
                                           "role": "admin"}).status_code == 403  # fmt: skip
    assert rita.post("/admin/users/ada/disable", data={"csrf_token": token}).status_code == 403
    assert rita.post("/export/selection.zip", data={"csrf_token": token, "ids": violations}).status_code == 403
    from pipeline.store.review_repo import get_user

    assert get_user(db, "eve") is None and not get_user(db, "ada").disabled
    assert "Download evidence of ticked" not in rita.get("/queue").text
    assert 'href="/admin/users"' not in rita.get("/queue").text


def test_admin_sees_admin_pages(login, violations):
    ada = login("ada")
    for page in ADMIN_PAGES:
        assert ada.get(page).status_code == 200, page
    assert "Download evidence of ticked" in ada.get("/queue").text


def test_security_headers(login, client):
    r = client.get("/login")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert "no-store" in r.headers["cache-control"]


def test_static_files_by_name_only(client):
    assert client.get("/static/app.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/base.html").status_code == 404
