"""Process one recorded video: detect, track, read signals, check rules, keep evidence, store."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from detector.light import SignalReader
from detector.riders import merge_riders
from detector.types import Colour, Track
from detector.weights import ResolvedWeights, resolve
from detector.yolo import YoloDetector
from pipeline import __version__
from pipeline.engine import RuleEngine
from pipeline.errors import ModelError, StorageError
from pipeline.evidence import EvidenceJob, EvidenceRecorder, WrittenFile
from pipeline.rules import build_rules
from pipeline.rules.base import Violation
from pipeline.scene import Scene, load_scene, scene_hash
from pipeline.signals import SignalBoard
from pipeline.source import VideoFile
from pipeline.store import repository as repo
from pipeline.store.db import Database, open_database
from pipeline.store.records import EvidenceFile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessSettings:
    """Everything that changes what a run finds; hashed into each violation's identity."""

    weights: str | None = None
    imgsz: int | None = None
    conf: float = 0.25
    analysis_fps: float | None = None
    pre_s: float = 3.0
    post_s: float = 3.0
    enable: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()


@dataclass
class Reported:
    """A violation as this run reports it, with its stored id and evidence paths."""

    violation: Violation
    public_id: str
    evidence: dict[str, str]
    new: bool


@dataclass
class ProcessResult:
    run_id: int
    camera: str
    video: str
    fps: float
    frames_expected: int | None
    frames_read: int = 0
    frames_analysed: int = 0
    frames_dropped: int = 0
    wall_s: float = 0.0
    reported: list[Reported] = field(default_factory=list)
    signals: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    evidence_failures: int = 0
    stage_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    interrupted: bool = False

    @property
    def video_s(self) -> float:
        return self.frames_read / self.fps if self.fps else 0.0

    @property
    def shortfall(self) -> int:
        return max(0, (self.frames_expected or 0) - self.frames_read)

    def counts(self) -> Counter[tuple[str, str]]:
        return Counter((r.violation.rule, r.violation.where) for r in self.reported)


ProgressFn = Callable[[int, int | None], None]


