"""Fixtures for the events tests: a database with records, a Mosquitto of our own, a subscriber."""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from detector.types import Box, Colour
from pipeline.rules.base import Violation
from pipeline.store import Database, EvidenceFile, record_violation, start_run
from tests.databases import open_test_database


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


class Mosquitto:
    """A Mosquitto broker of the test's own on a free port, with persistence, to stop and restart."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {workdir}/\nuser {getpass.getuser()}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.workdir / "mosquitto.log").open("ab")
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([binary, "-c", str(self.conf)], stdout=log, stderr=log)
        wait_for(self._listening, 10, f"mosquitto on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("needs the mosquitto broker (apt-get install mosquitto; scripts/setup.sh installs it)")
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    broker = Mosquitto(workdir)
    broker.start()
    yield broker
    broker.stop()


class Subscriber:
    """A real paho subscriber with a persistent session (QoS 1), deduplicating events by their id."""

    def __init__(self, port: int, topic: str = "trafficcam/#") -> None:
        self.messages: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-sub-{port}", clean_session=False)
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.connect_async("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        assert self.subscribed.wait(10), "the test subscriber could not subscribe"

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic.endswith("/available"):
            return
        with self.lock:
            self.messages.append((msg.topic, json.loads(msg.payload)))

    def ids(self, topic_part: str = "/events/") -> set[str]:
        with self.lock:
            return {body["id"] for topic, body in self.messages if topic_part in topic}

    def received(self, topic_part: str = "/events/") -> list[dict]:
        with self.lock:
            return [body for topic, body in self.messages if topic_part in topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_test_database(tmp_path / "data")
    yield database
    database.close()


def new_run(db: Database, camera: str = "cam-1") -> int:
    return start_run(
        db, camera_id=camera, source="/clips/junction.mp4", source_sha256="a" * 64, model_name="coco-n",
        model_sha256="b" * 64, scene_sha256="c" * 64, settings_json="{}", settings_hash="d" * 64,
        software_version="0.1.0",
    )  # fmt: skip


def store_violation(db: Database, run_id: int, n: int, camera: str = "cam-1") -> str:
    """Record violation number `n` (with two evidence files); return its public id."""
    from datetime import UTC, datetime

    v = Violation(
        rule="red_light", where="southbound", track_id=n, label="motorcycle", frame_index=10 * n, timestamp=n,
        box=Box(100.0, 200.0, 140.0, 260.0), confidence=0.8, signal_id="main", signal_colour=Colour.RED,
        seconds_into_colour=2.0, details={},
    )  # fmt: skip
    public_id = f"v{n:031d}"
    evidence = [
        EvidenceFile(kind=k, path=f"evidence/{camera}/{public_id}/{k}.jpg", sha256=f"{n:064x}", bytes=10,
                     mime="image/jpeg")
        for k in ("before", "during")
    ]
    record, created = record_violation(
        db, v, camera_id=camera, run_id=run_id, dedup_key=f"key-{camera}-{n}", occurred_at=datetime.now(UTC),
        evidence=evidence, public_id=public_id,
    )  # fmt: skip
    assert created
    return record.public_id
