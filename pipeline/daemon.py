"""`trafficcam watch`: one worker per camera, one stop event, reload on SIGHUP.

Start-up reads as a list of `start_*` calls (`Daemon.run`). Each `CameraWorker` owns a
`StreamSource` (its reader thread reconnects forever), a detector, and one `CameraPipeline` per
stream session (a connection: a fresh run row, fresh tracks and signal state, because the
light may have changed while the stream was down). Workers evaluate once a second whether
their camera is enforcing and write changes to the coverage ledger.

SIGTERM / SIGINT set the stop event: workers stop reading, flush their pipelines (evidence of
violations already seen is written and recorded), finish their run rows and end; the process
exits 0 when all did within `stop_timeout_s`. A record is stored only after its evidence
folder is complete, so even a hard kill leaves no record pointing at missing files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from detector.types import Colour
from detector.weights import ResolvedWeights, WeightsError, resolve
from detector.yolo import YoloDetector
from pipeline import __version__
from pipeline.camera import CameraPipeline, Reported
from pipeline.cameras import Camera, CamerasError, load_cameras
from pipeline.errors import ModelError, StorageError, TrafficcamError
from pipeline.health import CameraHealth, DaemonHealth, HealthServer, Metrics
from pipeline.process import _fit_scene
from pipeline.retention import RetentionPolicy, apply_retention
from pipeline.rules import build_rules
from pipeline.scene import scene_hash
from pipeline.source import Frame
from pipeline.store import repository as repo
from pipeline.store.coverage import (
    CoverageReason,
    close_coverage,
    close_stale_coverage,
    record_coverage,
    touch_coverage,
)
from pipeline.store.db import Database, open_database
from pipeline.streams import Backoff, SessionEnded, SessionStarted, StreamSource, describe_source

log = logging.getLogger(__name__)

TICK_S = 1.0
HOLD_S = 3.0
"""A camera's state must hold this long before the ledger records the change (no flapping)."""
WARMUP_S = 3.0
FPS_WINDOW_S = 10.0
TOUCH_EVERY_S = 30.0
STALE_FRAME_S = 5.0


@dataclass(frozen=True)
class WatchSettings:
    """How the daemon runs; the detector settings are hashed into each run row."""

    weights: str | None = None
    imgsz: int | None = None
    conf: float = 0.25
    pre_s: float = 3.0
    post_s: float = 3.0
    http: str | None = "127.0.0.1:9100"
    keep_days: float | None = None
    keep_confirmed: bool = False
    min_free_mb: float = 500.0
    stop_timeout_s: float = 30.0
    queue_frames: int = 8
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    retention_every_s: float = 3600.0
    pid_file: Path | None = None


class DiskGuard:
    """Pauses evidence writing while the data dir's disk has less than `min_free_mb` free."""

    def __init__(self, data_dir: Path, min_free_mb: float):
        self.data_dir, self.min_free_mb = data_dir, min_free_mb
        self.paused = False
        self.free_mb: float | None = None
        self._last_warning = 0.0

    def check(self) -> None:
        try:
            self.free_mb = shutil.disk_usage(self.data_dir).free / 1e6
        except OSError as exc:
            log.error("cannot read free space of %s: %s", self.data_dir, exc)
            return
        if not self.paused and self.free_mb < self.min_free_mb:
            self.paused = True
            self._last_warning = 0.0
        elif self.paused and self.free_mb >= self.min_free_mb * 1.1:  # hysteresis: no flapping at the edge
            self.paused = False
            log.warning("disk space recovered (%.0f MB free under %s): evidence writing resumes", self.free_mb,
                        self.data_dir)  # fmt: skip
        if self.paused and time.monotonic() - self._last_warning > 300:
            self._last_warning = time.monotonic()
            log.error(
                "DISK NEARLY FULL: %.0f MB free under %s (--min-free-mb %.0f). Violations are NOT being "
                "recorded until space is freed (lower --keep-days or add disk).",
                self.free_mb, self.data_dir, self.min_free_mb,
            )  # fmt: skip

    def storage_failed(self, exc: Exception) -> None:
        """Writing failed (ENOSPC and the like): pause now, the next check decides when to resume."""
        log.error("evidence or database write failed: %s; pausing evidence writing", exc)
        self.paused = True


