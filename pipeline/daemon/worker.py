"""One camera's worker thread: its stream, its detector, its pipeline per stream session.

Each `CameraWorker` owns a `StreamSource` (whose reader thread reconnects forever), a detector
(its own tracks on the daemon's one shared detector by default, detector/shared.py),
and one `CameraPipeline` per stream session (a connection gets a fresh run row, fresh tracks
and signal state: the light may have changed while the stream was down). Once a second it
decides whether its camera is enforcing, and writes changes to the coverage ledger.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from detector.shared import CameraDetector, SharedDetector
from detector.weights import ResolvedWeights
from detector.yolo import YoloDetector
from pipeline import __version__
from pipeline.camera import CameraPipeline, Reported
from pipeline.daemon.cameras import Camera
from pipeline.daemon.health import CameraHealth, Metrics
from pipeline.daemon.recovery import log_recovery, recover_camera
from pipeline.daemon.settings import DiskGuard, WatchSettings
from pipeline.daemon.streams import Backoff, SessionEnded, SessionStarted, StreamSource, describe_source
from pipeline.errors import LeaseLostError, StorageError
from pipeline.process import fit_scene, site_of
from pipeline.rules import Violation, build_rules
from pipeline.scene import scene_hash
from pipeline.scenes.guard import GuardSettings
from pipeline.scenes.live import LiveScene
from pipeline.signals import unreadable_heads
from pipeline.source import Frame
from pipeline.store import repository as repo
from pipeline.store.coverage import (
    CoverageReason,
    close_coverage,
    close_stale_coverage,
    record_coverage,
    touch_coverage,
)
from pipeline.store.db import Database
from pipeline.store.leases import Lease, LeasedDatabase

log = logging.getLogger("pipeline.daemon")  # one logger for the daemon's story

TICK_S = 1.0
HOLD_S = 10.0
"""Enforcing must hold this long before the ledger records it (no flapping)."""
FPS_HYSTERESIS = 1.15
WARMUP_S = 3.0
FPS_WINDOW_S = 10.0
TOUCH_EVERY_S = 5.0
"""How often an unchanged coverage period's last sign of life is written: a daemon that dies leaves
a gap in the ledger of at most this plus the takeover time."""
STALE_SLACK_S = 1.5
"""A camera stops enforcing this long after its last analysed frame (longer when its floor is below
1 / this: a gap the floor allows is no outage). The ledger dates the loss from there, not from
when the reader gave up on the stream (up to its 5 s read timeout later)."""
STALE_MAX_S = 3.0


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
    shared: SharedDetector | None = None
    """The one detector every camera's frames go to (`settings.shared_detector`), loaded by the
    first worker that needs it."""
    _loading: threading.Lock = field(default_factory=threading.Lock)

    def detector(self) -> YoloDetector | CameraDetector:
        """A detector for one camera: its own tracks on the shared models, or its own models."""
        s = self.settings
        if not s.shared_detector:
            return YoloDetector(self.weights, imgsz=s.imgsz, conf=s.conf)
        with self._loading:  # one worker loads the models; the others wait for them
            if self.shared is None or not self.shared.alive:
                self.shared = SharedDetector(self.weights, imgsz=s.imgsz, conf=s.conf, workers=s.detector_workers)
            return self.shared.camera()

    def close_detector(self) -> None:
        with self._loading:
            if self.shared is not None and not self.shared.close():
                log.error("the shared detector's thread did not stop in time")
            self.shared = None


def is_due(next_due: float, timestamp: float, analysis_fps: float) -> bool:
    """Whether a frame at `timestamp` (stream seconds) is on or past the analysis clock's tick."""
    return timestamp >= next_due - 0.05 / analysis_fps


def next_tick(next_due: float, timestamp: float, analysis_fps: float) -> float:
    """The analysis clock's next tick after analysing the frame at `timestamp`.

    A clock, not a minimum gap: a 6 fps stream asked for 5 analyses 5 frames of every 6 (a gap of
    at least 1/5 s would take every second frame: 3 fps). After a stall at most one tick is made up."""
    period = 1.0 / analysis_fps
    if next_due == float("-inf"):
        return timestamp + period
    return max(next_due + period, timestamp)


