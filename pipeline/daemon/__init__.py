"""`trafficcam watch`: live streams, one worker per camera, leases, health, coverage, retention.

`runner.Daemon` supervises; `worker.CameraWorker` runs one camera; `streams` reads sources;
`cameras` loads cameras.yaml; `health` serves /health and /metrics; `settings` holds what both
the daemon and its workers read."""
