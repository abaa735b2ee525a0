"""/health and /metrics as an operator's monitoring reads them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from pipeline.daemon.health import CameraHealth, DaemonHealth, HealthServer, Metrics, parse_address


def snapshot() -> DaemonHealth:
    return DaemonHealth(
        uptime_s=12.0, evidence_paused=True, free_mb=321.0,
        cameras=[
            CameraHealth("north", "rtsp://u:***@cam/1", True, True, "enforcing", 0.2, 9.5, 0, 1000, 400, 12,
                         {"red_light": 3}, None, 7),
            CameraHealth("south", "rtsp://cam/2", False, False, "stream_down", None, 0.0, 17, 0, 0, 0, {},
                         "cannot open the stream", None),
        ],
        instance="vm:4242:a1b2c3", held=["north", "south"], live_instances=2, share=2,
    )  # fmt: skip


@pytest.fixture
def server():
    metrics = Metrics(snapshot)
    metrics.detector_latency.labels("north").observe(0.08)
    metrics.violations.labels("north", "red_light").inc(3)
    srv = HealthServer("127.0.0.1:0", snapshot, metrics)
    srv.start()
    yield srv
    srv.stop()


def get(srv: HealthServer, path: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(f"http://{srv.address}{path}", timeout=5) as r:
        return r.status, r.headers["Content-Type"], r.read().decode()


def test_health_json(server):
    status, ctype, body = get(server, "/health")
    data = json.loads(body)
    assert status == 200 and ctype == "application/json"
    assert data["status"] == "degraded" and data["evidence_paused"] is True
    north, south = data["cameras"]
    assert north["connected"] and north["enforcing"] and north["analysed_fps"] == 9.5
    assert south["reconnects"] == 17 and south["reason"] == "stream_down" and south["last_frame_age_s"] is None
    assert data["instance"] == "vm:4242:a1b2c3" and data["held"] == ["north", "south"]
    assert data["live_instances"] == 2 and data["share"] == 2


@pytest.mark.parametrize(("share", "status"), [(0, "standby"), (1, "degraded"), (None, "degraded")])
def test_an_instance_without_cameras_is_standby_only_when_its_share_is_zero(share, status):
    health = DaemonHealth(uptime_s=1.0, evidence_paused=False, free_mb=None, cameras=[], share=share)
    assert health.to_json()["status"] == status


def test_prometheus_metrics(server):
    status, ctype, body = get(server, "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    for line in (
        'trafficcam_frames_read_total{camera="north"} 1000.0',
        'trafficcam_frames_analysed_total{camera="north"} 400.0',
        'trafficcam_frames_dropped_total{camera="north"} 12.0',
        'trafficcam_reconnects_total{camera="south"} 17.0',
        'trafficcam_stream_up{camera="south"} 0.0',
        'trafficcam_enforcing{camera="north"} 1.0',
        'trafficcam_violations_total{camera="north",rule="red_light"} 3.0',
        'trafficcam_detector_latency_seconds_count{camera="north"} 1.0',
        "trafficcam_evidence_paused 1.0",
    ):
        assert line in body, line


def test_unknown_path_is_404(server):
    with pytest.raises(urllib.error.HTTPError) as exc:
        get(server, "/admin")
    assert exc.value.code == 404


@pytest.mark.parametrize(
    ("text", "expected"), [("127.0.0.1:9100", ("127.0.0.1", 9100)), (":9100", ("127.0.0.1", 9100)),
                           ("0.0.0.0:80", ("0.0.0.0", 80))],
)  # fmt: skip
def test_parse_address(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["9100", "host:port", "h:99999"])
def test_parse_address_refuses(text):
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_address(text)
