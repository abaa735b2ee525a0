"""Fixtures for the job tests: RabbitMQ here (or a skip saying so), a queue of the test's own."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest

from pipeline.jobs.taskqueue import DEFAULT_BROKER


def rabbitmq_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def queue_name() -> Iterator[str]:
    """A fresh queue name (other people's workers on the shared RabbitMQ never see it); deleted after."""
    if not rabbitmq_up():
        pytest.skip("needs RabbitMQ on 127.0.0.1:5672 (scripts/setup.sh installs it)")
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(DEFAULT_BROKER))
    channel = connection.channel()
    for queue in (name, f"{name}.DQ", f"{name}.XQ"):
        channel.queue_delete(queue)
    connection.close()