@dataclass
class WorkerContext:
    """What every camera worker shares."""

    db: Database
    data_dir: Path
    settings: WatchSettings
    weights: ResolvedWeights
    model_sha256: str
    metrics: Metrics
    disk: DiskGuard
    stop: threading.Event


@dataclass
class _Session:
    pipeline: CameraPipeline
    run_id: int
    started: float
    dropped_at_start: int
    last_analysed: float = float("-inf")


class CameraWorker:
    """Reads one camera, runs its pipeline, keeps its coverage ledger; restarts nothing itself."""

    def __init__(self, camera: Camera, ctx: WorkerContext):
        self.camera, self.ctx = camera, ctx
        s = ctx.settings
        cfg = camera.config
        self.source = StreamSource(
            cfg.source, cfg.id, loop=cfg.loop, queue_frames=s.queue_frames, base_dir=camera.base_dir,
            backoff=Backoff(initial_s=s.backoff_initial_s, max_s=s.backoff_max_s),
        )  # fmt: skip
        self.retire = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"camera:{cfg.id}", daemon=True)
        self.session: _Session | None = None
        self.state: CoverageReason | None = None
        self._pending: tuple[CoverageReason, float] | None = None
        self._last_tick = self._last_touch = 0.0
        self._analysed_at: deque[float] = deque(maxlen=1024)
        self.frames_analysed = 0
        self.violations: Counter[str] = Counter()
        self.error: str | None = None
        self.detector: YoloDetector | None = None

    @property
    def id(self) -> str:
        return self.camera.id

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.retire.set()

    def join(self, timeout: float) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def _stopping(self) -> bool:
        return self.ctx.stop.is_set() or self.retire.is_set()

    # -- the worker thread ---------------------------------------------------------------

    def _run(self) -> None:
        db = self.ctx.db
        try:
            closed = close_stale_coverage(db, self.id)
            if closed:
                log.info("camera %s: closed %d coverage period(s) left open by an earlier daemon", self.id, closed)
            s = self.ctx.settings
            self.detector = YoloDetector(self.ctx.weights, imgsz=s.imgsz, conf=s.conf)
            self.source.start()
            while not self._stopping():
                for item in self._next_items():
                    if isinstance(item, SessionStarted):
                        self._begin(item)
                    elif isinstance(item, SessionEnded):
                        self._end(item.reason)
                    else:
                        frame, newest = item
                        self._frame(frame, newest)
                self._tick()
                if self.source.finished.is_set() and not len(self.source.queue):
                    log.info("camera %s: file source ended", self.id)
                    break
        except Exception as exc:  # the supervisor restarts a worker that died
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("camera %s: worker failed", self.id)
        finally:
            self.source.stop(timeout=0)  # a read blocked in FFmpeg ends by its own timeout; nobody waits
            self._end("stopped")
            try:
                close_coverage(db, self.id, datetime.now(UTC))
            except StorageError as exc:
                log.error("camera %s: could not close its coverage period: %s", self.id, exc)
            if self.detector is not None:
                self.detector.close()

    def _begin(self, started: SessionStarted) -> None:
        self._end("superseded")
        cfg, s = self.camera.config, self.ctx.settings
        scene = _fit_scene(self.camera.scene, started.width, started.height, [])
        rules = build_rules(scene)
        settings_json = json.dumps(
            {"camera": cfg.model_dump(), "weights": self.ctx.weights.name, "model_sha256": self.ctx.model_sha256,
             "imgsz": self.detector.imgsz if self.detector else s.imgsz, "conf": s.conf, "pre_s": s.pre_s,
             "post_s": s.post_s, "scene_sha256": scene_hash(scene), "rules": sorted(r.name for r in rules),
             "stream_fps": started.fps, "frame_size": [started.width, started.height]},
            sort_keys=True, default=str,
        )  # fmt: skip
        settings_hash = hashlib.sha256(settings_json.encode()).hexdigest()
        run_id = repo.start_run(
            self.ctx.db, camera_id=cfg.id, source=describe_source(self.source.source), model_name=self.ctx.weights.name,
            model_sha256=self.ctx.model_sha256, scene_sha256=scene_hash(scene), settings_json=settings_json,
            settings_hash=settings_hash, software_version=__version__,
            started_at=datetime.fromtimestamp(started.at, UTC),
        )  # fmt: skip
        assert self.detector is not None
        self.detector.reset()  # tracks of the last connection mean nothing now

        def dedup_key(v) -> str:  # type: ignore[no-untyped-def]
            identity = f"stream|{cfg.id}|{run_id}|{v.rule}|{v.where}|{v.track_id}|{v.frame_index}"
            return hashlib.sha256(identity.encode()).hexdigest()

        pipeline = CameraPipeline(
            scene, rules, self.detector, self.ctx.db, self.ctx.data_dir, started.fps, run_id,
            dedup_key=dedup_key, occurred_at=lambda t: datetime.fromtimestamp(t, UTC),
            pre_s=s.pre_s, post_s=s.post_s, on_stored=self._stored,
        )  # fmt: skip
        self.session = _Session(pipeline, run_id, time.time(), self.source.frames_dropped)
        log.info("camera %s: run %d started (%dx%d at %.1f fps)", cfg.id, run_id, started.width, started.height,
                 started.fps)  # fmt: skip

    def _end(self, reason: str) -> None:
        session, self.session = self.session, None
        if session is None:
            return
        p = session.pipeline
        try:
            p.flush()  # evidence of the violations already seen, with the frames there are
        except Exception as exc:
            log.error("camera %s: evidence at the end of run %d failed: %s", self.id, session.run_id, exc)
        status = "finished" if reason in ("stopped", "end of file") else "interrupted"
        try:
            repo.finish_run(
                self.ctx.db, session.run_id, status, frames_read=p.stats.frames_read,
                frames_analysed=p.stats.frames_analysed,
                frames_dropped=self.source.frames_dropped - session.dropped_at_start,
            )  # fmt: skip
        except (StorageError, LookupError) as exc:
            log.error("camera %s: could not finish run %d: %s", self.id, session.run_id, exc)

    def _next_items(self) -> list[SessionStarted | SessionEnded | tuple[Frame, bool]]:
        """What the reader queued, frames paired with whether each is the newest of its run.

        Only the newest frame of a backlog may go to the detector; the older ones still feed the
        evidence ring buffer and the signal reader, which cost little, so clips keep every frame."""
        first = self.source.get(timeout=0.25)
        if first is None:
            return []
        items: list[SessionStarted | SessionEnded | Frame] = [first]
        while len(items) < self.source.queue.max_frames + 2:
            more = self.source.get(timeout=0)
            if more is None:
                break
            items.append(more)
        out: list[SessionStarted | SessionEnded | tuple[Frame, bool]] = []
        for i, item in enumerate(items):
            if isinstance(item, Frame):
                newest = i + 1 == len(items) or not isinstance(items[i + 1], Frame)
                out.append((item, newest))
            else:
                out.append(item)
        return out

    def _frame(self, frame: Frame, newest: bool = True) -> None:
        session = self.session
        if session is None:
            return
        afps = self.camera.config.analysis_fps
        due = newest and (afps is None or frame.timestamp - session.last_analysed >= 0.95 / afps)
        analyse = due and not self.ctx.disk.paused  # no detection when evidence cannot be written
        pipeline = session.pipeline
        try:
            pipeline.on_frame(replace(frame, analyse=analyse) if not analyse else frame)
        except StorageError as exc:
            self.ctx.disk.storage_failed(exc)
            self.ctx.metrics.evidence_skipped.labels(self.id).inc()
        finally:
            pipeline.reported.clear()  # stored is stored: a run of days must not keep them all
        if analyse:
            session.last_analysed = frame.timestamp
            self.frames_analysed += 1
            self._analysed_at.append(time.monotonic())
            self.ctx.metrics.detector_latency.labels(self.id).observe(pipeline.stats.detector_latency_s)

    def _stored(self, reported: Reported) -> None:
        if reported.new:
            self.violations[reported.violation.rule] += 1
            self.ctx.metrics.violations.labels(self.id, reported.violation.rule).inc()
            log.info("camera %s: %s at %s, track %d -> %s", self.id, reported.violation.rule,
                     reported.violation.where, reported.violation.track_id, reported.public_id)  # fmt: skip

    # -- coverage ----------------------------------------------------------------------------

    def analysed_fps(self) -> float:
        now = time.monotonic()
        started = self.session.started if self.session else time.time()
        window = min(FPS_WINDOW_S, max(1e-3, time.time() - started))
        return sum(1 for t in self._analysed_at if now - t <= window) / window

    def evaluate(self) -> tuple[CoverageReason, str | None]:
        """Is this camera enforcing now, and if not, why."""
        now = time.time()
        stats = self.source.stats
        if self.session is None and stats.sessions == 0 and stats.last_error is None:
            return CoverageReason.STARTING, "connecting"
        if self.session is None or not stats.connected:
            return CoverageReason.STREAM_DOWN, stats.last_error
        if stats.last_frame_at is None or now - stats.last_frame_at > STALE_FRAME_S:
            return CoverageReason.STREAM_DOWN, "no frames"
        if self.ctx.disk.paused:
            return CoverageReason.EVIDENCE_PAUSED, f"{self.ctx.disk.free_mb or 0:.0f} MB free"
        if now - self.session.started < WARMUP_S:
            return CoverageReason.STARTING, None
        scene = self.session.pipeline.scene
        if scene.rules.red_light.enabled and scene.stop_lines:
            states = self.session.pipeline.signal_states
            unread = sorted(
                {sl.signal for sl in scene.stop_lines if states.get(sl.signal, Colour.UNKNOWN) is Colour.UNKNOWN}
            )
            if unread:
                return CoverageReason.SIGNAL_UNREADABLE, "signal " + ", ".join(unread)
        fps, floor = self.analysed_fps(), self.camera.config.min_fps
        if fps < floor:
            return CoverageReason.FPS_BELOW_FLOOR, f"{fps:.1f} fps analysed, floor {floor:g}"
        return CoverageReason.ENFORCING, None

    def _tick(self) -> None:
        now = time.time()
        if now - self._last_tick < TICK_S:
            return
        self._last_tick = now
        reason, detail = self.evaluate()
        if self._pending is None or self._pending[0] != reason:
            self._pending = (reason, now)
        since = self._pending[1]
        db, at = self.ctx.db, datetime.fromtimestamp(since, UTC)
        try:
            if reason != self.state and (self.state is None or now - since >= HOLD_S):
                record_coverage(db, self.id, reason, at, detail)
                if reason is CoverageReason.ENFORCING or self.state in (None, CoverageReason.ENFORCING):
                    level = logging.INFO if reason is CoverageReason.ENFORCING else logging.WARNING
                    log.log(level, "camera %s: %s%s", self.id, reason.value.replace("_", " "),
                            f" ({detail})" if detail else "")  # fmt: skip
                self.state, self._last_touch = reason, now
            elif now - self._last_touch >= TOUCH_EVERY_S:
                touch_coverage(db, self.id, datetime.now(UTC))
                self._last_touch = now
        except StorageError as exc:
            log.error("camera %s: coverage ledger not written: %s", self.id, exc)

    def health(self) -> CameraHealth:
        stats = self.source.stats
        age = None if stats.last_frame_at is None else max(0.0, time.time() - stats.last_frame_at)
        reason = self.state or CoverageReason.STARTING
        return CameraHealth(
            id=self.id, source=describe_source(self.source.source), connected=stats.connected,
            enforcing=reason is CoverageReason.ENFORCING, reason=reason.value, last_frame_age_s=age,
            analysed_fps=round(self.analysed_fps(), 2), reconnects=stats.reconnects, frames_read=stats.frames_read,
            frames_analysed=self.frames_analysed, frames_dropped=self.source.frames_dropped,
            violations=dict(self.violations), last_error=self.error or stats.last_error,
            run_id=self.session.run_id if self.session else None,
        )  # fmt: skip


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
        self.metrics = Metrics(self.health)
        self.disk = DiskGuard(self.data_dir, settings.min_free_mb)
        self._retention_thread: threading.Thread | None = None
        self._last_retention = float("-inf")

    # -- start-up ----------------------------------------------------------------------------

    def run(self) -> int:
        """Start everything, wait for the stop event, stop cleanly; the process exit code."""
        config = self.start_config()
        self.start_database()
        self.start_detector_weights()
        self.start_http()
        self.start_signal_handlers()
        self.start_pid_file()
        self.start_cameras(config.enabled)
        try:
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
        path = self.settings.pid_file
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{os.getpid()}\n")

    def start_cameras(self, cameras: list[Camera]) -> None:
        for camera in cameras:
            self.start_camera(camera)

    def start_camera(self, camera: Camera) -> None:
        worker = CameraWorker(camera, self.context)
        with self._lock:
            self.workers[camera.id] = worker
        worker.start()
        log.info("camera %s: watching %s", camera.id, describe_source(camera.config.source))

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
            self._restart_dead_workers()
            self._maybe_retention()

    def _restart_dead_workers(self) -> None:
        for worker in list(self.workers.values()):
            if worker.thread.is_alive() or worker.retire.is_set() or self.stop.is_set():
                continue
            if worker.source.finished.is_set():
                continue  # a file without loop has ended; nothing to restart
            log.error("camera %s: worker stopped (%s); restarting it", worker.id, worker.error or "no error")
            self.start_camera(worker.camera)

    def reload(self) -> None:
        """Re-read cameras.yaml: start added cameras, stop removed ones, restart changed ones."""
        try:
            config = load_cameras(self.cameras_path)
        except CamerasError as exc:
            log.error("reload refused, the running cameras keep going: %s", exc)
            return
        wanted = {c.id: c for c in config.enabled}
        retiring = [
            w for cid, w in self.workers.items()
            if cid not in wanted or wanted[cid].fingerprint != w.camera.fingerprint
        ]  # fmt: skip
        for w in retiring:
            w.stop()
        for w in retiring:
            if not w.join(self.settings.stop_timeout_s):
                log.error("camera %s: worker did not stop within %.0f s", w.id, self.settings.stop_timeout_s)
            with self._lock:
                self.workers.pop(w.id, None)
        for cid, camera in wanted.items():
            if cid not in self.workers:
                self.start_camera(camera)
        log.warning("reloaded %s: %d camera(s) running, %d restarted or removed", self.cameras_path,
                    len(self.workers), len(retiring))  # fmt: skip

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
            cameras=[w.health() for w in workers],
        )  # fmt: skip

    # -- stopping ----------------------------------------------------------------------------

    def shutdown(self) -> int:
        """Stop every worker (each flushes its evidence and finishes its run); 0 when all did in time."""
        self.stop.set()
        deadline = time.monotonic() + self.settings.stop_timeout_s
        workers = list(self.workers.values())
        for w in workers:
            w.stop()
        late = [w.id for w in workers if not w.join(max(0.0, deadline - time.monotonic()))]
        if self.http is not None:
            self.http.stop()
        for sig, old in self._old_handlers.items():
            signal.signal(sig, old)  # type: ignore[arg-type]
        pid_file = self.settings.pid_file
        if pid_file is not None and pid_file.exists() and pid_file.read_text().strip() == str(os.getpid()):
            pid_file.unlink()
        if late:
            log.error("camera(s) %s did not finish within %.0f s; their unfinished evidence is not recorded",
                      ", ".join(late), self.settings.stop_timeout_s)  # fmt: skip
            return 1
        self.db.close()
        log.warning("stopped cleanly")
        return 0
