"""`trafficcam worker`: take queued files one at a time.

A worker runs one file at a time (`worker_threads=1`, prefetch 1), so a busy worker does not
hold back messages another worker could take; run one worker per core or machine.
"""

from __future__ import annotations

import logging
import threading

import dramatiq

from pipeline.jobs.taskqueue import (
    QueueError,
    broker_url,
    declare_actor,
    explain_broker_failure,
    make_broker,
)
from pipeline.jobs.work import JobRunner, WorkerConfig

log = logging.getLogger(__name__)


def run_worker(config: WorkerConfig, *, broker: str | None, queue: str, stop: threading.Event) -> None:
    """Take jobs from `queue` until `stop` is set; the file in hand is finished first.

    Raises:
        QueueError: the broker cannot be reached at start.
    """
    url = broker_url(broker)
    rabbit = make_broker(url)
    declare_actor(rabbit, queue, JobRunner(config))
    try:
        rabbit.declare_queue(queue, ensure=True)
    except Exception as exc:
        rabbit.close()
        raise QueueError(explain_broker_failure(exc, url)) from None
    worker = dramatiq.Worker(rabbit, queues={queue}, worker_threads=1, worker_timeout=200)
    worker.queue_prefetch = 1  # one file in hand: the rest stay free for other workers
    worker.start()
    log.info("worker %s on %s, queue %s", config.worker_name(), url.split("@")[-1], queue)
    try:
        stop.wait()
    finally:
        worker.stop()
        rabbit.close()
