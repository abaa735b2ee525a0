"""`trafficcam events relay | status | prune`: send the outbox to MQTT / webhooks, and see what waits.

`register(app)` adds the `events` group to the main Typer app.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.cli.common import DataDirOpt, DbOpt, _fail, console
from pipeline.errors import TrafficcamError

if TYPE_CHECKING:
    from pipeline.events.relay import Relay, RelayPass

events_app = typer.Typer(help="Events out: violations, review decisions, camera coverage.", no_args_is_help=True)

EventsFileOpt = Annotated[
    Path | None,
    typer.Option("--events", envvar="TRAFFICCAM_EVENTS", help="events.yaml: MQTT broker and/or webhooks."),
]


def register(app: typer.Typer) -> None:
    """Add the `events` group to `app`."""
    if any(g.name == "events" for g in app.registered_groups):
        return
    app.add_typer(events_app, name="events")


@events_app.command("relay")
def relay_command(
    events: EventsFileOpt = None,
    mqtt: Annotated[str | None, typer.Option("--mqtt", help="MQTT broker HOST[:PORT] (instead of a file).")] = None,
    webhook: Annotated[list[str] | None, typer.Option("--webhook", help="Webhook URL (repeatable).")] = None,
    webhook_secret: Annotated[
        str | None, typer.Option("--webhook-secret", envvar="TRAFFICCAM_WEBHOOK_SECRET", help="HMAC key.")
    ] = None,
    public_url: Annotated[
        str | None, typer.Option("--public-url", help="Review app URL that makes event links absolute.")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Send what is pending, then exit (1: a sink refused).")] = False,
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """Send pending events until SIGTERM / Ctrl-C, retrying with back-off while a sink is down."""
    from pipeline.events.config import config_from_options
    from pipeline.events.relay import Relay
    from pipeline.store.db import open_database

    logging.getLogger("pipeline.events").setLevel(logging.INFO)
    try:
        config = config_from_options(events, mqtt, webhook or [], webhook_secret, public_url)
        relay = Relay(open_database(db, data_dir), config)
    except TrafficcamError as exc:
        raise _fail(exc) from None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    console.print(f"relaying events to {', '.join(s.name for s in relay.sinks)}", highlight=False)
    try:
        if once:
            result = _once(relay, config.mqtt.timeout_s if config.mqtt else 10.0)
            console.print(f"sent {result.sent} event(s)" + (f"; stopped: {result.error}" if result.error else ""),
                          highlight=False)  # fmt: skip
            raise typer.Exit(1 if result.error else 0)
        relay.run(stop)
    finally:
        relay.close()
    console.print(f"stopped; sent {relay.sent_total} event(s)")


def _once(relay: Relay, connect_s: float) -> RelayPass:
    """Passes until nothing is pending, after giving an MQTT client a moment to connect."""
    import time

    from pipeline.events.relay import RelayPass
    from pipeline.events.sinks import MqttSink

    deadline = time.monotonic() + connect_s
    for sink in relay.sinks:
        while isinstance(sink, MqttSink) and not sink.connected and time.monotonic() < deadline:
            time.sleep(0.05)
    total = 0
    while True:
        result = relay.run_once()
        total += result.sent
        if result.error or result.sent < relay.config.batch:
            return RelayPass(total, result.error)


@events_app.command("status")
def status_command(data_dir: DataDirOpt = Path("trafficcam-data"), db: DbOpt = None) -> None:
    """How many events wait in the outbox, since when, and how many went out."""
    from pipeline.store.db import open_database
    from pipeline.store.outbox import outbox_counts

    try:
        counts = outbox_counts(open_database(db, data_dir))
    except TrafficcamError as exc:
        raise _fail(exc) from None
    first = counts.oldest_pending
    oldest = f" (oldest written {first.astimezone():%Y-%m-%d %H:%M:%S})" if first else ""
    console.print(f"pending {counts.pending}{oldest}, sent {counts.sent}", highlight=False)


@events_app.command("prune")
def prune_command(
    days: Annotated[float, typer.Option("--days", min=0.0, help="Delete events sent more than this many days ago.")],
    pending_too: Annotated[
        bool,
        typer.Option("--pending-too", help="Also events never sent, written before then (no relay in use)."),
    ] = False,
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """Delete old events from the outbox (the relay does this itself for sent events, keep_sent_days)."""
    from datetime import timedelta

    from pipeline.store.columns import utc_now
    from pipeline.store.db import open_database
    from pipeline.store.outbox import prune_sent

    before = utc_now() - timedelta(days=days)
    try:
        database = open_database(db, data_dir)
        total = prune_sent(database, before, pending_too=pending_too)
    except TrafficcamError as exc:
        raise _fail(exc) from None
    what = "sent or never sent" if pending_too else "sent"
    console.print(f"deleted {total} event(s) {what} before {before.astimezone():%Y-%m-%d %H:%M}", highlight=False)
