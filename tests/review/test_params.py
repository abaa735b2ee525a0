"""Malformed parameters are a 4xx with a clear message, never a 500: the values issue 20 found,
then a property test (hypothesis) throwing hostile values at every parameter of every route.

The routes are enumerated from the app itself, so a new route is fuzzed without editing this file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.store.review_repo import reviews_of
from review.app import create_app
from review.auth import LoginLimiter
from tests.review.conftest import PASSWORD, SECRET, csrf

ISSUE_CASES = [
    ("/queue?older=1e29", "older must be a whole number"),
    ("/queue?older=9223372036854775808", "older must be a whole number"),  # 2**63
    ("/queue?newer=2%5E63", "newer must be a whole number"),
    ("/log?before=1e26", "before must be a whole number"),
    ("/queue?to=9999-12-31", "to must be between 1970-01-01 and 2100-12-31"),
    ("/queue/start?from=0001-01-01", "from must be between"),
    ("/violations/{pid}/next?to=9999-12-31", "to must be between"),
    ("/export/download?format=csv&to=9999-12-31", "to must be between"),
    ("/queue?from=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%94-05-01", "from must be a date"),  # full-width digits
]

HOSTILE = [
    "1e29", "2^63", str(2**63), str(2**64), str(2**63 - 1), "-1", "0", "+1", " 1", "1 ", "0x10", "1_000",
    "１２", "٣", "²", "߁", "9" * 30, "9999-12-31", "0001-01-01", "2024-02-30", "2024-5-1", "２０２４-05-01",
    "../../etc/passwd", "..%2f..", "\x00", "a\x00b", "\u202e", "\r\nSet-Cookie: x=1", "' OR 1=1 --",
    "<script>alert(1)</script>", "", " ", "a" * 3000, "NaN", "inf", "-0", "1.0", "true", "null", "[]",
    "confirm", "reject", "all", "zip", "json", "/queue", "//evil.example", "ada",
]  # fmt: skip

SWEEP = ["1e29", "2^63", str(2**63), "9" * 30, "-1", "１２", "٣", "²", "9999-12-31", "0001-01-01", "2024-02-30",
         "\x00", "a" * 3000, "", "../../etc/passwd"]  # fmt: skip
"""Tried on every declared parameter of every route, one at a time (the rest stays valid)."""

EXTRA_QUERY = ("status", "camera", "rule", "from", "to", "format", "next", "older", "newer", "before")
"""Read from `request.query_params` by some pages rather than declared, so fuzzed everywhere."""

SKIP_ROUTES = {"/logout"}  # ends the fuzzer's own session: covered by test_sessions


def _value(extra: list[str]) -> st.SearchStrategy[str]:
    printable = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
    numbers = st.integers(min_value=-(2**80), max_value=2**80).map(str)
    hostile = st.sampled_from(HOSTILE + extra)
    return st.one_of(hostile, hostile, hostile, printable, numbers, st.floats().map(str))


def _params(route: APIRoute) -> tuple[list[str], list[str], list[str]]:
    """Path, query and form parameter names of `route`, its dependencies' included."""
    deps = list(_walk(route.dependant))
    path = sorted({p.alias for d in deps for p in d.path_params})
    query = sorted({p.alias for d in deps for p in d.query_params})
    form = sorted({p.alias for d in deps for p in d.body_params})
    return path, query, form


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def _routes(app) -> list[APIRoute]:  # type: ignore[no-untyped-def]
    return [r for r in _api_routes(app.routes) if r.path not in SKIP_ROUTES]


def _api_routes(routes: list) -> Iterator[APIRoute]:  # type: ignore[type-arg]
    """Every APIRoute, inside included routers too (FastAPI >= 0.16x keeps them wrapped; none of
    the app's routers has a prefix)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None) or route
        if inner is not route or hasattr(route, "routes"):
            yield from _api_routes(list(getattr(inner, "routes", [])))


@pytest.fixture
def fuzz_app(db):  # type: ignore[no-untyped-def]
    """The app with a login limiter that never trips: the fuzzer logs in again and again."""
    return create_app(db, secret_key=SECRET, limiter=LoginLimiter(max_failures=10**9, per_address=10**9))


class Admin:
    """An admin's browser that logs in again when a fuzzed request ended its session."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.login()

    def login(self) -> None:
        self.client = TestClient(self.app, follow_redirects=False)
        r = self.client.post(
            "/login", data={"name": "ada", "password": PASSWORD, "csrf_token": csrf(self.client, "/login")}
        )
        assert r.status_code == 303, r.text
        self.token = csrf(self.client, "/queue")

    def send(self, method: str, url: str, form: dict[str, str]):  # type: ignore[no-untyped-def]
        if method == "POST":
            r = self.client.post(url, data={"csrf_token": self.token, **form})
        else:
            r = self.client.request(method, url)
        if r.status_code == 401 or r.headers.get("location", "").startswith("/login"):
            self.login()
        return r