def sha256_path(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fit_scene(scene: Scene, width: int, height: int, warnings: list[str]) -> Scene:
    fw, fh = scene.frame_size
    if (fw, fh) == (width, height):
        return scene
    msg = f"scene {scene.camera} is drawn for {fw}x{fh} but the video is {width}x{height}: coordinates scaled"
    if abs(fw / fh - width / height) > 0.01:
        msg += " (aspect ratios differ: check the calibration with `trafficcam scene draw`)"
    warnings.append(msg)
    log.warning(msg)
    return scene.scaled_to(width, height)


def _load_detector(settings: ProcessSettings) -> tuple[YoloDetector, ResolvedWeights]:
    from detector.weights import WeightsError

    try:
        weights = resolve(settings.weights)
        return YoloDetector(weights, imgsz=settings.imgsz, conf=settings.conf), weights
    except WeightsError as exc:
        raise ModelError(str(exc)) from None


def process_video(
    video: str | Path,
    scene_path: str | Path,
    settings: ProcessSettings,
    data_dir: Path,
    db_url: str | None = None,
    progress: ProgressFn | None = None,
) -> ProcessResult:
    """Run the whole pipeline over one video file and record what it finds.

    Raises:
        SceneError, SourceError, ModelError, StorageError: before any frame is processed.
    """
    scene = load_scene(scene_path)
    source = VideoFile(video, analysis_fps=settings.analysis_fps)
    warnings: list[str] = []
    scene = _fit_scene(scene, source.width, source.height, warnings)
    rules = build_rules(scene, settings.enable, settings.disable)
    db = open_database(db_url, data_dir)
    detector, weights = _load_detector(settings)
    # a downloaded asset (yolov8n.pt) is identified by its name
    model_sha = weights.sha256() or hashlib.sha256(f"asset:{weights.path}".encode()).hexdigest()
    video_sha = sha256_path(source.path)
    settings_json = json.dumps(
        {**asdict(settings), "weights": weights.name, "model_sha256": model_sha, "imgsz": detector.imgsz,
         "scene_sha256": scene_hash(scene), "rules": sorted(r.name for r in rules)},
        sort_keys=True,
    )
    settings_hash = hashlib.sha256(settings_json.encode()).hexdigest()
    repo.ensure_camera(db, scene.camera)
    started = datetime.now(UTC)
    run_id = repo.start_run(
        db,
        camera_id=scene.camera, source=str(source.path), source_sha256=video_sha, model_name=weights.name,
        model_sha256=model_sha, scene_sha256=scene_hash(scene), settings_json=settings_json,
        settings_hash=settings_hash, software_version=__version__, frames_expected=source.frames_expected,
    )
    result = ProcessResult(
        run_id, scene.camera, str(source.path), source.fps, source.frames_expected, warnings=warnings
    )
    try:
        _run_loop(source, scene, rules, detector, db, data_dir, settings, result, started,
                  lambda v: hashlib.sha256(
                      f"{video_sha}|{settings_hash}|{v.rule}|{v.where}|{v.track_id}|{v.frame_index}".encode()
                  ).hexdigest(),
                  progress)
    except KeyboardInterrupt:
        result.interrupted = True
        repo.finish_run(db, run_id, "interrupted", frames_read=result.frames_read,
                      frames_analysed=result.frames_analysed, frames_dropped=0)
        raise
    finally:
        detector.close()
    if source.shortfall:
        msg = (f"{source.path.name}: the container announced {source.frames_expected} frames but only "
               f"{source.frames_read} decoded ({source.shortfall} lost, "
               f"{100 * source.shortfall / max(1, source.frames_expected or 1):.0f}%): processed what decodes")
        warnings.append(msg)
        log.warning(msg)
    repo.finish_run(db, run_id, "finished", frames_read=result.frames_read,
                  frames_analysed=result.frames_analysed, frames_dropped=0)
    return result


def _run_loop(
    source: VideoFile, scene: Scene, rules, detector: YoloDetector, db: Database, data_dir: Path,  # type: ignore[no-untyped-def]
    settings: ProcessSettings, result: ProcessResult, started: datetime,
    dedup_key: Callable[[Violation], str], progress: ProgressFn | None,
) -> None:
    from pipeline.tracks import TrackStore

    board = SignalBoard([s.id for s in scene.signals])
    reader = SignalReader([(s.id, s.box) for s in scene.signals])
    tracks = TrackStore(max_age_s=max(5.0, settings.pre_s + settings.post_s))
    engine = RuleEngine(rules)

    def colour_at(sid: str, t: float) -> Colour:
        state = board.state_at(sid, t)
        return state.colour if state else Colour.UNKNOWN

    recorder = EvidenceRecorder(data_dir, scene, source.fps, pre_s=settings.pre_s, post_s=settings.post_s,
                                signal_colour_at=colour_at, track_lookup=tracks.get)
    stage = result.stage_s
    t0 = time.perf_counter()
    try:
        t_wait = time.perf_counter()
        for frame in source.frames():
            stage["decode (wait)"] += time.perf_counter() - t_wait
            result.frames_read += 1
            t = time.perf_counter()
            recorder.add_frame(frame)
            _store_done(recorder.poll(), db, result, run=result.run_id, camera=scene.camera, dedup_key=dedup_key)
            stage["evidence"] += time.perf_counter() - t
            if scene.signals:
                t = time.perf_counter()
                board.record(reader.update(frame.image, frame.index, frame.timestamp))
                stage["signals"] += time.perf_counter() - t
            if frame.analyse:
                result.frames_analysed += 1
                t = time.perf_counter()
                detections = merge_riders(detector.track(frame.image))
                stage["detect+track"] += time.perf_counter() - t
                t = time.perf_counter()
                updated = tracks.update(frame.index, frame.timestamp, detections)
                found = engine.check(updated, scene, board)
                engine.forget(tracks.expire(frame.timestamp))
                stage["rules"] += time.perf_counter() - t
                for violation in found:
                    _start_evidence(violation, tracks.get(violation.track_id), recorder, db, result, started,
                                    dedup_key, settings)
            if progress is not None:
                progress(result.frames_read, source.frames_expected)
            t_wait = time.perf_counter()
    finally:
        t = time.perf_counter()
        _store_done(recorder.flush(), db, result, run=result.run_id, camera=scene.camera, dedup_key=dedup_key)
        recorder.close()
        stage["evidence"] += time.perf_counter() - t
        result.wall_s = time.perf_counter() - t0
        result.signals = {
            sid: [{"start_frame": s.since_frame, "colour": s.colour.value} for s in changes]
            for sid, changes in board.timelines().items()
        }
        result.reported.sort(key=lambda r: r.violation.frame_index)


def _start_evidence(
    violation: Violation, track: Track | None, recorder: EvidenceRecorder, db: Database, result: ProcessResult,
    started: datetime, dedup_key: Callable[[Violation], str], settings: ProcessSettings,
) -> None:
    key = dedup_key(violation)
    existing = repo.find_violation(db, key)
    if existing is not None:  # same video, same settings: already recorded with its evidence
        result.reported.append(Reported(violation, existing.public_id,
                                        {k: ref.path for k, ref in existing.evidence.items()}, new=False))
        return
    if track is None:
        return
    job = EvidenceJob(violation, track, started + timedelta(seconds=violation.timestamp), uuid.uuid4().hex,
                      due=violation.timestamp + settings.post_s, context=key)
    recorder.start(job)


def _store_done(
    done: list[tuple[EvidenceJob, list[WrittenFile] | Exception]], db: Database, result: ProcessResult, *,
    run: int, camera: str, dedup_key: Callable[[Violation], str],
) -> None:
    for job, files in done:
        if isinstance(files, Exception):
            result.evidence_failures += 1
            if isinstance(files, StorageError):
                raise files
            continue
        evidence = [EvidenceFile(f.kind, f.path, f.sha256, f.bytes, f.mime) for f in files]
        record, created = repo.record_violation(
            db, job.violation, camera_id=camera, run_id=run, dedup_key=str(job.context),
            occurred_at=job.occurred_at, public_id=job.public_id, evidence=evidence,
        )
        result.reported.append(
            Reported(job.violation, record.public_id, {k: ref.path for k, ref in record.evidence.items()}, created)
        )