@dataclass
class _Session:
    pipeline: CameraPipeline
    run_id: int
    started: float
    dropped_at_start: int
    next_due: float = float("-inf")
    """Stream time of the next analysis tick (`analysis_fps`)."""


class CameraWorker:
    """Reads one camera, runs its pipeline, keeps its coverage ledger; restarts nothing itself."""

    def __init__(self, camera: Camera, ctx: WorkerContext, lease: Lease | None = None):
        self.camera, self.ctx = camera, ctx
        self.db: Database = ctx.db if lease is None else LeasedDatabase(ctx.db, lease)
        """Where this worker writes: every transaction checks the camera's lease first."""
        self.lease_lost = False
        s = ctx.settings
        cfg = camera.config
        self.source = StreamSource(
            cfg.source, cfg.id, loop=cfg.loop, queue_frames=s.queue_frames, base_dir=camera.base_dir,
            backoff=Backoff(initial_s=s.backoff_initial_s, max_s=s.backoff_max_s),
            options={**cfg.ffmpeg_options, **({"rtsp_transport": cfg.rtsp_transport} if cfg.rtsp_transport else {})},
        )  # fmt: skip
        self.retire = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"camera:{cfg.id}", daemon=True)
        self.session: _Session | None = None
        self.state: CoverageReason | None = None
        self._pending: tuple[CoverageReason, float] | None = None
        self._last_tick = self._last_touch = 0.0
        self._analysed_at: deque[float] = deque(maxlen=1024)
        self.last_analysed_at: float | None = None
        """Wall-clock time of the newest analysed frame (its capture time)."""
        self.frames_analysed = 0
        self.violations: Counter[str] = Counter()
        self.error: str | None = None
        self.detector: YoloDetector | CameraDetector | None = None
        self.live = LiveScene(self.db, ctx.data_dir, cfg.id, camera.scene_path, camera.scene,
                              GuardSettings(max_shift_px=cfg.scene_moved_px))  # fmt: skip
        """The saved scene version this camera enforces, and its camera-moved guard."""
        self._started: SessionStarted | None = None

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

    def lose_lease(self) -> None:
        """Another instance holds the camera now: stop, and leave its ledger to the new holder."""
        self.lease_lost = True
        self.retire.set()

    def _stopping(self) -> bool:
        return self.ctx.stop.is_set() or self.retire.is_set()

    # -- the worker thread ---------------------------------------------------------------

    def _run(self) -> None:
        db = self.db
        try:
            closed = close_stale_coverage(db, self.id)
            if closed:
                log.info("camera %s: closed %d coverage period(s) left open by an earlier daemon", self.id, closed)
            log_recovery(self.id, recover_camera(db, self.ctx.data_dir, self.id))
            # held from now on: the ledger says so before the detector has loaded
            now = time.time()
            record_coverage(db, self.id, CoverageReason.STARTING, datetime.fromtimestamp(now, UTC), "loading")
            self.state, self._pending, self._last_touch = CoverageReason.STARTING, (CoverageReason.STARTING, now), now
            self.live.load()
            self.detector = self.ctx.detector()
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
        except LeaseLostError as exc:
            self.lease_lost = True
            log.error("%s", exc)
        except Exception as exc:  # the supervisor restarts a worker that died
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("camera %s: worker failed", self.id)
        finally:
            self.source.stop(timeout=0)  # a read blocked in FFmpeg ends by its own timeout; nobody waits
            self._end("stopped")
            try:
                if self.error and not self.lease_lost:  # the ledger says why; the supervisor restarts it
                    record_coverage(db, self.id, CoverageReason.WORKER_FAILED, datetime.now(UTC), self.error[:500])
                elif not self.lease_lost:
                    close_coverage(db, self.id, datetime.now(UTC))
            except LeaseLostError:
                pass  # the new holder closes the period at its last sign of life
            except StorageError as exc:
                log.error("camera %s: could not close its coverage period: %s", self.id, exc)
            if self.detector is not None:
                self.detector.close()

    def _begin(self, started: SessionStarted) -> None:
        self._end("superseded")
        cfg, s = self.camera.config, self.ctx.settings
        self._started = started
        scene = fit_scene(self.live.scene, started.width, started.height, [])
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
            self.db, camera_id=cfg.id, source=describe_source(self.source.source), model_name=self.ctx.weights.name,
            model_sha256=self.ctx.model_sha256, scene_sha256=scene_hash(scene), settings_json=settings_json,
            settings_hash=settings_hash, software_version=__version__,
            started_at=datetime.fromtimestamp(started.at, UTC), recorded_at=datetime.fromtimestamp(started.at, UTC),
            time_source="stream_clock", timezone=scene.timezone, site=site_of(scene),
        )  # fmt: skip
        self.live.link(run_id)
        assert self.detector is not None
        self.detector.reset()  # tracks of the last connection mean nothing now

        def dedup_key(v: Violation) -> str:
            identity = f"stream|{cfg.id}|{run_id}|{v.rule}|{v.where}|{v.track_id}|{v.frame_index}"
            return hashlib.sha256(identity.encode()).hexdigest()

        pipeline = CameraPipeline(
            scene, rules, self.detector, self.db, self.ctx.data_dir, started.fps, run_id,
            dedup_key=dedup_key, occurred_at=lambda t: datetime.fromtimestamp(t, UTC), time_source="stream_clock",
            pre_s=s.pre_s, post_s=s.post_s, on_stored=self._stored, keep_reported=False, stream=True,
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
        except LeaseLostError as exc:
            self.lease_lost = True
            log.error("%s: evidence of run %d in flight is not recorded", exc, session.run_id)
        except Exception as exc:
            log.error("camera %s: evidence at the end of run %d failed: %s", self.id, session.run_id, exc)
        status = "finished" if reason in ("stopped", "end of file") and not self.lease_lost else "interrupted"
        try:
            repo.finish_run(  # its own run row: finished even when the camera was taken over
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
        # an analysis clock, not a minimum gap: a 6 fps stream asked for 5 analyses 5 of every 6 frames
        # (a gap of 1/5 s would take every second frame, 3 fps); after a stall it does not catch up
        due = newest and (afps is None or is_due(session.next_due, frame.timestamp, afps))
        analyse = due and not self.ctx.disk.paused  # no detection when evidence cannot be written
        pipeline = session.pipeline
        if newest:
            self.live.offer(frame.image, frame.timestamp)
        try:
            found = pipeline.on_frame(replace(frame, analyse=analyse) if not analyse else frame)
            for v in found:
                log.info("camera %s: %s at %s seen, track %d; evidence follows the post-roll", self.id, v.rule,
                         v.where, v.track_id)  # fmt: skip
        except LeaseLostError as exc:
            log.error("%s", exc)
            self.lose_lease()
        except StorageError as exc:
            self.ctx.disk.storage_failed(exc)
            self.ctx.metrics.evidence_skipped.labels(self.id).inc()
        if analyse:
            if afps is not None:
                session.next_due = next_tick(session.next_due, frame.timestamp, afps)
            self.last_analysed_at = frame.timestamp
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
        if stats.last_frame_at is None or now - stats.last_frame_at > self.stale_after_s():
            return CoverageReason.STREAM_DOWN, f"no frames for {now - (stats.last_frame_at or now):.0f} s"
        if self.ctx.disk.paused:
            return CoverageReason.EVIDENCE_PAUSED, f"{self.ctx.disk.free_mb or 0:.0f} MB free"
        if self.live.moved and self.live.guard is not None:
            return CoverageReason.SCENE_MOVED, self.live.guard.describe()
        if now - self.session.started < WARMUP_S:
            return CoverageReason.STARTING, None
        scene = self.session.pipeline.scene
        if scene.rules.red_light.enabled and scene.stop_lines:
            unread = unreadable_heads(scene.stop_lines, self.session.pipeline.signal_states)
            if unread:
                return CoverageReason.SIGNAL_UNREADABLE, "signal " + ", ".join(unread)
        if self.last_analysed_at is None or now - self.last_analysed_at > self.stale_after_s():
            return CoverageReason.FPS_BELOW_FLOOR, "no frame analysed lately"
        fps, floor = self.analysed_fps(), self.camera.config.min_fps
        if self.state is CoverageReason.FPS_BELOW_FLOOR:
            floor *= FPS_HYSTERESIS  # climb clearly above the floor before counting as enforcing again
        if fps < floor:
            return CoverageReason.FPS_BELOW_FLOOR, f"{fps:.1f} fps analysed, floor {floor:g}"
        return CoverageReason.ENFORCING, None

    def stale_after_s(self) -> float:
        floor = self.camera.config.min_fps
        return min(STALE_MAX_S, max(STALE_SLACK_S, 2.0 / floor if floor > 0 else STALE_MAX_S))

    def _tick(self) -> None:
        now = time.time()
        if now - self._last_tick < TICK_S:
            return
        self._last_tick = now
        if self.live.poll() and self._started is not None and self.session is not None:
            self._begin(self._started)  # a new run under the newly saved scene
        reason, detail = self.evaluate()
        if self._pending is None or self._pending[0] != reason:
            since = now
            if self.state is CoverageReason.ENFORCING and self.last_analysed_at is not None:
                # it stopped enforcing when frames stopped being analysed, not when that was noticed
                since = min(now, max(self.last_analysed_at + self.stale_after_s(), now - 2 * STALE_MAX_S))
            self._pending = (reason, since)
        since = self._pending[1]
        db, at = self.db, datetime.fromtimestamp(since, UTC)
        try:
            # losing enforcement is recorded at once (the ledger must never overstate coverage);
            # regaining it only once it has held for HOLD_S, so a flapping stream makes few rows
            settled = reason is not CoverageReason.ENFORCING or now - since >= HOLD_S
            if reason != self.state and (self.state is None or settled):
                record_coverage(db, self.id, reason, at, detail)
                if reason is CoverageReason.ENFORCING or self.state in (None, CoverageReason.ENFORCING):
                    level = logging.INFO if reason is CoverageReason.ENFORCING else logging.WARNING
                    log.log(level, "camera %s: %s%s", self.id, reason.value.replace("_", " "),
                            f" ({detail})" if detail else "")  # fmt: skip
                self.state, self._last_touch = reason, now
            elif now - self._last_touch >= TOUCH_EVERY_S:
                touch_coverage(db, self.id, datetime.now(UTC))
                self._last_touch = now
        except LeaseLostError as exc:
            log.error("%s", exc)
            self.lose_lease()
        except StorageError as exc:
            log.error("camera %s: coverage ledger not written: %s", self.id, exc)

    def health(self) -> CameraHealth:
        stats = self.source.stats
        age = None if stats.last_frame_at is None else max(0.0, time.time() - stats.last_frame_at)
        reason = self.state or CoverageReason.STARTING
        if not self.thread.is_alive() and self.thread.ident is not None and not self._stopping():
            reason = CoverageReason.WORKER_FAILED if self.error else CoverageReason.STREAM_DOWN
        return CameraHealth(
            id=self.id, source=describe_source(self.source.source), connected=stats.connected,
            enforcing=reason is CoverageReason.ENFORCING, reason=reason.value, last_frame_age_s=age,
            analysed_fps=round(self.analysed_fps(), 2), reconnects=stats.reconnects, frames_read=stats.frames_read,
            frames_analysed=self.frames_analysed, frames_dropped=self.source.frames_dropped,
            violations=dict(self.violations), last_error=self.error or stats.last_error,
            run_id=self.session.run_id if self.session else None,
            scene_version=self.live.version.version if self.live.version else None,
            view_shift_px=self.live.guard.last.shift_px if self.live.guard and self.live.guard.last else None,
            scene_moved=self.live.moved,
        )  # fmt: skip

