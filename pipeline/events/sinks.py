"""Where events go: an MQTT broker (QoS 1, sent only once PUBACK came) and signed webhooks.

A sink's `send` returns when the receiver acknowledged the event, or raises `SinkError`; the
relay then keeps the event pending and tries again after a back-off.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from typing import Protocol

import httpx
import paho.mqtt.client as mqtt

from pipeline.events.config import MqttSettings, WebhookSettings
from pipeline.store.outbox import CAMERA_COVERAGE, OutboxEvent

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Trafficcam-Signature"
"""``sha256=<hex HMAC-SHA256 of the raw body with the webhook's secret>``."""
_TOPIC_KIND = {"violation.created": "violation", "review.decided": "review", CAMERA_COVERAGE: "coverage"}
_UNSAFE = re.compile(r"[/+#\s]")


class SinkError(Exception):
    """The receiver did not take the event (down, refused, timed out)."""


class Sink(Protocol):
    name: str

    def send(self, event: OutboxEvent, body: bytes) -> None: ...

    def close(self) -> None: ...


def sign(secret: str, body: bytes) -> str:
    """The signature header value for `body`: what a receiver recomputes and compares."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def topics(prefix: str, event: OutboxEvent) -> list[tuple[str, bool]]:
    """(topic, retain) pairs for `event`: ``<prefix>/events/<kind>`` and ``<prefix>/<camera>/<kind>``.

    A camera's coverage topic is retained, so a subscriber that joins later learns its state.
    """
    kind = _TOPIC_KIND.get(event.type, event.type.replace(".", "_"))
    out = [(f"{prefix}/events/{kind}", False)]
    if event.camera_id:
        out.append((f"{prefix}/{_UNSAFE.sub('_', event.camera_id)}/{kind}", event.type == CAMERA_COVERAGE))
    return out


class MqttSink:
    """A paho client that keeps reconnecting in its own thread; `send` waits for every PUBACK."""

    def __init__(self, settings: MqttSettings) -> None:
        self.settings = settings
        self.name = f"mqtt://{settings.host}:{settings.port}"
        self._available = f"{settings.topic_prefix}/available"
        self._pending: dict[tuple[str, str], mqtt.MQTTMessageInfo] = {}
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id or "")
        if settings.username:
            client.username_pw_set(settings.username, settings.password)
        client.will_set(self._available, "offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.connect_async(settings.host, settings.port, keepalive=15)
        client.loop_start()
        self._client = client

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        log.info("events: connected to %s (%s)", self.name, reason)
        client.publish(self._available, "online", qos=1, retain=True)

    @property
    def connected(self) -> bool:
        return bool(self._client.is_connected())

    def send(self, event: OutboxEvent, body: bytes) -> None:
        deadline = time.monotonic() + self.settings.timeout_s
        for topic, retain in topics(self.settings.topic_prefix, event):
            key = (event.event_id, topic)
            info = self._pending.get(key)
            if info is None:  # a message paho still holds from before a disconnect is not published twice
                if not self._client.is_connected():
                    raise SinkError(f"{self.name} is not connected")
                info = self._client.publish(topic, body, qos=1, retain=retain)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    raise SinkError(f"{self.name}: publish failed ({mqtt.error_string(info.rc)})")
                self._pending[key] = info
            while not info.is_published():
                if time.monotonic() > deadline:
                    raise SinkError(f"{self.name}: no PUBACK for {topic} within {self.settings.timeout_s:g} s")
                time.sleep(0.01)
            del self._pending[key]

    def close(self) -> None:
        self._client.publish(self._available, "offline", qos=1, retain=True)
        self._client.disconnect()
        self._client.loop_stop()


class WebhookSink:
    """HTTP POST of the event's JSON, signed; any 2xx answer is an acknowledgement."""

    def __init__(self, settings: WebhookSettings, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self.name = settings.url
        self._client = client or httpx.Client(timeout=settings.timeout_s)

    def send(self, event: OutboxEvent, body: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            "X-Trafficcam-Event": event.type,
            "X-Trafficcam-Event-Id": event.event_id,
            SIGNATURE_HEADER: sign(self.settings.secret, body),
        }
        try:
            response = self._client.post(self.settings.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SinkError(f"{self.name}: {type(exc).__name__}: {exc}") from None
        if not response.is_success:
            raise SinkError(f"{self.name}: HTTP {response.status_code} {response.text[:200]!r}")

    def close(self) -> None:
        self._client.close()
