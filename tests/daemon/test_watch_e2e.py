"""`trafficcam watch` against real MJPEG streams served on 127.0.0.1 by a separate process.

The Hanoi clip from frame 110 on: the signal is red and motorbikes run it at frames ~146, 181
and 195 (the COCO model finds them), so violations come within seconds of connecting.
"""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from pipeline.store import RunStatus, get_run, list_violations
from pipeline.store.coverage import CoverageReason, list_coverage
from tests.conftest import need_shared
from tests.daemon.conftest import HANOI_SCENE, free_port, wait_for, watch_process, write_cameras
from tests.databases import open_test_database

pytestmark = pytest.mark.slow

START_FRAME = 110  # a few seconds before the first red-light runner


def fetch(address: str, path: str) -> str:
    with urllib.request.urlopen(f"http://{address}{path}", timeout=5) as r:
        return r.read().decode()


def camera_health(address: str, camera: str) -> dict:
    return next(c for c in json.loads(fetch(address, "/health"))["cameras"] if c["id"] == camera)


def assert_complete_evidence(db, data: Path) -> int:
    """Every stored violation points at files that exist and hash as recorded; none left half-written."""
    violations = list_violations(db)
    for v in violations:
        assert {"before", "during", "after", "clip"} <= set(v.evidence), (v.public_id, v.evidence)
        for kind, (path, sha) in v.evidence.items():
            file = data / path
            assert file.is_file(), f"{v.public_id}: {kind} missing at {file}"
            assert hashlib.sha256(file.read_bytes()).hexdigest() == sha, f"{v.public_id}: {kind} changed"
    assert not list((data / "evidence").glob("*/*/*.partial")) if (data / "evidence").exists() else True
    return len(violations)


def test_violations_from_a_stream_survive_its_loss_while_a_dead_camera_keeps_retrying(
    tmp_path, mjpeg_camera, run_daemon
):
    cam = mjpeg_camera(fps=6.0, start_frame=START_FRAME, count=110)
    dead_url = f"http://127.0.0.1:{free_port()}/"
    cameras = write_cameras(tmp_path / "cameras.yaml", [
        # a low floor: this test is about streams, not about how busy the test machine is
        {"id": "hanoi", "source": cam.url, "scene": HANOI_SCENE, "min_fps": 0.5},
        {"id": "dead", "source": dead_url, "scene": HANOI_SCENE},
    ])  # fmt: skip
    td = run_daemon(cameras)
    data = tmp_path / "data"
    wait_for(lambda: getattr(td.daemon, "http", None), 60, "the health server")
    address = td.daemon.http.address
    db = open_test_database(data)

    # violations appear in the database as with `process`, with their evidence
    def red_light() -> list:
        return list_violations(db, camera_id="hanoi", rule="red_light")

    wait_for(red_light, 120, "a first red-light violation from the stream", every=1)
    first = red_light()
    assert all(v.where == "near_stop" for v in first)
    run1 = first[0].run_id
    health = camera_health(address, "hanoi")
    assert health["connected"] and health["frames_analysed"] > 0 and health["run_id"] == run1

    # the dead camera kept retrying all along, without holding the other back
    dead = camera_health(address, "dead")
    assert dead["reconnects"] >= 2 and not dead["connected"] and dead["reason"] == "stream_down"
    metrics = fetch(address, "/metrics")
    assert 'trafficcam_stream_up{camera="hanoi"} 1.0' in metrics
    assert 'trafficcam_stream_up{camera="dead"} 0.0' in metrics
    assert 'trafficcam_violations_total{camera="hanoi",rule="red_light"}' in metrics
    assert 'trafficcam_detector_latency_seconds_count{camera="hanoi"}' in metrics

    wait_for(lambda: camera_health(address, "hanoi")["enforcing"], 60, "the ledger to record enforcing")

    # the camera loses power, and comes back
    cam.kill()
    wait_for(lambda: not camera_health(address, "hanoi")["connected"], 30, "the stream loss to be noticed")
    cam.start()
    wait_for(
        lambda: (camera_health(address, "hanoi")["run_id"] or run1) != run1, 60, "a new session after reconnecting"
    )
    wait_for(lambda: [v for v in list_violations(db, camera_id="hanoi") if v.run_id != run1], 120,
             "a violation recorded after the reconnection", every=1)  # fmt: skip
    assert camera_health(address, "hanoi")["reconnects"] >= 1

    # SIGHUP-style reload: the dead camera goes, another comes; the working one is not restarted
    run2 = camera_health(address, "hanoi")["run_id"]
    write_cameras(cameras, [
        {"id": "hanoi", "source": cam.url, "scene": HANOI_SCENE, "min_fps": 0.5},
        {"id": "added", "source": f"http://127.0.0.1:{free_port()}/", "scene": HANOI_SCENE},
    ])  # fmt: skip
    td.daemon.reload_requested.set()
    wait_for(lambda: {c["id"] for c in json.loads(fetch(address, "/health"))["cameras"]} == {"hanoi", "added"}, 30,
             "the reload")  # fmt: skip
    assert camera_health(address, "hanoi")["run_id"] == run2

    # the disk fills up: detection and evidence pause, loudly, instead of failing
    td.daemon.disk.min_free_mb = 1e12
    wait_for(lambda: camera_health(address, "hanoi")["reason"] == "evidence_paused", 30, "evidence to pause")
    assert "trafficcam_evidence_paused 1.0" in fetch(address, "/metrics")
    analysed = camera_health(address, "hanoi")["frames_analysed"]
    time.sleep(2)
    assert camera_health(address, "hanoi")["frames_analysed"] == analysed
    td.daemon.disk.min_free_mb = 0
    wait_for(lambda: not json.loads(fetch(address, "/health"))["evidence_paused"], 30, "evidence to resume")

    assert td.stop() == 0
    assert_complete_evidence(db, data)
    runs = {v.run_id for v in list_violations(db)}
    assert all(get_run(db, r).status in (RunStatus.FINISHED, RunStatus.INTERRUPTED) for r in runs)
    assert get_run(db, run1).status is RunStatus.INTERRUPTED  # ended by the stream loss
    ledger = list_coverage(db, "hanoi")
    reasons = [p.reason for p in ledger]
    assert CoverageReason.ENFORCING in reasons and CoverageReason.STREAM_DOWN in reasons
    assert reasons.index(CoverageReason.STREAM_DOWN) > reasons.index(CoverageReason.ENFORCING)
    assert all(p.ended_at is not None for p in ledger)
    assert CoverageReason.EVIDENCE_PAUSED in reasons
    # held from the start (the ledger says "starting" while the detector loads), never enforcing
    assert {p.reason for p in list_coverage(db, "dead")} == {CoverageReason.STARTING, CoverageReason.STREAM_DOWN}
    db.close()


