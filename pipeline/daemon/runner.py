"""`trafficcam watch`: one worker per camera, one stop event, reload on SIGHUP.

Start-up reads as a list of `start_*` calls (`Daemon.run`). Each camera gets a
`CameraWorker` (`pipeline/daemon/worker.py`); the daemon supervises them, reloads cameras.yaml,
checks free disk space, runs retention and serves /health and /metrics.

Several daemons may watch the same cameras.yaml against one PostgreSQL database: each camera
is processed by exactly one of them, the one holding its lease (`pipeline/store/leases.py`).
Every third of `lease_ttl_s` (every tick while it is short of its share or a peer missed a
heartbeat) the daemon beats, renews its leases, counts the live instances, and takes free or
lapsed cameras up to its fair share, or hands over what it holds beyond it; a camera whose lease
it lost (taken over after a stall) or could not renew in time is stopped at once.

SIGTERM / SIGINT set the stop event: workers stop reading, flush their pipelines (evidence of
violations already seen is written and recorded), finish their run rows and end; the process
exits 0 when all did within `stop_timeout_s`. A record is stored only after its evidence
folder is complete, so even a hard kill leaves no record pointing at missing files.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
from pathlib import Path
from types import FrameType

from detector.weights import WeightsError, resolve
from pipeline.daemon import pidfile
from pipeline.daemon.cameras import Camera, CamerasError, load_cameras
from pipeline.daemon.health import DaemonHealth, HealthServer, Metrics
from pipeline.daemon.lost import LostCameras
from pipeline.daemon.retention import RetentionPolicy, apply_retention
from pipeline.daemon.settings import DiskGuard, WatchSettings
from pipeline.daemon.streams import describe_source
from pipeline.daemon.worker import TICK_S, CameraWorker, WorkerContext
from pipeline.errors import ModelError, StorageError, TrafficcamError
from pipeline.store import leases as lease_store
from pipeline.store.coverage import CoverageReason
from pipeline.store.db import open_database
from pipeline.store.leases import Lease

log = logging.getLogger(__name__)


class Daemon:
    """The `watch` process: database, detector weights, HTTP, camera workers, signals."""

    def __init__(self, cameras_path: Path, settings: WatchSettings, data_dir: Path, db_url: str | None = None):
        self.cameras_path = Path(cameras_path)
        self.settings = settings
        self.data_dir = Path(data_dir)
        self.db_url = db_url
        self.stop = threading.Event()
        self.reload_requested = threading.Event()
        self.workers: dict[str, CameraWorker] = {}
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._signals_seen = 0
        self._old_handlers: dict[int, object] = {}
        self.http: HealthServer | None = None
        self.pid_path: Path | None = None
        self.metrics = Metrics(self.health)
        self.disk = DiskGuard(self.data_dir, settings.min_free_mb)
        self._retention_thread: threading.Thread | None = None
        self._last_retention = float("-inf")
        self._restarts: dict[str, tuple[int, float]] = {}
        self.instance = lease_store.instance_id()
        self.wanted: dict[str, Camera] = {}
        """The enabled cameras of cameras.yaml, which the live instances share."""
        self.leases: dict[str, Lease] = {}
        self._lease_deadline: dict[str, float] = {}
        """Monotonic time by which each lease must be renewed, or its camera is stopped."""
        self.releasing: set[str] = set()
        """Cameras whose worker is stopping so that their lease can be given up."""
        self.live_instances = 1
        self.share: int | None = None
        self._last_balance = float("-inf")
        self._short = False
        """Holds fewer cameras than its share, or another instance missed a heartbeat."""
        self.lost = LostCameras()
        """Cameras stopped here by a fault (lease not renewed): listed in /health until watched again."""
        self._db_error = "the database did not answer"

    # -- start-up ----------------------------------------------------------------------------

    def run(self) -> int:
        """Start everything, wait for the stop event, stop cleanly; the process exit code."""
        config = self.start_config()
        self.start_database()
        try:
            self.start_detector_weights()
            self.start_http()
            self.start_signal_handlers()
            self.start_pid_file()
            self.start_cameras(config.enabled)
            self._supervise()
        finally:
            code = self.shutdown()
        return code

    def start_config(self):  # type: ignore[no-untyped-def]
        config = load_cameras(self.cameras_path)
        for note in config.notes:
            log.info("%s", note)
        if not config.enabled:
            log.warning("%s: every camera is disabled; waiting for a reload (SIGHUP)", self.cameras_path)
        return config

    def start_database(self) -> None:
        self.db = open_database(self.db_url, self.data_dir)
        self.disk.check()

    def start_detector_weights(self) -> None:
        try:
            self.weights = resolve(self.settings.weights)
        except WeightsError as exc:
            raise ModelError(str(exc)) from None
        self.model_sha256 = self.weights.sha256() or hashlib.sha256(f"asset:{self.weights.path}".encode()).hexdigest()
        self.context = WorkerContext(self.db, self.data_dir, self.settings, self.weights, self.model_sha256,
                                     self.metrics, self.disk, self.stop)  # fmt: skip

    def start_http(self) -> None:
        if not self.settings.http:
            return
        try:
            self.http = HealthServer(self.settings.http, self.health, self.metrics)
        except ValueError as exc:
            raise TrafficcamError(str(exc)) from None
        except OSError as exc:
            raise TrafficcamError(
                f"cannot serve /health and /metrics on {self.settings.http}: {exc.strerror or exc}. "
                "Choose another --http HOST:PORT, or --http off."
            ) from None
        self.http.start()
        log.info("health on http://%s/health, metrics on http://%s/metrics", self.http.address, self.http.address)

    def start_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # tests drive a daemon from a thread and set `stop` themselves
        for sig, handler in ((signal.SIGTERM, self._on_stop_signal), (signal.SIGINT, self._on_stop_signal),
                             (signal.SIGHUP, self._on_reload_signal)):  # fmt: skip
            self._old_handlers[sig] = signal.signal(sig, handler)

    def start_pid_file(self) -> None:
        if self.settings.pid_file is None:
            return
        try:
            self.pid_path = pidfile.claim(self.settings.pid_file)
        except OSError as exc:
            raise TrafficcamError(f"cannot write the pid file {self.settings.pid_file}: {exc}") from None
        if self.pid_path != self.settings.pid_file:
            log.warning("%s belongs to another running instance; this one's pid is in %s", self.settings.pid_file,
                        self.pid_path)  # fmt: skip

    def start_cameras(self, cameras: list[Camera]) -> None:
        """Share `cameras` with the other live instances: take this instance's share now."""
        self.wanted = {c.id: c for c in cameras}
        try:
            lease_store.forget_silent_instances(self.db)  # rows of instances dead for a day
        except StorageError as exc:
            log.error("could not tidy the instances table: %s", exc)
        self.balance()

    def start_camera(self, camera: Camera, lease: Lease) -> None:
        self.lost.found(camera.id)
        worker = CameraWorker(camera, self.context, lease)
        with self._lock:
            self.workers[camera.id] = worker
        worker.start()
        log.info("camera %s: watching %s (lease generation %d)", camera.id, describe_source(camera.config.source),
                 lease.generation)  # fmt: skip

    # -- running -----------------------------------------------------------------------------

    def _on_stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals_seen += 1
        if self._signals_seen == 1:
            log.warning("%s: stopping (finishing evidence, up to %.0f s)", signal.Signals(signum).name,
                        self.settings.stop_timeout_s)  # fmt: skip
        else:
            log.warning("already stopping; still finishing evidence")
        self.stop.set()

    def _on_reload_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.reload_requested.set()

    def _supervise(self) -> None:
        last_disk = time.monotonic()
        while not self.stop.wait(TICK_S):
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self.reload()
            if time.monotonic() - last_disk >= 5.0:
                self.disk.check()
                last_disk = time.monotonic()
            # below its share (a camera being handed over) or with a silent peer, it looks every tick
            every = TICK_S if self._short else self.settings.lease_ttl_s / 3
            if time.monotonic() - self._last_balance >= every:
                self.balance()
            self._release_retired()
            self._restart_dead_workers()
            self._maybe_retention()

    def _restart_dead_workers(self) -> None:
        for worker in list(self.workers.values()):
            if worker.thread.is_alive() or worker.retire.is_set() or self.stop.is_set():
                continue
            if worker.id not in self.leases:
                continue  # lost or released: the balancer decides whether it comes back
            if worker.source.finished.is_set():
                continue  # a file without loop has ended; nothing to restart
            restarts = self._restarts.get(worker.id, (0, 0.0))
            if time.monotonic() < restarts[1]:
                continue
            delay = min(self.settings.backoff_max_s, 2.0 ** restarts[0])
            self._restarts[worker.id] = (restarts[0] + 1, time.monotonic() + delay)
            self.lost.ever.setdefault(worker.id, f"worker_failed: {worker.error or 'no error'}")
            log.error("camera %s: worker stopped (%s); restarting it (next restart no sooner than %.0f s)",
                      worker.id, worker.error or "no error", delay)  # fmt: skip
            self.start_camera(worker.camera, self.leases[worker.id])

    # -- leases ------------------------------------------------------------------------------

    def balance(self) -> None:
        """Heartbeat, renew the leases, and take or give up cameras to hold this instance's share."""
        self._last_balance = time.monotonic()
        db, ttl = self.db, self.settings.lease_ttl_s
        try:
            lease_store.heartbeat(db, self.instance, http=self.http.address if self.http else None)
            self.lost.keep_ledger(db)  # the database takes writes again: say why those cameras were not watched
            renewed, lost = lease_store.renew(db, list(self.leases.values()), ttl)
            for lease in renewed:
                self.leases[lease.camera_id] = lease
                self._lease_deadline[lease.camera_id] = self._last_balance + ttl * 0.9
            for lease in lost:
                log.error("camera %s: another instance took it over (this one missed its lease renewal); "
                          "stopping it here", lease.camera_id)  # fmt: skip
                self._drop(lease.camera_id)
            live = lease_store.live_instances(db, ttl)
            self.live_instances = len(set(live) | {self.instance})
            # an instance that missed a beat may be dead: look every tick until its leases lapse or it beats
            suspect = any(age > ttl / 2 for name, age in live.items() if name != self.instance)
            self.share = lease_store.fair_share(len(self.wanted), list(live), self.instance)
            active = sorted((cid for cid in self.leases if cid not in self.releasing), key=self._preference)
            if len(active) > self.share:
                for cid in active[self.share :]:
                    log.info("camera %s: handing it over (%d live instance(s), this one's share is %d)", cid,
                             self.live_instances, self.share)  # fmt: skip
                    self._retire(cid)
            elif len(active) < self.share:
                self._acquire(self.share - len(active))
            self._short = suspect or len([c for c in self.leases if c not in self.releasing]) < self.share
        except StorageError as exc:
            self._db_error = str(exc)
            log.error("leases not renewed: %s", exc)
        self._stop_unrenewed()

    def _acquire(self, wanted: int) -> None:
        ttl = self.settings.lease_ttl_s
        held_elsewhere = {lease.camera_id for lease, valid in lease_store.list_leases(self.db) if valid}
        for cid in held_elsewhere - set(self.leases):
            self.lost.found(cid)  # another instance watches it
        free = sorted((cid for cid in self.wanted if cid not in self.leases and cid not in held_elsewhere),
                      key=self._preference)  # fmt: skip
        for cid in free:
            if wanted <= 0 or self.stop.is_set():
                return
            lease = lease_store.acquire(self.db, cid, self.instance, ttl)
            if lease is None:
                continue  # another instance was quicker
            self.leases[cid] = lease
            self._lease_deadline[cid] = time.monotonic() + ttl * 0.9
            self._restarts.pop(cid, None)
            self.start_camera(self.wanted[cid], lease)
            wanted -= 1

    def _preference(self, camera_id: str) -> str:
        """Rendezvous order: each instance prefers a different, stable subset of the cameras."""
        return hashlib.sha256(f"{camera_id}|{self.instance}".encode()).hexdigest()

    def _retire(self, camera_id: str) -> None:
        """Stop the camera's worker; its lease is kept renewed until the worker ended, then released."""
        self.releasing.add(camera_id)
        worker = self.workers.get(camera_id)
        if worker is not None:
            worker.stop()

    def _release_retired(self) -> None:
        for cid in sorted(self.releasing):
            worker = self.workers.get(cid)
            if worker is not None and worker.thread.is_alive():
                continue
            self.releasing.discard(cid)
            with self._lock:
                self.workers.pop(cid, None)
            lease = self.leases.pop(cid, None)
            self._lease_deadline.pop(cid, None)
            if lease is not None:
                try:
                    lease_store.release(self.db, [lease])
                except StorageError as exc:
                    log.error("camera %s: lease not released (it lapses by itself): %s", cid, exc)

    def _drop(self, camera_id: str) -> None:
        """Stop the camera here at once, without touching its lease (another instance holds it)."""
        self.leases.pop(camera_id, None)
        self._lease_deadline.pop(camera_id, None)
        self.releasing.discard(camera_id)
        with self._lock:
            worker = self.workers.pop(camera_id, None)
        if worker is not None:
            worker.lose_lease()

    def _stop_unrenewed(self) -> None:
        """A lease not renewed in time may already be someone else's: stop its camera here."""
        now = time.monotonic()
        for cid, deadline in list(self._lease_deadline.items()):
            if now > deadline:
                log.error("camera %s: its lease could not be renewed in time; stopping it here (%s)", cid,
                          self._db_error)  # fmt: skip
                worker = self.workers.get(cid)
                source = describe_source(worker.camera.config.source) if worker else "?"
                self.lost.lose(cid, source, CoverageReason.LEASE_LOST, f"lease not renewed: {self._db_error}")
                self._drop(cid)

    def reload(self) -> None:
        """Re-read cameras.yaml: start added cameras, stop removed ones, restart changed ones."""
        try:
            config = load_cameras(self.cameras_path)
        except CamerasError as exc:
            log.error("reload refused, the running cameras keep going: %s", exc)
            return
        except Exception as exc:  # a validator's own bug must not stop the cameras that run
            log.error("reload refused, the running cameras keep going: %s: %s: %s", self.cameras_path,
                      type(exc).__name__, exc)  # fmt: skip
            return
        wanted = {c.id: c for c in config.enabled}
        for cid in set(self.lost.cameras) - set(wanted):
            self.lost.found(cid)  # removed from cameras.yaml: no longer expected to be watched
        retiring = [
            w for cid, w in self.workers.items()
            if cid not in wanted or wanted[cid].fingerprint != w.camera.fingerprint
        ]  # fmt: skip
        for w in retiring:
            self._retire(w.id)  # released once stopped; a changed camera is then taken again
        self.wanted = wanted
        self.balance()
        log.warning("reloaded %s: %d camera(s) listed, %d restarted or removed", self.cameras_path,
                    len(wanted), len(retiring))  # fmt: skip

    def _maybe_retention(self) -> None:
        s = self.settings
        per_camera = {w.id: w.camera.config.keep_days for w in self.workers.values() if w.camera.config.keep_days}
        if s.keep_days is None and not per_camera:
            return
        if time.monotonic() - self._last_retention < s.retention_every_s:
            return
        if self._retention_thread is not None and self._retention_thread.is_alive():
            return
        self._last_retention = time.monotonic()
        policy = RetentionPolicy(s.keep_days, include_confirmed=s.keep_confirmed, per_camera=per_camera)

        def run() -> None:
            try:
                result = apply_retention(self.db, self.data_dir, policy)
                if result.removed:
                    log.info("retention: removed the evidence of %d violation(s), %.1f MB", result.removed,
                             result.bytes_freed / 1e6)  # fmt: skip
            except Exception:
                log.exception("retention failed")

        self._retention_thread = threading.Thread(target=run, name="retention", daemon=True)
        self._retention_thread.start()

    def health(self) -> DaemonHealth:
        with self._lock:
            workers = list(self.workers.values())
        return DaemonHealth(
            uptime_s=round(time.monotonic() - self._started, 1), evidence_paused=self.disk.paused,
            free_mb=None if self.disk.free_mb is None else round(self.disk.free_mb, 1),
            cameras=[w.health() for w in workers if w.id not in self.releasing] + self.lost.health(),
            instance=self.instance,
            held=sorted(self.leases), live_instances=self.live_instances, share=self.share,
        )  # fmt: skip

    # -- stopping ----------------------------------------------------------------------------

    def shutdown(self) -> int:
        """Stop every worker (each flushes its evidence and finishes its run); 0 when all did in time."""
        self.stop.set()
        deadline = time.monotonic() + self.settings.stop_timeout_s
        workers = list(self.workers.values())
        for w in workers:
            w.stop()
        late = [w.id for w in workers if w.thread.ident and not w.join(max(0.0, deadline - time.monotonic()))]
        try:
            lease_store.forget_instance(self.db, self.instance)  # the others take these cameras at once
        except StorageError as exc:
            log.error("leases not released (they lapse in %.0f s): %s", self.settings.lease_ttl_s, exc)
        context = getattr(self, "context", None)
        if context is not None and not late:  # a late camera may still wait for its boxes: it ends with the process
            context.close_detector()
        if self.http is not None:
            self.http.stop()
        for sig, old in self._old_handlers.items():
            signal.signal(sig, old)  # type: ignore[arg-type]
        pidfile.release(self.pid_path)
        if late:
            log.error("camera(s) %s did not finish within %.0f s; their unfinished evidence is not recorded",
                      ", ".join(late), self.settings.stop_timeout_s)  # fmt: skip
            return 1
        self.db.close()
        failed = {w.id: w.error for w in workers if w.error} | self.lost.ever
        if failed:  # the exit code says it: a supervisor or an operator must not read "all well"
            log.error("stopped; camera(s) lost during this run: %s",
                      "; ".join(f"{cid} ({why})" for cid, why in sorted(failed.items())))  # fmt: skip
            return 1
        if workers:
            log.warning("stopped cleanly")
        return 0
