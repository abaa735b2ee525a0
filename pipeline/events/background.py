"""The relay inside a long-running command (`watch --events`, `serve --events`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.events.config import load_events_config
from pipeline.events.relay import Relay
from pipeline.store.db import open_database

log = logging.getLogger(__name__)


@contextmanager
def relay_in_background(events_file: Path | None, db_url: str | None, data_dir: Path) -> Iterator[Relay | None]:
    """Run a relay thread on its own connection for the block's duration (nothing when no file).

    Raises:
        EventsConfigError: the settings file is invalid (before anything starts).
    """
    if events_file is None:
        yield None
        return
    config = load_events_config(events_file)
    db = open_database(db_url, data_dir)
    relay = Relay(db, config)
    stop = threading.Event()
    thread = relay.start(stop)
    log.info("events: relaying to %s", ", ".join(s.name for s in relay.sinks))
    try:
        yield relay
    finally:
        stop.set()
        thread.join(timeout=config.mqtt.timeout_s + 5 if config.mqtt else 15)
        relay.close()
        db.close()
