"""What a worker does with one job: the same `process_video` as `trafficcam process`, tracked in `jobs`.

A worker killed mid-file leaves only whole records behind (each violation is committed with its
evidence in one transaction) and an unacknowledged message, which RabbitMQ gives to another
worker; that attempt marks the dead run interrupted and processes the file again, finding the
violations already stored by their dedup keys instead of adding them twice.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.jobs.taskqueue import MAX_RETRIES, PERMANENT, current_retries
from pipeline.process import ProcessSettings, process_video
from pipeline.store.db import Database, open_database
from pipeline.store.jobs import finish_job, job_progress, job_run_started, start_job
from pipeline.store.records import JobStatus

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 1.0


@dataclass(frozen=True)
class WorkerConfig:
    """Where a worker keeps records: every worker of one archive shares the database and data dir."""

    db_url: str | None
    data_dir: Path
    name: str = ""

    def worker_name(self) -> str:
        return self.name or f"{socket.gethostname()}:{os.getpid()}"


def settings_from_job(raw: dict[str, Any]) -> ProcessSettings:
    """The `ProcessSettings` a job was submitted with (lists back to tuples)."""
    return ProcessSettings(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


class JobRunner:
    """Runs jobs for one worker process, on one open database."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.db: Database = open_database(config.db_url, config.data_dir)
        self.name = config.worker_name()

    def __call__(self, job_id: str) -> None:
        job = start_job(self.db, job_id, self.name)
        if job is None:
            log.info("job %s is already done; nothing to do", job_id)
            return
        log.info("job %s: %s (attempt %d)", job_id, job.video, job.attempts)
        last = [0.0]

        def progress(done: int, total: int | None) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S:
                last[0] = now
                job_progress(self.db, job_id, done, total)

        try:
            result = process_video(
                job.video, job.scene, settings_from_job(job.settings), self.config.data_dir, self.config.db_url,
                progress=progress, on_run=lambda run_id: job_run_started(self.db, job_id, run_id),
            )  # fmt: skip
        except PERMANENT as exc:
            finish_job(self.db, job_id, JobStatus.FAILED, error=str(exc))
            raise
        except Exception as exc:
            retries = current_retries()
            final = retries >= MAX_RETRIES
            error = f"attempt {job.attempts}: {type(exc).__name__}: {exc}" + ("" if final else "; will retry")
            finish_job(self.db, job_id, JobStatus.FAILED if final else JobStatus.QUEUED, error=error)
            raise
        job_progress(self.db, job_id, result.frames_read, result.frames_expected or result.frames_read)
        finish_job(self.db, job_id, JobStatus.DONE, violations=len(result.reported))
        log.info("job %s done: %d violation(s) in %.1f s", job_id, len(result.reported), result.wall_s)
