"""An archive across two worker processes, one SIGKILLed mid-file: the same violations as `process`.

Real parts: RabbitMQ here, `trafficcam worker` subprocesses, the demo detector on rendered clips.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.evidence import WRITER_NICENESS
from pipeline.process import ProcessSettings, process_video
from pipeline.sample import SampleSpec, render_sample
from pipeline.store import Database, count_violations, get_run, list_violations
from pipeline.store.jobs import JobRecord, get_job, list_jobs
from pipeline.store.records import JobStatus, RunStatus
from tests.databases import database_env, database_url, open_test_database
from tests.sample.test_sample_e2e import demo_weights

REPO = Path(__file__).resolve().parents[2]
SETTINGS = ProcessSettings(weights="demo-synthetic", analysis_fps=5.0)


def identity(db: Database) -> set[tuple[str, str, str, int, int, str]]:
    """What a violation is, across databases: camera, rule, place, track, frame, label."""
    rows = list_violations(db)
    found = {(v.camera_id, v.rule, v.where, v.track_id, v.frame_index, v.label) for v in rows}
    assert len(found) == len(rows), "a violation was stored twice"
    return found


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


def start_worker(name: str, data: Path, queue: str, log: Path, niceness: int = 0) -> subprocess.Popen[bytes]:
    env = os.environ | database_env(data) | {"TRAFFICCAM_QUEUE": queue, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "worker", "--name", name, "--data-dir", str(data)],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=REPO,
        preexec_fn=(lambda: os.nice(niceness)) if niceness else None,
    )  # fmt: skip


@pytest.mark.slow
def test_two_workers_one_killed_mid_file_give_the_violations_of_single_process_runs(
    tmp_path: Path, queue_name: str
) -> None:
    demo_weights()
    # long enough that the first file is still running when its first violation is stored (a 10 s
    # clip finished first on a quiet machine)
    spec = SampleSpec(seconds=30.0, fps=10.0, width=640, height=360, seed=3)
    clips = [render_sample(spec, tmp_path / cam / "clip.mp4", camera_id=cam) for cam in ("cam-a", "cam-b")]

    single = tmp_path / "single"  # the reference: one `process` per file
    single_db = open_test_database(single)
    for clip in clips:
        process_video(clip.video, clip.scene, SETTINGS, single, database_url(single))
    expected = identity(single_db)
    assert len(expected) >= 2  # each clip has violations early on (wrong way at frame 25, solid line at 36)

    data = tmp_path / "queued"
    db = open_test_database(data)
    env = database_env(data) | {"TRAFFICCAM_QUEUE": queue_name}
    for clip in clips:
        args = ["submit", str(clip.video), "--scene", str(clip.scene), "--weights", "demo-synthetic",
                "--analysis-fps", "5", "--data-dir", str(data)]  # fmt: skip
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
    first, second = list_jobs(db)

    # The evidence writer runs at nice WRITER_NICENESS so the frame loop comes first; on a loaded
    # machine (other test suites on both cores) it then got so little CPU that the first record was
    # stored only after the whole file was done. The worker to be killed runs at the writer's
    # niceness: its two threads compete as equals, as on a quiet machine, and the kill lands mid-file.
    workers = {"w-killed": start_worker("w-killed", data, queue_name, tmp_path / "w1.log", WRITER_NICENESS)}
    try:
        wait_until(lambda: _job(db, first).worker == "w-killed" and _job(db, first).run_id is not None, 120,
                   "the first worker to take the first file")  # fmt: skip
        workers["w-other"] = start_worker("w-other", data, queue_name, tmp_path / "w2.log")
        run_id = _job(db, first).run_id
        assert run_id is not None
        wait_until(lambda: count_violations(db, run_id=run_id) >= 1, 300, "a violation stored mid-file")
        assert _job(db, first).status is JobStatus.RUNNING, "the file finished before the kill: make it longer"
        workers["w-killed"].send_signal(signal.SIGKILL)
        workers["w-killed"].wait(10)

        wait_until(lambda: all(_job(db, j).status is JobStatus.DONE for j in (first, second)), 600,
                   "both files done by the surviving worker")  # fmt: skip
    finally:
        for proc in workers.values():
            if proc.poll() is None:
                proc.terminate()
                proc.wait(60)

    redone = _job(db, first)
    assert (redone.attempts, redone.worker) == (2, "w-other")
    assert _job(db, second).worker == "w-other"
    killed_run = get_run(db, run_id)
    assert killed_run is not None and killed_run.status is RunStatus.INTERRUPTED
    assert identity(db) == expected  # nothing lost, nothing twice
    for v in list_violations(db):  # no half record: every stored violation has all its evidence on disk
        assert {"before", "during", "after"} <= set(v.evidence)
        assert all((data / ref.path).is_file() for ref in v.evidence.values())

    shown = CliRunner().invoke(app, ["jobs", "--data-dir", str(data)], env=env)
    assert "done 2" in shown.output and "failed 0" in shown.output
    single_db.close()
    db.close()


def _job(db: Database, job: JobRecord) -> JobRecord:
    found = get_job(db, job.job_id)
    assert found is not None
    return found
