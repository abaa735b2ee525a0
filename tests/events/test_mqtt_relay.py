"""The relay against a real Mosquitto: a real subscriber gets every event, also across a broker outage."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from pipeline.events.config import EventsConfig, MqttSettings
from pipeline.events.relay import Relay
from pipeline.store import Database
from pipeline.store.coverage import record_coverage
from pipeline.store.outbox import list_events, outbox_counts
from tests.events.conftest import Mosquitto, Subscriber, new_run, store_violation, wait_for


def relay_config(port: int) -> EventsConfig:
    mqtt = MqttSettings(host="127.0.0.1", port=port, timeout_s=2.0)
    return EventsConfig(mqtt=mqtt, poll_s=0.1, min_backoff_s=0.1, max_backoff_s=1.0, public_url="http://review.test")


@pytest.fixture
def running_relay(db: Database, mosquitto: Mosquitto) -> Iterator[Relay]:
    relay = Relay(db, relay_config(mosquitto.port))
    stop = threading.Event()
    thread = relay.start(stop)
    yield relay
    stop.set()
    thread.join(10)
    relay.close()


def test_a_subscriber_receives_each_event_on_its_topics(db: Database, mosquitto: Mosquitto, running_relay: Relay):
    sub = Subscriber(mosquitto.port)
    try:
        run = new_run(db, "junction-7")
        public_id = store_violation(db, run, 1, camera="junction-7")
        record_coverage(db, "junction-7", "enforcing", datetime.now(UTC))
        stored = {e.event_id for e in list_events(db)}
        wait_for(lambda: sub.ids() == stored and len(sub.ids("/junction-7/")) == 2, 15, "both events on both topics")
        [violation] = sub.received("trafficcam/events/violation")
        assert violation["violation"]["url"] == f"http://review.test/violations/{public_id}"
        assert [t for t, _ in sub.messages if "/junction-7/" in t] == [
            "trafficcam/junction-7/violation", "trafficcam/junction-7/coverage",
        ]  # fmt: skip
        wait_for(lambda: outbox_counts(db).pending == 0, 5, "the outbox marked sent")
    finally:
        sub.close()


@pytest.mark.slow
def test_broker_down_then_back_every_event_delivered_each_id_once(
    db: Database, mosquitto: Mosquitto, running_relay: Relay
) -> None:
    sub = Subscriber(mosquitto.port)
    try:
        run = new_run(db)
        for n in range(5):
            store_violation(db, run, n)
        wait_for(lambda: len(sub.ids()) == 5, 15, "the first 5 events")

        mosquitto.stop()  # the broker goes away mid-run; the pipeline keeps recording
        for n in range(5, 12):
            store_violation(db, run, n)
        record_coverage(db, "cam-1", "stream_down", datetime.now(UTC))
        wait_for(lambda: running_relay.sent_total == 5 and outbox_counts(db).pending == 8, 30, "8 events waiting")
        threading.Event().wait(2.0)  # the relay retries with back-off meanwhile, marking nothing sent
        counts = outbox_counts(db)
        assert (counts.pending, counts.sent) == (8, 5)
        assert max(e.attempts for e in list_events(db)) >= 2  # it kept trying

        mosquitto.start()
        stored = {e.event_id for e in list_events(db)}
        wait_for(lambda: sub.ids() == stored, 30, "every event after the broker came back")
        wait_for(lambda: outbox_counts(db).pending == 0, 10, "every event marked sent")
        received = [b["id"] for b in sub.received()]
        assert set(received) == stored and len(stored) == 13
        # QoS 1 is at-least-once: a receiver keeps one per id; this relay publishes each id once
        assert len(received) == len(stored), f"{len(received) - len(stored)} duplicate deliveries"
    finally:
        sub.close()
