"""`trafficcam watch` refusing to start, with one clear line; the disk guard."""

from __future__ import annotations

import logging
import socket
from collections import namedtuple

import pytest
import typer
from typer.testing import CliRunner

from pipeline.cli.watch import register
from pipeline.daemon.settings import DiskGuard
from tests.conftest import COCO_WEIGHTS, need_shared
from tests.daemon.conftest import HANOI_SCENE, write_cameras
from tests.databases import database_env, open_test_database


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("x")(lambda: None)
    register(app)
    return app


def test_a_bad_cameras_file_stops_watch_before_anything_starts(cli, tmp_path):
    path = tmp_path / "cameras.yaml"
    path.write_text("cameras:\n  - id: a\n    source: rtsp://cam/s\n    scene: nope.yaml\n")
    result = CliRunner().invoke(cli, ["watch", "--cameras", str(path), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2
    assert "line 4: cameras[0].scene" in result.output and "Traceback" not in result.output


def test_a_busy_http_port_is_one_clear_line(cli, tmp_path):
    need_shared("clips", "hanoi_ltk_hangbai")
    need_shared("models", "yolov8n_int8.onnx")
    cameras = write_cameras(tmp_path / "cameras.yaml", [{"id": "a", "source": "rtsp://cam/s", "scene": HANOI_SCENE}])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["watch", "--cameras", str(cameras), "--data-dir", str(tmp_path / "d"),
                                          "--weights", str(COCO_WEIGHTS), "--http", f"127.0.0.1:{port}"])  # fmt: skip
    assert result.exit_code == 1
    assert f"cannot serve /health and /metrics on 127.0.0.1:{port}" in result.output


def test_missing_weights_are_a_model_error(cli, tmp_path):
    need_shared("clips", "hanoi_ltk_hangbai")
    cameras = write_cameras(tmp_path / "cameras.yaml", [{"id": "a", "source": "rtsp://cam/s", "scene": HANOI_SCENE}])
    result = CliRunner().invoke(cli, ["watch", "--cameras", str(cameras), "--data-dir", str(tmp_path / "d"),
                                      "--weights", str(tmp_path / "none.onnx"), "--http", "off"])  # fmt: skip
    assert result.exit_code == 2 and "error:" in result.output


Usage = namedtuple("Usage", "total used free")


def test_disk_guard_pauses_loudly_and_resumes_with_margin(tmp_path, monkeypatch, caplog):
    free = {"mb": 1000.0}
    monkeypatch.setattr("pipeline.daemon.settings.shutil.disk_usage", lambda _p: Usage(0, 0, free["mb"] * 1e6))
    guard = DiskGuard(tmp_path, min_free_mb=500)
    guard.check()
    assert not guard.paused
    free["mb"] = 400
    with caplog.at_level(logging.ERROR, logger="pipeline.daemon.settings"):
        guard.check()
    assert guard.paused and "DISK NEARLY FULL" in caplog.text
    free["mb"] = 520  # above the threshold but inside the margin: stay paused, no flapping
    guard.check()
    assert guard.paused
    free["mb"] = 600
    guard.check()
    assert not guard.paused


def test_a_failed_write_pauses_until_the_next_check(tmp_path, monkeypatch):
    monkeypatch.setattr("pipeline.daemon.settings.shutil.disk_usage", lambda _p: Usage(0, 0, 10_000 * 1e6))
    guard = DiskGuard(tmp_path, min_free_mb=500)
    guard.storage_failed(OSError(28, "No space left on device"))
    assert guard.paused
    guard.check()
    assert not guard.paused


def test_cameras_coverage_answers_was_it_watched_then(cli, tmp_path):
    from datetime import UTC, datetime

    from pipeline.store.coverage import CoverageReason, close_coverage, record_coverage

    data = tmp_path / "d"
    db = open_test_database(data)
    record_coverage(db, "junction", CoverageReason.ENFORCING, datetime(2026, 5, 1, 8, 0, tzinfo=UTC))
    record_coverage(db, "junction", CoverageReason.STREAM_DOWN, datetime(2026, 5, 1, 8, 10, tzinfo=UTC), "refused")
    close_coverage(db, "junction", datetime(2026, 5, 1, 9, 0, tzinfo=UTC))
    db.close()
    runner = CliRunner(env=database_env(data))

    def ask(at: str) -> str:
        result = runner.invoke(cli, ["cameras", "coverage", "junction", "--at", at, "--data-dir", str(data)])
        assert result.exit_code == 0, result.output
        return result.output

    assert "enforcing" in ask("2026-05-01T08:05:00+00:00") and "not enforcing" not in ask("2026-05-01T08:05:00+00:00")
    assert "not enforcing: stream_down (refused)" in ask("2026-05-01T08:14:00+00:00")
    assert "not watched" in ask("2026-05-01T10:00:00+00:00")
    bad = runner.invoke(cli, ["cameras", "coverage", "junction", "--at", "yesterday", "--data-dir", str(data)])
    assert bad.exit_code == 1 and "--at expects a time" in bad.output
