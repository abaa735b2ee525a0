"""Relay settings: a small YAML file (`--events events.yaml`) or the equivalent CLI options.

```yaml
public_url: https://review.example.org   # makes the events' /violations/... links absolute
mqtt:
  host: 127.0.0.1
  port: 1883
  topic_prefix: trafficcam
  username: null
  password: null
webhooks:
  - url: https://ops.example.org/hooks/trafficcam
    secret: change-me          # HMAC-SHA256 key for the X-Trafficcam-Signature header
    timeout_s: 10
poll_s: 1.0                    # how often to look for new events
max_backoff_s: 60              # longest wait between retries while a sink is down
keep_sent_days: 7              # the relay deletes events sent longer ago than this
```
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.errors import TrafficcamError


class EventsConfigError(TrafficcamError):
    """The events settings cannot be used as given."""

    exit_code = 2


class MqttSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    topic_prefix: str = Field("trafficcam", min_length=1, pattern=r"^[^#+]+$")
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    timeout_s: float = Field(10.0, gt=0)


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://")
    secret: str = Field(min_length=8)
    timeout_s: float = Field(10.0, gt=0)


class EventsConfig(BaseModel):
    """Where the relay sends events and how patiently."""

    model_config = ConfigDict(extra="forbid")

    public_url: str = ""
    mqtt: MqttSettings | None = None
    webhooks: list[WebhookSettings] = []
    poll_s: float = Field(1.0, gt=0)
    min_backoff_s: float = Field(0.5, gt=0)
    max_backoff_s: float = Field(60.0, gt=0)
    batch: int = Field(100, ge=1, le=10000)
    keep_sent_days: float = Field(7.0, gt=0, le=36500, allow_inf_nan=False)
    """Sent events older than this are deleted by the relay (pending ones never are)."""

    @model_validator(mode="after")
    def _some_sink(self) -> EventsConfig:
        if self.mqtt is None and not self.webhooks:
            raise ValueError("name at least one sink: `mqtt:` and/or `webhooks:`")
        return self


def load_events_config(path: Path) -> EventsConfig:
    """Read and validate an events YAML file; errors name the key and what was expected."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise EventsConfigError(f"cannot read events settings {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise EventsConfigError(f"{path} is not valid YAML: {exc}") from None
    return parse_events_config(raw, str(path))


def parse_events_config(raw: object, where: str = "events settings") -> EventsConfig:
    """Validate `raw` (a mapping); one `EventsConfigError` lists every problem."""
    if not isinstance(raw, dict):
        raise EventsConfigError(f"{where}: expected a mapping with mqtt: and/or webhooks:, got {type(raw).__name__}")
    try:
        return EventsConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors())
        raise EventsConfigError(f"{where}: {problems}") from None


def config_from_options(
    file: Path | None, mqtt: str | None, webhooks: list[str], secret: str | None, public_url: str | None
) -> EventsConfig:
    """The settings of a file, or of the CLI options (``--mqtt HOST:PORT --webhook URL --webhook-secret S``)."""
    if file is not None:
        return load_events_config(file)
    raw: dict[str, object] = {}
    if mqtt:
        host, _, port = mqtt.rpartition(":") if ":" in mqtt else (mqtt, "", "1883")
        if not port.isdigit():
            raise EventsConfigError(f"--mqtt expects HOST[:PORT], got {mqtt!r}")
        raw["mqtt"] = {"host": host or "127.0.0.1", "port": int(port)}
    if webhooks:
        if not secret:
            raise EventsConfigError("--webhook needs --webhook-secret (or TRAFFICCAM_WEBHOOK_SECRET) to sign bodies")
        raw["webhooks"] = [{"url": url, "secret": secret} for url in webhooks]
    if public_url:
        raw["public_url"] = public_url
    return parse_events_config(raw, "events options")
