"""The task queue: Dramatiq on RabbitMQ, one actor that processes one queued file.

Why Dramatiq on RabbitMQ: RabbitMQ redelivers an unacknowledged message the moment its
consumer's connection drops (a SIGKILLed worker), with no visibility timeout to wait out as on
Redis; Dramatiq acknowledges only after the actor returns (Celery needs ``acks_late`` and
``reject_on_worker_lost`` for the same), retries failures with exponential back-off and moves
a message that keeps failing to a dead-letter queue.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.middleware import CurrentMessage

from pipeline.errors import ModelError, SceneError, SourceError, TrafficcamError

DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_QUEUE = "trafficcam-files"
ACTOR_NAME = "trafficcam_process_file"
MAX_RETRIES = 3
"""Attempts after the first for a file that fails (not for one whose worker died: that is a redelivery)."""
TIME_LIMIT_MS = 24 * 3600 * 1000
"""A long recording may take hours; Dramatiq's default limit is 10 minutes."""
PERMANENT = (SceneError, SourceError, ModelError)
"""Bad input: retrying would fail the same way."""


class QueueError(TrafficcamError):
    """The task queue cannot be reached or used."""

    exit_code = 3


def broker_url(url: str | None) -> str:
    return url or os.environ.get("TRAFFICCAM_BROKER_URL") or DEFAULT_BROKER


def make_broker(url: str | None) -> RabbitmqBroker:
    """A RabbitMQ broker (nothing is connected until first use)."""
    broker = RabbitmqBroker(url=broker_url(url), confirm_delivery=True)
    broker.add_middleware(CurrentMessage())
    return broker


def declare_actor(
    broker: RabbitmqBroker, queue: str, handler: Callable[[str], None]
) -> dramatiq.Actor[Any, Any]:
    """The actor that processes job `job_id`; the submitter declares it with a handler it never runs."""
    return dramatiq.Actor(
        handler,
        broker=broker,
        actor_name=ACTOR_NAME,
        queue_name=queue,
        priority=0,
        options={
            "max_retries": MAX_RETRIES, "min_backoff": 2_000, "max_backoff": 120_000,
            "time_limit": TIME_LIMIT_MS, "throws": PERMANENT,
        },
    )  # fmt: skip


def current_retries() -> int:
    """How many times the message being processed was retried after a failure."""
    message = CurrentMessage.get_current_message()
    return int(message.options.get("retries", 0)) if message is not None else 0


def explain_broker_failure(exc: BaseException, url: str) -> str:
    safe = url.split("@")[-1] if "@" in url else url
    return (
        f"cannot reach the task queue at amqp://…@{safe} ({type(exc).__name__}: {exc or 'connection failed'}). "
        "Is RabbitMQ running? Set it with --broker or TRAFFICCAM_BROKER_URL."
    )
