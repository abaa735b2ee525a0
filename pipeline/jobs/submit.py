"""`trafficcam submit`: queue one job per file, checking every file and the scene first.

Kept apart from the worker so submitting does not import the detector (torch): the settings
travel as the keyword arguments of `pipeline.process.ProcessSettings`, which the worker builds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import uuid4

from pipeline.errors import SceneError, SourceError
from pipeline.jobs.taskqueue import QueueError, broker_url, declare_actor, explain_broker_failure, make_broker
from pipeline.scene import load_scene
from pipeline.store.db import open_database
from pipeline.store.jobs import JobRecord, JobSpec, add_jobs, finish_job
from pipeline.store.records import JobStatus


def submit(
    files: Sequence[Path],
    scene_path: Path,
    settings: dict[str, Any],
    *,
    camera: str | None,
    db_url: str | None,
    data_dir: Path,
    broker: str | None,
    queue: str,
) -> tuple[str, list[JobRecord]]:
    """Queue one job per file; return the batch id and the jobs.

    Every file and the scene are checked first, so a bad one queues nothing.

    Raises:
        SourceError, SceneError: a missing file, or a scene that does not load / names another camera.
        QueueError: the broker cannot be reached (nothing is queued).
    """
    missing = [str(f) for f in files if not Path(f).is_file()]
    if missing:
        raise SourceError(f"not a file: {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}; nothing queued")
    scene = load_scene(scene_path)
    if camera is not None and camera != scene.camera:
        raise SceneError(
            str(scene_path), [f"--camera {camera!r} but this is the scene of camera {scene.camera!r}; nothing queued"]
        )
    url = broker_url(broker)
    rabbit = make_broker(url)
    actor = declare_actor(rabbit, queue, _never_here)
    try:
        rabbit.declare_queue(queue, ensure=True)
    except Exception as exc:
        rabbit.close()
        raise QueueError(explain_broker_failure(exc, url)) from None
    db = open_database(db_url, data_dir)
    batch = uuid4().hex
    specs = [JobSpec(scene.camera, str(Path(f).resolve()), str(scene_path.resolve()), settings) for f in files]
    jobs = add_jobs(db, batch, [uuid4().hex for _ in files], specs)
    sent = 0
    try:
        for job in jobs:
            actor.send(job.job_id)
            sent += 1
    except Exception as exc:
        for job in jobs[sent:]:  # so `trafficcam jobs` does not show them waiting for ever
            finish_job(db, job.job_id, JobStatus.FAILED, error="never reached the queue: submit them again")
        raise QueueError(
            explain_broker_failure(exc, url) + f" {sent} of {len(jobs)} file(s) of batch {batch} were queued."
        ) from None
    finally:
        rabbit.close()
        db.close()
    return batch, jobs


def _never_here(job_id: str) -> None:  # pragma: no cover - the submitter only sends
    raise RuntimeError("the submitter does not run jobs")
