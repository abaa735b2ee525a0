"""How a camera's stream is opened: its FFmpeg options, and a cheap probe of its port.

OpenCV's FFmpeg backend reads capture options (``rtsp_transport``, buffer sizes, ...) from the
process-wide ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` at each open; `capture_options` gives each camera
its own by setting it around one open at a time. `probe` asks only whether a camera's TCP port
accepts connections, so a reader waiting out its backoff notices a camera that came back.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

PROBE_EVERY_S = 1.0
PROBE_TIMEOUT_S = 0.5


FFMPEG_OPTIONS_VAR = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
_options_lock = threading.Lock()
custom_sources = 0
"""Streams of this process with options of their own; while there are none, opens take no lock."""


def ffmpeg_options(source: str | int, options: dict[str, str | int]) -> str | None:
    """The camera's FFmpeg options as OpenCV reads them (``key;value|...``), or None when it has
    none of its own (files, devices, and streams left to FFmpeg's defaults: RTSP tries UDP, then
    TCP when no packet comes)."""
    if not isinstance(source, str) or "://" not in source:
        return None
    return "|".join(f"{k};{v}" for k, v in options.items()) or None


@contextlib.contextmanager
def capture_options(options: str | None) -> Iterator[None]:
    """Open one capture with its own FFmpeg options. OpenCV reads them from a process-wide
    environment variable at each open and offers no per-capture way; so while any stream has
    options of its own, every open holds one lock with the variable set to its options (or unset)."""
    if options is None and not custom_sources:
        yield
        return
    with _options_lock:
        saved = os.environ.pop(FFMPEG_OPTIONS_VAR, None)
        if options is not None:
            os.environ[FFMPEG_OPTIONS_VAR] = options
        try:
            yield
        finally:
            os.environ.pop(FFMPEG_OPTIONS_VAR, None)
            if saved is not None:
                os.environ[FFMPEG_OPTIONS_VAR] = saved


def probe_address(source: str | int) -> tuple[str, int] | None:
    """Host and TCP port a network source listens on (None for files and devices)."""
    if not isinstance(source, str) or "://" not in source:
        return None
    try:
        url = urlsplit(source)
        port = url.port or {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}.get(url.scheme)
    except ValueError:
        return None
    return (url.hostname, port) if url.hostname and port else None


def probe(address: tuple[str, int], timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Does anything accept a TCP connection there? Costs one handshake, no stream."""
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False
