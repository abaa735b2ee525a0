"""An archive processed across machines: `trafficcam submit` queues files, `trafficcam worker` runs them.

The queue is Dramatiq on RabbitMQ (`queue.py`): a message is acknowledged only after its file
is processed, so a worker that dies mid-file hands it back to the broker at once (its connection
closes) and another worker does it again; failures are retried with back-off; the `jobs` table
(`pipeline.store.jobs`) shows queued / running / done / failed with progress.
"""