def test_sighup_reloads_and_sigterm_during_a_violation_leaves_complete_records(tmp_path, mjpeg_camera):
    need_shared("models", "yolov8n_int8.onnx")
    cam = mjpeg_camera(fps=6.0, start_frame=START_FRAME, count=110)
    hanoi = {"id": "hanoi", "source": cam.url, "scene": HANOI_SCENE}
    cameras = write_cameras(tmp_path / "cameras.yaml", [hanoi])
    data = tmp_path / "data"
    port = free_port()
    proc = watch_process(cameras, data, port, "--stop-timeout", "40", "--min-free-mb", "0")
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    address = f"127.0.0.1:{port}"

    def camera_ids() -> set[str]:
        try:
            return {c["id"] for c in json.loads(fetch(address, "/health"))["cameras"]}
        except OSError:
            return set()

    try:
        wait_for(lambda: camera_ids() == {"hanoi"}, 60, "the daemon to start")
        write_cameras(
            cameras, [hanoi, {"id": "extra", "source": f"http://127.0.0.1:{free_port()}/", "scene": HANOI_SCENE}]
        )
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: camera_ids() == {"hanoi", "extra"}, 30, "SIGHUP to add a camera")
        good = cameras.read_text()
        # a typo that used to raise TypeError and take every camera down: refused, the cameras go on
        cameras.write_text(good + "  - id: [not, an, id]\n    source: rtsp://cam/s\n    scene: nope.yaml\n")
        mark = len(lines)
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: any("reload refused" in line for line in lines[mark:]), 30, "the bad file to be refused")
        refused = "".join(lines[mark:])
        assert "cameras[2].id:" in refused and "Traceback" not in refused, refused
        assert proc.poll() is None and camera_ids() == {"hanoi", "extra"}
        cameras.write_text(good)
        mark = len(lines)
        # the moment a violation is seen its evidence waits 3 s for the post-roll: stop right then
        wait_for(lambda: any("seen, track" in line for line in lines[mark:]), 120, "a violation to be seen", every=0.05)
        proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        code = proc.wait(timeout=60)
        stopped_in = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(5)
    log = "".join(lines)
    assert code == 0, log
    assert stopped_in < 40, log
    assert "stopped cleanly" in log
    db = open_test_database(data)
    assert assert_complete_evidence(db, data) >= 1, log
    assert len({v.run_id for v in list_violations(db)}) == 1  # the reload did not restart the unchanged camera
    assert all(get_run(db, v.run_id).status is RunStatus.FINISHED for v in list_violations(db))
    assert all(p.ended_at is not None for p in list_coverage(db, "hanoi"))
    assert not (data / "watch.pid").exists()
    db.close()


def test_cameras_on_one_shared_detector_each_record_their_own_violations(tmp_path, mjpeg_camera, run_daemon):
    """`--shared-detector`: two streams through one pool of two inference threads, each camera with its
    own tracks, both find the red-light runners; a clean stop leaves no inference thread behind."""
    cams = [mjpeg_camera(fps=6.0, start_frame=START_FRAME, count=110) for _ in range(2)]
    cameras = write_cameras(tmp_path / "cameras.yaml", [
        {"id": f"hanoi{i}", "source": cam.url, "scene": HANOI_SCENE, "min_fps": 0.5} for i, cam in enumerate(cams)
    ])  # fmt: skip
    td = run_daemon(cameras, shared_detector=True, detector_workers=2)
    data = tmp_path / "data"
    db = open_test_database(data)
    for i in range(2):
        wait_for(lambda i=i: list_violations(db, camera_id=f"hanoi{i}", rule="red_light"), 180,
                 f"a red-light violation on camera hanoi{i}", every=1)  # fmt: skip
    shared = td.daemon.context.shared
    assert shared is not None and shared.alive and shared.workers == 2
    idents = set(shared.idents)
    assert td.stop() == 0
    assert not shared.alive and not idents & {t.ident for t in threading.enumerate()}
    assert_complete_evidence(db, data)
    db.close()
