"""The outbox relay: send pending events to every sink, mark them sent, retry while any is down.

Order is kept: a pass stops at the first event a sink refuses, waits (exponential back-off from
`min_backoff_s` to `max_backoff_s`) and starts again from that event. An event is marked sent
only once every sink acknowledged it (MQTT: PUBACK; webhook: a 2xx answer); a sink that already
took it is not sent it again by this process, but after a crash it may be, which is why each
event carries an `id` for the receiver to deduplicate by. Once an hour it deletes the events that
went out more than `keep_sent_days` ago, so the outbox does not grow for ever.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pipeline.errors import StorageError
from pipeline.events.config import EventsConfig
from pipeline.events.sinks import MqttSink, Sink, SinkError, WebhookSink
from pipeline.store.columns import utc_now
from pipeline.store.db import Database
from pipeline.store.outbox import OutboxEvent, claim_pending, prune_sent

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True, slots=True)
class RelayPass:
    """What one pass over the outbox did."""

    sent: int
    error: str | None = None


def build_sinks(config: EventsConfig) -> list[Sink]:
    """The sinks named by `config`, MQTT first."""
    sinks: list[Sink] = []
    if config.mqtt is not None:
        sinks.append(MqttSink(config.mqtt))
    sinks.extend(WebhookSink(w) for w in config.webhooks)
    return sinks


def absolute_links(body: str, public_url: str) -> bytes:
    """The event's JSON with every ``"url": "/..."`` prefixed by `public_url` (unchanged when empty)."""
    if not public_url:
        return body.encode()
    base = public_url.rstrip("/")

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: base + v if k == "url" and isinstance(v, str) and v.startswith("/") else walk(v)
                    for k, v in value.items()}  # fmt: skip
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return json.dumps(walk(json.loads(body)), sort_keys=True).encode()


class Relay:
    """Sends the outbox of `db` to `sinks` (built from `config` when not given)."""

    def __init__(self, db: Database, config: EventsConfig, sinks: list[Sink] | None = None) -> None:
        self.db = db
        self.config = config
        self.sinks = sinks if sinks is not None else build_sinks(config)
        self.sent_total = 0
        self.pruned_total = 0
        self._delivered: dict[str, set[str]] = {}
        self._next_prune = 0.0  # monotonic time of the next prune; the first pass prunes

    def run_once(self) -> RelayPass:
        """Send what is pending, in order, until done or a sink refuses."""
        sent = 0
        with claim_pending(self.db, self.config.batch) as claim:
            for event in claim.events:
                try:
                    self._deliver(event)
                except SinkError as exc:
                    claim.failed(event.seq, str(exc))
                    return RelayPass(sent, str(exc))
                claim.sent(event.seq)
                self._delivered.pop(event.event_id, None)
                sent += 1
        self.sent_total += sent
        return RelayPass(sent)

    def prune(self) -> int:
        """Delete the events sent more than `keep_sent_days` ago (in batches); how many went."""
        before = utc_now() - timedelta(days=self.config.keep_sent_days)
        pruned = prune_sent(self.db, before)
        if pruned:
            log.info("events: deleted %d event(s) sent before %s", pruned, f"{before:%Y-%m-%d %H:%M}")
        self.pruned_total += pruned
        return pruned

    def _prune_when_due(self) -> None:
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_EVERY_S
        try:
            self.prune()
        except StorageError as exc:  # pruning can wait for the next hour
            log.warning("events: could not delete old sent events: %s", exc)

    def run(self, stop: threading.Event, *, until_empty: bool = False) -> None:
        """Relay until `stop` is set (or, with `until_empty`, until nothing is pending)."""
        backoff = self.config.min_backoff_s
        while not stop.is_set():
            try:
                result = self.run_once()
            except StorageError as exc:  # the database is away: the events wait in it, try later
                result = RelayPass(0, f"database: {exc}")
            self._prune_when_due()  # also while a sink is down: what it holds back is pending, never pruned
            if result.error is not None:
                log.warning("events: %s; retrying in %.1f s", result.error, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, self.config.max_backoff_s)
                continue
            backoff = self.config.min_backoff_s
            if result.sent >= self.config.batch:
                continue  # more are waiting
            if until_empty:
                return
            stop.wait(self.config.poll_s)

    def start(self, stop: threading.Event) -> threading.Thread:
        """Relay in a daemon thread (inside `watch` / `serve`) until `stop` is set."""
        thread = threading.Thread(target=self._run_logged, args=(stop,), name="events-relay", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # closing is best effort; the events are safe in the outbox
                log.debug("events: closing %s: %s", sink.name, exc)

    def _run_logged(self, stop: threading.Event) -> None:
        try:
            self.run(stop)
        except Exception:  # the relay must not take the daemon down; the events wait in the outbox
            log.exception("events: relay stopped; pending events stay in the outbox")

    def _deliver(self, event: OutboxEvent) -> None:
        body = absolute_links(event.body, self.config.public_url)
        done = self._delivered.setdefault(event.event_id, set())
        for sink in self.sinks:
            if sink.name not in done:
                sink.send(event, body)
                done.add(sink.name)
