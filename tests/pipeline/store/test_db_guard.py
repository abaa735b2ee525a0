"""The database is never silently replaced, and `audit verify` trusts nothing read from a damaged one.

A 0-byte or foreign `trafficcam.db` is refused by every command that opens it (here `watch`,
run as a user runs it, and `audit verify`), and is left as it was. `audit verify` runs the
database's own integrity check first and fails on it.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pipeline.errors import StorageError
from pipeline.store.db import DB_FILENAME, integrity_problems, open_database
from review.cli import register
from tests.conftest import REPO
from tests.databases import database_env, on_postgresql, open_test_database

APP = typer.Typer()
register(APP)

sqlite_only = pytest.mark.skipif(on_postgresql(), reason="the file checks are SQLite's; PostgreSQL has its own test")


def audit_verify(data: Path) -> tuple[int, str]:
    result = CliRunner().invoke(APP, ["audit", "verify", "--data-dir", str(data)],
                                env={"COLUMNS": "250", **database_env(data)})  # fmt: skip
    return result.exit_code, result.output


@sqlite_only
@pytest.mark.parametrize(("content", "says"), [(b"", "is empty (0 bytes)"), (b"name,plate\n1,ABC\n", "not an SQLite")])
def test_an_empty_or_foreign_file_is_refused_and_left_as_it_was(tmp_path, content, says):
    data = tmp_path / "data"
    data.mkdir()
    (data / DB_FILENAME).write_bytes(content)
    with pytest.raises(StorageError, match=re.escape(says)):
        open_database(None, data)
    code, output = audit_verify(data)
    assert code != 0 and says in output.replace("\n", " "), output
    assert (data / DB_FILENAME).read_bytes() == content


@sqlite_only
def test_watch_refuses_an_empty_database_file_before_starting_any_camera(tmp_path):
    (tmp_path / "view.yaml").write_text("camera: v\nframe_size: [640, 480]\n")
    camera = "  - id: c\n    source: rtsp://127.0.0.1:1/s\n    scene: view.yaml\n"
    (tmp_path / "cameras.yaml").write_text("cameras:\n" + camera)
    data = tmp_path / "data"
    data.mkdir()
    (data / DB_FILENAME).write_bytes(b"")
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "watch", "--cameras", str(tmp_path / "cameras.yaml"),
         "--data-dir", str(data), "--http", "off"],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**database_env(data), "COLUMNS": "250",
                                                                   "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "is empty (0 bytes)" in proc.stdout + proc.stderr and "Traceback" not in proc.stderr
    assert (data / DB_FILENAME).stat().st_size == 0


@sqlite_only
def test_a_new_database_is_still_created_also_by_several_processes_at_once(tmp_path):
    data = tmp_path / "data"
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            open_database(None, data).close()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert (data / DB_FILENAME).read_bytes()[:16] == b"SQLite format 3\x00"


def _corrupt(path: Path) -> None:
    """Fill the cameras table, then scribble over the middle of its last pages (rows and index)."""
    conn = sqlite3.connect(path)
    conn.executemany("INSERT INTO cameras (id, name, created_at) VALUES (?, ?, '2026-01-01')",
                     [(f"cam-{i:05d}", "n" * 50) for i in range(3000)])  # fmt: skip
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    pages = len(data) // 4096
    for p in range(pages - 10, pages):
        data[p * 4096 + 200 : p * 4096 + 600] = b"\xff" * 400
    path.write_bytes(bytes(data))


@sqlite_only
def test_audit_verify_fails_on_a_database_whose_pages_are_corrupted(tmp_path):
    data = tmp_path / "data"
    open_database(None, data).close()
    code, output = audit_verify(data)
    assert code == 0, output
    _corrupt(data / DB_FILENAME)
    code, output = audit_verify(data)
    assert code == 1, output
    assert "database: SQLite integrity check failed" in output and "Traceback" not in output


def test_the_integrity_check_passes_a_sound_database_on_either_backend(tmp_path):
    db = open_test_database(tmp_path / "data")
    try:
        assert integrity_problems(db) == []
    finally:
        db.close()