@pytest.mark.parametrize("url, message", ISSUE_CASES)
def test_values_from_the_issue_are_a_clear_400(login, violations, url, message):
    r = login("ada").get(url.format(pid=violations[0]))
    assert r.status_code == 400 and message in r.text, (url, r.status_code, r.text[-300:])


def test_evidence_ids_are_ascii_digits_only(login, violations):
    c = login("rita")
    assert c.get("/evidence/1").status_code == 200
    for raw in ("²", "１", "١", "۱", "߁", "1e0", "+1", " 1", "01 ", "9" * 19, str(2**63)):
        assert c.get("/evidence/" + quote(raw, safe="")).status_code == 404, raw


def test_expected_superscript_is_a_400_and_records_nothing(login, db, violations):
    c = login("rita")
    r = c.post(f"/violations/{violations[0]}/decision",
               data={"csrf_token": csrf(c, "/queue"), "decision": "confirm", "expected": "²"})  # fmt: skip
    assert r.status_code == 400 and "expected" in r.text and reviews_of(db, violations[0]) == []


def test_every_route_is_fuzzed(fuzz_app):
    names = {r.path for r in _routes(fuzz_app)}
    assert {"/queue", "/log", "/violations/{public_id}/decision", "/evidence/{evidence_id}", "/export/download",
            "/admin/users/{name}/{action}", "/login", "/static/{name}"} <= names  # fmt: skip


def test_every_declared_parameter_with_each_hostile_value(fuzz_app, violations, users):
    admin = Admin(fuzz_app)
    valid = {"public_id": violations[0], "evidence_id": "1", "name": "rita", "action": "enable", "decision": "confirm"}
    for route in _routes(fuzz_app):
        path, query, form = _params(route)
        base = {p: valid.get(p, "x") for p in path}
        for method in sorted(route.methods):
            for name in path + query + (form if method == "POST" else []):
                for value in SWEEP:
                    params = base | {name: value}
                    _check(admin, method, route.path, params, query, form if method == "POST" else [])


def test_no_route_answers_random_hostile_parameters_with_a_5xx(fuzz_app, violations, users):
    admin = Admin(fuzz_app)
    known = [violations[0], "1", "2", "rita"]
    for route in _routes(fuzz_app):
        path, query, form = _params(route)
        for method in sorted(route.methods):
            _fuzz_route(admin, method, route.path, path, sorted(set(query) | set(EXTRA_QUERY)), form, known)


def _check(admin: Admin, method: str, template: str, params: dict[str, str], query: list[str], form: list[str]) -> None:
    url = re.sub(r"\{(\w+)\}", lambda m: quote(params[m.group(1)], safe="") or "-", template)
    fields = {k: v for k, v in params.items() if k in form}
    qs = {k: v for k, v in params.items() if k in query and k not in fields}
    if qs:
        url += "?" + "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in qs.items())
    r = admin.send(method, url, fields)
    assert r.status_code < 500, (method, url, fields, r.status_code, r.text[-500:])
    if r.status_code == 400:
        assert "Bad request" in r.text, (method, url, r.text[-300:])


def _fuzz_route(admin: Admin, method: str, template: str, path: list[str], query: list[str], form: list[str],
                known: list[str]) -> None:  # fmt: skip
    values = _value(known)
    names = st.fixed_dictionaries(
        {p: values for p in path},
        optional={q: values for q in query if q not in path}
        | ({f: values for f in form if f not in path} if method == "POST" else {}),
    )

    @settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(params=names)
    def check(params: dict[str, str]) -> None:
        _check(admin, method, template, params, query, form if method == "POST" else [])

    check()
