"""Submit, worker and jobs without the detector: bad input is refused whole, a bad file fails once
and is not retried, a redelivered job marks the dead run interrupted, done jobs are not redone."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.jobs.runner import run_worker
from pipeline.jobs.work import WorkerConfig
from pipeline.store import Database, get_run, start_run
from pipeline.store.jobs import JobSpec, add_jobs, finish_job, get_job, job_run_started, list_jobs, start_job
from pipeline.store.records import JobStatus, RunStatus
from tests.conftest import SHARED
from tests.databases import database_env, database_url, open_test_database
from tests.jobs.test_archive_e2e import wait_until


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def db(data: Path):  # type: ignore[no-untyped-def]
    database = open_test_database(data)
    yield database
    database.close()


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    path = tmp_path / "scene.yaml"
    path.write_text("camera: cam-x\nframe_size: [640, 360]\n")
    return path


def submit(data: Path, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["submit", *args, "--data-dir", str(data)], env=database_env(data) | (env or {}))


def test_a_missing_file_queues_nothing(data: Path, db: Database, scene: Path, tmp_path: Path) -> None:
    real = tmp_path / "a.mp4"
    real.write_bytes(b"x")
    result = submit(data, str(real), str(tmp_path / "gone.mp4"), "--scene", str(scene))
    assert result.exit_code == 2 and "not a file" in result.output and "gone.mp4" in result.output
    assert list_jobs(db) == []


def test_a_scene_of_another_camera_queues_nothing(data: Path, db: Database, scene: Path, tmp_path: Path) -> None:
    video = tmp_path / "a.mp4"
    video.write_bytes(b"x")
    result = submit(data, str(video), "--scene", str(scene), "--camera", "cam-y")
    assert result.exit_code == 2 and "the scene of camera 'cam-x'" in result.output
    assert list_jobs(db) == []


def test_an_unreachable_broker_is_one_clear_error_and_queues_nothing(
    data: Path, db: Database, scene: Path, tmp_path: Path
) -> None:
    video = tmp_path / "a.mp4"
    video.write_bytes(b"x")
    result = submit(data, str(video), "--scene", str(scene), env={"TRAFFICCAM_BROKER_URL": "amqp://guest:guest@127.0.0.1:1/"})
    assert result.exit_code == 3 and "cannot reach the task queue" in result.output
    assert "Traceback" not in result.output and list_jobs(db) == []
    worker = CliRunner().invoke(app, ["worker", "--broker", "amqp://guest:guest@127.0.0.1:1/", "--data-dir", str(data)],
                                env=database_env(data))  # fmt: skip
    assert worker.exit_code == 3 and "Is RabbitMQ running?" in worker.output


def test_jobs_refuses_an_unknown_status(data: Path) -> None:
    result = CliRunner().invoke(app, ["jobs", "--status", "lost", "--data-dir", str(data)], env=database_env(data))
    assert result.exit_code != 0 and "--status must be one of" in result.output


def test_a_file_that_is_not_a_video_fails_once_without_retries(
    data: Path, db: Database, scene: Path, queue_name: str
) -> None:
    bad = SHARED / "bad_inputs" / "not_a_video.mp4"
    if not bad.exists():
        bad = data.parent / "not_a_video.mp4"
        bad.write_bytes(b"this is text, not a video\n" * 100)
    result = submit(data, str(bad), "--scene", str(scene), env={"TRAFFICCAM_QUEUE": queue_name})
    assert result.exit_code == 0, result.output
    [job] = list_jobs(db)
    stop = threading.Event()
    config = WorkerConfig(database_url(data), data, "w-test")
    thread = threading.Thread(target=run_worker, args=(config,), kwargs={"broker": None, "queue": queue_name,
                                                                          "stop": stop}, daemon=True)  # fmt: skip
    thread.start()
    try:
        wait_until(lambda: (get_job(db, job.job_id) or job).status is JobStatus.FAILED, 60, "the job to fail")
        threading.Event().wait(3.0)  # a retry would have put it back to queued / running by now
    finally:
        stop.set()
        thread.join(30)
    failed = get_job(db, job.job_id)
    assert failed is not None and failed.status is JobStatus.FAILED and failed.attempts == 1
    assert failed.error and "not_a_video.mp4" in failed.error


def test_a_redelivered_job_marks_the_dead_run_interrupted_and_a_done_job_is_not_redone(db: Database) -> None:
    [job] = add_jobs(db, "b" * 32, ["j" * 32], [JobSpec("cam-x", "/v.mp4", "/s.yaml", {})])
    first = start_job(db, job.job_id, "w1")
    assert first is not None and (first.status, first.attempts) == (JobStatus.RUNNING, 1)
    run = start_run(db, camera_id="cam-x", source="/v.mp4", model_name="m", model_sha256="a" * 64,
                    scene_sha256="b" * 64, settings_json="{}", settings_hash="c" * 64,
                    software_version="0")  # fmt: skip
    job_run_started(db, job.job_id, run)
    again = start_job(db, job.job_id, "w2")  # w1 died: the broker gave the message to w2
    assert again is not None and (again.attempts, again.worker, again.run_id) == (2, "w2", None)
    dead = get_run(db, run)
    assert dead is not None and dead.status is RunStatus.INTERRUPTED
    finish_job(db, job.job_id, JobStatus.DONE, violations=3)
    assert start_job(db, job.job_id, "w3") is None  # a late redelivery of finished work
    done = get_job(db, job.job_id)
    assert done is not None and (done.status, done.violations, done.progress) == (JobStatus.DONE, 3, 1.0)
