"""The relay against a real HTTP receiver on 127.0.0.1 that fails first, then takes the events."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.events.config import EventsConfig, WebhookSettings
from pipeline.events.relay import Relay
from pipeline.events.sinks import SIGNATURE_HEADER
from pipeline.store import Database
from pipeline.store.outbox import list_events, outbox_counts
from tests.databases import database_env
from tests.events.conftest import new_run, store_violation, wait_for

SECRET = "hook-secret-123"


class Receiver(ThreadingHTTPServer):
    """Answers 503 to the first `failures` requests, then 200; keeps what it accepted."""

    def __init__(self, failures: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.failures = failures
        self.attempts: list[float] = []
        self.accepted: list[dict] = []
        self.bad_signatures = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.attempts.append(time.monotonic())
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(self.headers.get(SIGNATURE_HEADER, ""), expected):
            self.server.bad_signatures += 1
            self.send_response(401)
        elif len(self.server.attempts) <= self.server.failures:
            self.send_response(503)
        else:
            event = json.loads(body)
            assert self.headers["X-Trafficcam-Event-Id"] == event["id"]
            self.server.accepted.append(event)
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(failures=3)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_failures_are_retried_with_backoff_then_every_event_arrives_signed(db: Database, receiver: Receiver) -> None:
    run = new_run(db)
    for n in range(4):
        store_violation(db, run, n)
    config = EventsConfig(webhooks=[WebhookSettings(url=receiver.url, secret=SECRET, timeout_s=2)],
                          poll_s=0.05, min_backoff_s=0.4, max_backoff_s=5.0)  # fmt: skip
    relay = Relay(db, config)
    stop = threading.Event()
    thread = relay.start(stop)
    try:
        wait_for(lambda: outbox_counts(db).pending == 0, 20, "every event accepted")
    finally:
        stop.set()
        thread.join(10)
        relay.close()
    stored = [e.event_id for e in list_events(db)]
    assert [e["id"] for e in receiver.accepted] == stored  # in order, each once
    assert receiver.bad_signatures == 0
    gaps = [b - a for a, b in zip(receiver.attempts, receiver.attempts[1:4], strict=False)]
    assert [round(g, 1) >= wait for g, wait in zip(gaps, (0.4, 0.8, 1.6), strict=True)] == [True] * 3, gaps
    assert list_events(db)[0].attempts == 3  # three refusals recorded on the first event


def test_cli_relay_once_exits_1_while_the_receiver_refuses_and_keeps_the_events(
    tmp_path: Path, receiver: Receiver
) -> None:
    from tests.databases import open_test_database

    data = tmp_path / "data"
    db = open_test_database(data)
    store_violation(db, new_run(db), 1)
    env = database_env(data) | {"TRAFFICCAM_WEBHOOK_SECRET": SECRET}
    args = ["events", "relay", "--once", "--webhook", receiver.url, "--data-dir", str(data)]
    first = CliRunner().invoke(app, args, env=env)
    assert first.exit_code == 1 and "HTTP 503" in first.output
    assert outbox_counts(db).pending == 1
    receiver.failures = 0
    second = CliRunner().invoke(app, args, env=env)
    assert second.exit_code == 0 and "sent 1 event" in second.output
    status = CliRunner().invoke(app, ["events", "status", "--data-dir", str(data)], env=env)
    assert "pending 0, sent 1" in status.output
    db.close()


def test_cli_refuses_a_bad_settings_file(tmp_path: Path) -> None:
    bad = tmp_path / "events.yaml"
    bad.write_text("webhooks: [{url: 'http://x'}]\n")
    result = CliRunner().invoke(app, ["events", "relay", "--events", str(bad), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2 and "webhooks.0.secret" in result.output


def test_the_relay_runs_inside_a_long_running_command(tmp_path: Path, receiver: Receiver) -> None:
    from pipeline.events.background import relay_in_background
    from tests.databases import database_url, open_test_database

    data = tmp_path / "data"
    db = open_test_database(data)
    receiver.failures = 0
    events = tmp_path / "events.yaml"
    events.write_text(f"webhooks: [{{url: '{receiver.url}', secret: {SECRET}}}]\npoll_s: 0.1\n")
    with relay_in_background(events, database_url(data), data) as relay:
        assert relay is not None
        store_violation(db, new_run(db), 1)  # the pipeline records while `watch` / `serve` runs
        wait_for(lambda: len(receiver.accepted) == 1, 20, "the event relayed from the background")
    assert outbox_counts(db).pending == 0
    db.close()


def test_serve_and_watch_refuse_a_bad_events_file_before_starting(tmp_path: Path) -> None:
    bad = tmp_path / "events.yaml"
    bad.write_text("mqtt: {port: 99999}\n")
    for command in (["serve", "--port", "1"], ["watch", "--cameras", str(tmp_path / "cameras.yaml")]):
        result = CliRunner().invoke(app, [*command, "--events", str(bad), "--data-dir", str(tmp_path / "d")])
        assert result.exit_code == 2 and "mqtt.port" in result.output, (command, result.output)


def test_the_relay_deletes_events_sent_longer_ago_than_keep_sent_days_and_never_a_pending_one(
    db: Database, receiver: Receiver
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from pipeline.store.columns import utc_now
    from pipeline.store.models import OutboxRow

    receiver.failures = 0
    run = new_run(db)
    for n in range(3):
        store_violation(db, run, n)
    config = EventsConfig(webhooks=[WebhookSettings(url=receiver.url, secret=SECRET, timeout_s=2)], poll_s=0.05,
                          keep_sent_days=7)  # fmt: skip
    relay = Relay(db, config)
    assert relay.run_once().sent == 3
    with db.session() as s:  # two of them went out eight days ago, one an hour ago
        first, second, third = (e.seq for e in list_events(db))
        old = utc_now() - timedelta(days=8)
        s.execute(update(OutboxRow).where(OutboxRow.id.in_([first, second])).values(sent_at=old))
        s.execute(update(OutboxRow).where(OutboxRow.id == third).values(sent_at=utc_now() - timedelta(hours=1)))
    store_violation(db, run, 9)  # pending, and its sink is about to refuse it
    receiver.failures = 10**6
    stop = threading.Event()
    thread = relay.start(stop)  # its first pass prunes
    try:
        wait_for(lambda: relay.pruned_total == 2, 10, "the two old sent events deleted")
    finally:
        stop.set()
        thread.join(10)
        relay.close()
    left = list_events(db)
    assert [e.seq for e in left][0] == third and len(left) == 2  # the recent sent one and the pending one
    assert outbox_counts(db).pending == 1
    from pipeline.store import list_violations

    assert len(list_violations(db)) == 4  # the records they described stay
