"""Faults no camera may vanish through: a full disk under the database, a crash's leftovers.

The daemon runs on a real MJPEG stream of the Hanoi clip; the disk is a real tmpfs filled to
the last byte, the leftovers real folders and rows as a kill leaves them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.store import RunStatus, get_run
from pipeline.store import repository as repo
from pipeline.store.coverage import CoverageReason, list_coverage
from tests.daemon.conftest import HANOI_SCENE, wait_for, write_cameras
from tests.databases import on_postgresql, open_test_database

pytestmark = pytest.mark.slow
START_FRAME = 110


def health(address: str) -> dict:
    with urllib.request.urlopen(f"http://{address}/health", timeout=5) as r:
        return json.loads(r.read())


def camera(address: str, camera_id: str) -> dict | None:
    return next((c for c in health(address)["cameras"] if c["id"] == camera_id), None)


def metrics(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as r:
        return r.read().decode()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """`tmp_path/data` on its own 128 MB tmpfs (needs root and permission to mount)."""
    data = tmp_path / "data"
    data.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128m", "tmpfs", str(data)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill ({mounted.stderr.decode().strip() or 'not root'})")
    try:
        yield data
    finally:
        subprocess.run(["umount", "-l", str(data)], capture_output=True)


def fill(disk: Path) -> Path:
    """Fill the disk to its last byte with one file; return it."""
    filler = disk / "filler"
    with contextlib.suppress(OSError), filler.open("wb") as handle:
        for size in (1 << 20, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    handle.write(b"\0" * size)
                    handle.flush()
    assert shutil.disk_usage(disk).free < 1 << 20
    return filler


@pytest.mark.skipif(on_postgresql(), reason="the database must be on the full disk: SQLite in the data dir")
def test_a_full_disk_under_the_database_keeps_the_camera_listed_and_the_exit_code_says_so(
    tmp_path, small_disk, mjpeg_camera, run_daemon
):
    cam = mjpeg_camera(fps=6.0, start_frame=START_FRAME)
    cameras = write_cameras(tmp_path / "cameras.yaml", [
        {"id": "hanoi", "source": cam.url, "scene": HANOI_SCENE, "min_fps": 0.5},
    ])  # fmt: skip
    td = run_daemon(cameras, lease_ttl_s=3.0)
    wait_for(lambda: getattr(td.daemon, "http", None), 60, "the health server")
    address = td.daemon.http.address
    wait_for(lambda: (camera(address, "hanoi") or {}).get("run_id"), 60, "the camera's first run")

    filler = fill(small_disk)
    lost = wait_for(lambda: (c := camera(address, "hanoi")) and c["reason"] == "lease_lost" and c, 30,
                    "the camera to be shown as lost")  # fmt: skip
    assert isinstance(lost, dict) and not lost["enforcing"] and "full" in lost["last_error"], lost
    assert health(address)["status"] == "degraded"
    assert 'trafficcam_enforcing{camera="hanoi"} 0.0' in metrics(address)

    filler.unlink()  # space again: the ledger says why, and the camera is taken back
    wait_for(lambda: (c := camera(address, "hanoi")) and c["reason"] != "lease_lost" and c["run_id"], 60,
             "the camera to be watched again")  # fmt: skip
    db = open_test_database(small_disk)
    reasons = [p.reason for p in list_coverage(db, "hanoi")]
    assert CoverageReason.LEASE_LOST in reasons, reasons
    lost_period = next(p for p in list_coverage(db, "hanoi") if p.reason is CoverageReason.LEASE_LOST)
    assert "full" in (lost_period.detail or "")
    db.close()

    assert td.stop() == 1  # a camera was lost during the run: not "all well"


def _plant_leftovers(data: Path, camera_id: str) -> tuple[int, Path, Path]:
    """What a kill leaves: a `running` stream run, a half-written folder, a folder never recorded."""
    db = open_test_database(data)
    run_id = repo.start_run(
        db, camera_id=camera_id, source="http://127.0.0.1:1/", model_name="m", model_sha256="0" * 64,
        scene_sha256="0" * 64, settings_json='{"stream_fps": 6.0}', settings_hash="0" * 64, software_version="t",
        started_at=datetime.now(UTC),
    )  # fmt: skip
    db.close()
    day = data / "evidence" / camera_id / "2026-01-01"
    partial, unrecorded = day / "V-LEFT.partial", day / "V-UNRECORDED"
    for folder in (partial, unrecorded):
        folder.mkdir(parents=True)
        (folder / "during.jpg").write_bytes(b"\xff\xd8 not much of a jpeg")
    return run_id, partial, unrecorded


def test_a_crashs_leftovers_are_closed_when_the_camera_is_taken_on(tmp_path, mjpeg_camera, run_daemon):
    cam = mjpeg_camera(fps=6.0, start_frame=0, count=60)  # green for cars: no evidence to finish at the stop
    data = tmp_path / "data"
    run_id, partial, unrecorded = _plant_leftovers(data, "hanoi")
    cameras = write_cameras(tmp_path / "cameras.yaml", [{"id": "hanoi", "source": cam.url, "scene": HANOI_SCENE}])
    td = run_daemon(cameras)
    wait_for(lambda: getattr(td.daemon, "http", None), 60, "the health server")
    wait_for(lambda: (camera(td.daemon.http.address, "hanoi") or {}).get("run_id"), 60, "the camera's first run")
    db = open_test_database(data)
    run = get_run(db, run_id)
    assert run is not None and run.status is RunStatus.INTERRUPTED
    db.close()
    assert not partial.exists() and not unrecorded.exists()
    moved = data / "unrecorded" / "hanoi" / "2026-01-01" / "V-UNRECORDED" / "during.jpg"
    assert moved.is_file()  # kept for a person to look at, out of the evidence tree
    assert td.stop() == 0
    shutil.rmtree(data / "unrecorded")
    assert os.listdir(data / "evidence" / "hanoi") == [] if (data / "evidence" / "hanoi").exists() else True


def test_a_frozen_stream_stops_enforcing_in_the_ledger_at_its_last_frame_not_when_the_reader_gives_up(
    tmp_path, mjpeg_camera, run_daemon
):
    """The publisher freezes (SIGSTOP: the connection stays open, no frame comes). The reader
    waits out its 5 s read timeout; the ledger must not say enforcing for those seconds."""
    cam = mjpeg_camera(fps=6.0, start_frame=START_FRAME)
    cameras = write_cameras(tmp_path / "cameras.yaml", [
        {"id": "hanoi", "source": cam.url, "scene": HANOI_SCENE, "min_fps": 0.5},  # slack: 3 s
    ])  # fmt: skip
    td = run_daemon(cameras)
    wait_for(lambda: getattr(td.daemon, "http", None), 60, "the health server")
    address = td.daemon.http.address
    wait_for(lambda: (camera(address, "hanoi") or {}).get("enforcing"), 120, "the camera to enforce")
    assert cam.proc is not None
    cam.proc.send_signal(signal.SIGSTOP)
    frozen = datetime.now(UTC)
    try:
        wait_for(lambda: not (camera(address, "hanoi") or {}).get("enforcing", True), 30, "enforcing to end")
    finally:
        cam.proc.send_signal(signal.SIGCONT)
    td.stop()
    db = open_test_database(tmp_path / "data")
    ledger = list_coverage(db, "hanoi")
    db.close()
    enforcing = [p for p in ledger if p.enforcing and p.started_at < frozen]
    assert enforcing and enforcing[-1].ended_at is not None, ledger
    overstated = (enforcing[-1].ended_at - frozen).total_seconds()
    assert overstated < 4.5, (overstated, ledger)  # 3 s slack after the last analysed frame, not 5 s and more
