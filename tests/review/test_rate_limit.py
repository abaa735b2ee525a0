"""The login rate limit counts the socket's address; X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from review.app import create_app
from review.proxies import TrustedProxies, parse_networks
from tests.databases import sql
from tests.review.conftest import PASSWORD, SECRET, csrf


def _browser(app, peer: str):  # type: ignore[no-untyped-def]
    """A browser at socket address `peer` (a fresh one, with no session, for every login)."""
    return lambda: TestClient(app, follow_redirects=False, client=(peer, 50000))


def _login(browser, name: str, password: str, forwarded: str | None = None) -> int:  # type: ignore[no-untyped-def]
    c = browser()
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    token = csrf(c, "/login")
    r = c.post("/login", data={"name": name, "password": password, "csrf_token": token}, headers=headers)
    return r.status_code


def test_rotating_forwarded_for_does_not_get_around_the_limit(db, users):
    c = _browser(create_app(db, secret_key=SECRET), "127.0.0.1")
    for i in range(5):
        assert _login(c, "rita", "wrong-password", forwarded=f"203.0.113.{i}") == 401
    assert _login(c, "rita", PASSWORD, forwarded="198.51.100.1") == 429


def test_a_trusted_proxy_passes_on_each_client_address(db, users):
    app = create_app(db, secret_key=SECRET, trusted_proxies=TrustedProxies(parse_networks(["127.0.0.1"])))
    proxy = _browser(app, "127.0.0.1")
    for i in range(8):  # eight clients behind the proxy, one failure each: nobody is locked out
        assert _login(proxy, "rita", "wrong-password", forwarded=f"203.0.113.{i}") == 401
    assert _login(proxy, "rita", PASSWORD, forwarded="203.0.113.99") == 303
    assert sql(db.data_dir, "SELECT address FROM sessions") == [("203.0.113.99",)]
    for i in range(5):  # one client, rotating a made-up hop to the left of what the proxy saw
        assert _login(proxy, "rob", "wrong-password", forwarded=f"10.9.9.{i}, 198.51.100.7") == 401
    assert _login(proxy, "rob", PASSWORD, forwarded="10.9.9.77, 198.51.100.7") == 429


def test_forwarded_for_from_an_untrusted_peer_is_ignored(db, users):
    app = create_app(db, secret_key=SECRET, trusted_proxies=TrustedProxies(parse_networks(["10.0.0.0/8"])))
    direct = _browser(app, "198.51.100.9")
    for i in range(5):
        assert _login(direct, "rita", "wrong-password", forwarded=f"203.0.113.{i}") == 401
    assert _login(direct, "rita", PASSWORD, forwarded="203.0.113.50") == 429
    assert _login(_browser(app, "10.1.2.3"), "rita", PASSWORD, forwarded="203.0.113.50") == 303


@pytest.mark.parametrize(
    "peer, header, client",
    [
        ("127.0.0.1", [], "127.0.0.1"),  # no header: the proxy itself
        ("127.0.0.1", ["203.0.113.5"], "203.0.113.5"),
        ("127.0.0.1", ["6.6.6.6, 203.0.113.5"], "203.0.113.5"),  # the left part is the client's word only
        ("10.0.0.2", ["203.0.113.5, 10.0.0.1"], "203.0.113.5"),  # two trusted hops (CIDR)
        ("10.0.0.2", ["203.0.113.5", "10.0.0.1"], "203.0.113.5"),  # the header given twice
        ("10.0.0.2", ["10.0.0.9, 10.0.0.1"], "10.0.0.9"),  # all trusted: the leftmost
        ("10.0.0.2", ["not-an-ip"], "10.0.0.2"),  # garbled: the proxy
        ("192.0.2.1", ["203.0.113.5"], "192.0.2.1"),  # not a proxy: the socket
        ("::1", ["2001:db8::5"], "2001:db8::5"),
    ],
)
def test_client_address_table(peer, header, client):
    proxies = TrustedProxies(parse_networks(["127.0.0.1", "10.0.0.0/8", "::1"]))
    assert proxies.client(peer, header) == client
    assert TrustedProxies().client(peer, header) == peer  # none trusted: always the socket


def test_bad_trusted_proxy_is_one_clear_error():
    with pytest.raises(ValueError, match="'10.0.0.0/33' is not an IP address or CIDR block"):
        parse_networks(["10.0.0.0/33"])
