"""`/health` (JSON) and Prometheus `/metrics` for the daemon, on a small stdlib HTTP server.

Both pages render one `DaemonHealth` snapshot taken when they are asked for, so they never
disagree. Counters the stream readers and pipelines keep are exported as they are at scrape
time; the detector latency histogram and violations per rule are observed as they happen.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class CameraHealth:
    id: str
    source: str
    connected: bool
    enforcing: bool
    reason: str
    last_frame_age_s: float | None
    analysed_fps: float
    reconnects: int
    frames_read: int
    frames_analysed: int
    frames_dropped: int
    violations: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None
    run_id: int | None = None
    scene_version: int | None = None
    """The saved scene version the camera enforces."""
    view_shift_px: float | None = None
    """How far the camera-moved guard last measured the stop line(s) moved (None: not measured)."""
    scene_moved: bool = False


@dataclass(frozen=True)
class DaemonHealth:
    uptime_s: float
    evidence_paused: bool
    free_mb: float | None
    cameras: list[CameraHealth]
    instance: str = ""
    """This daemon's name in the lease tables (``host:pid:token``)."""
    held: list[str] = field(default_factory=list)
    """The cameras whose lease this instance holds (it processes exactly these)."""
    live_instances: int = 1
    share: int | None = None
    """How many cameras this instance should hold now that `live_instances` share them."""

    @property
    def status(self) -> str:
        if not self.cameras:
            return "standby" if self.share == 0 else "degraded"
        return "ok" if all(c.enforcing for c in self.cameras) else "degraded"

    def to_json(self) -> dict[str, object]:
        return {"status": self.status, **asdict(self)}


class Metrics:
    """The daemon's Prometheus registry: what is observed as it happens, plus a collector
    that reads the rest from the snapshot at scrape time."""

    def __init__(self, snapshot: Callable[[], DaemonHealth]):
        self.registry = CollectorRegistry(auto_describe=True)
        self.detector_latency = Histogram(
            "trafficcam_detector_latency_seconds", "Detection + tracking time per analysed frame.",
            ["camera"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.violations = Counter(
            "trafficcam_violations", "Violations stored with their evidence.", ["camera", "rule"],
            registry=self.registry,
        )  # fmt: skip
        self.evidence_skipped = Counter(
            "trafficcam_evidence_failures", "Evidence packages that could not be written.", ["camera"],
            registry=self.registry,
        )  # fmt: skip
        self.registry.register(_SnapshotCollector(snapshot))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: Callable[[], DaemonHealth]):
        self._snapshot = snapshot

    def describe(self) -> list[object]:
        return []  # collected per scrape; nothing to describe up front

    def collect(self) -> Iterator[object]:
        h = self._snapshot()

        def per_camera(family: CounterMetricFamily | GaugeMetricFamily, value: Callable[[CameraHealth], float]):  # type: ignore[no-untyped-def]
            for c in h.cameras:
                family.add_metric([c.id], value(c))
            return family

        yield per_camera(
            CounterMetricFamily("trafficcam_frames_read", "Frames read from the stream.", labels=["camera"]),
            lambda c: c.frames_read,
        )
        yield per_camera(
            CounterMetricFamily("trafficcam_frames_analysed", "Frames the detector ran on.", labels=["camera"]),
            lambda c: c.frames_analysed,
        )
        yield per_camera(
            CounterMetricFamily(
                "trafficcam_frames_dropped", "Frames dropped because processing fell behind.", labels=["camera"]
            ),
            lambda c: c.frames_dropped,
        )
        yield per_camera(
            CounterMetricFamily("trafficcam_reconnects", "Attempts to reopen the stream.", labels=["camera"]),
            lambda c: c.reconnects,
        )
        yield per_camera(
            GaugeMetricFamily("trafficcam_stream_up", "1 while the stream delivers frames.", labels=["camera"]),
            lambda c: 1.0 if c.connected else 0.0,
        )
        yield per_camera(
            GaugeMetricFamily("trafficcam_enforcing", "1 while the camera is enforcing.", labels=["camera"]),
            lambda c: 1.0 if c.enforcing else 0.0,
        )
        yield per_camera(
            GaugeMetricFamily("trafficcam_analysed_fps", "Frames analysed per second (last ~10 s).", labels=["camera"]),
            lambda c: c.analysed_fps,
        )
        yield per_camera(
            GaugeMetricFamily("trafficcam_scene_moved", "1 while the view no longer matches the scene's reference "
                              "frame (camera moved).", labels=["camera"]),
            lambda c: 1.0 if c.scene_moved else 0.0,
        )  # fmt: skip
        shift = GaugeMetricFamily(
            "trafficcam_view_shift_pixels", "Stop-line shift measured by the camera-moved guard.", labels=["camera"]
        )
        for c in h.cameras:
            if c.view_shift_px is not None:
                shift.add_metric([c.id], c.view_shift_px)
        yield shift
        age = GaugeMetricFamily(
            "trafficcam_last_frame_age_seconds", "Seconds since the newest frame.", labels=["camera"]
        )
        for c in h.cameras:
            if c.last_frame_age_s is not None:
                age.add_metric([c.id], c.last_frame_age_s)
        yield age
        yield GaugeMetricFamily(
            "trafficcam_evidence_paused", "1 while evidence writing is paused (disk nearly full).",
            value=1.0 if h.evidence_paused else 0.0,
        )  # fmt: skip
        if h.free_mb is not None:
            yield GaugeMetricFamily("trafficcam_data_free_megabytes", "Free space under the data dir.", value=h.free_mb)


class HealthServer:
    """Serves `/health` and `/metrics` on `host:port` in a daemon thread."""

    def __init__(self, address: str, snapshot: Callable[[], DaemonHealth], metrics: Metrics):
        host, port = parse_address(address)
        snapshot_fn, render = snapshot, metrics.render

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt: str, *args: object) -> None:
                log.debug("http: " + fmt, *args)

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?", 1)[0]
                try:
                    if path == "/health":
                        body, ctype = json.dumps(snapshot_fn().to_json(), indent=2).encode(), "application/json"
                    elif path == "/metrics":
                        body, ctype = render(), CONTENT_TYPE_LATEST
                    else:
                        self.send_error(404, "try /health or /metrics")
                        return
                except Exception:  # a broken page must not take the daemon down
                    log.exception("http %s failed", path)
                    self.send_error(500)
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def parse_address(address: str) -> tuple[str, int]:
    """`HOST:PORT` (or `:PORT`, meaning 127.0.0.1) as a (host, port) pair.

    Raises:
        ValueError: not of that form.
    """
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"--http must look like 127.0.0.1:9100 (HOST:PORT), got {address!r}")
    return (host.strip("[]") or "127.0.0.1"), int(port)
