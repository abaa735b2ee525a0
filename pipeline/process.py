"""Process one recorded video: detect, track, read signals, check rules, keep evidence, store."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from detector.hashing import sha256_file
from detector.weights import ResolvedWeights, resolve
from detector.yolo import YoloDetector
from pipeline import __version__
from pipeline.camera import CameraPipeline, Reported
from pipeline.errors import ModelError
from pipeline.rotation import match_rotation
from pipeline.rules import build_rules
from pipeline.scene import Scene, load_scene, scene_hash
from pipeline.scenes.viewcheck import check_file_view
from pipeline.source import VideoFile
from pipeline.store import repository as repo
from pipeline.store.db import open_database
from pipeline.store.scene_versions import link_run
from pipeline.timing.recorded import RecordedTime, parse_operator_time, resolve_recorded_time, zone_of

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
    recorded: RecordedTime | None = None

    @property
    def video_s(self) -> float:
        return self.frames_read / self.fps if self.fps else 0.0

    @property
    def shortfall(self) -> int:
        return max(0, (self.frames_expected or 0) - self.frames_read)

    def counts(self) -> Counter[tuple[str, str]]:
        return Counter((r.violation.rule, r.violation.where) for r in self.reported)


ProgressFn = Callable[[int, int | None], None]


def fit_scene(scene: Scene, width: int, height: int, warnings: list[str]) -> Scene:
    fw, fh = scene.frame_size
    if (fw, fh) == (width, height):
        return scene
    msg = f"scene {scene.camera} is drawn for {fw}x{fh} but the video is {width}x{height}: coordinates scaled"
    if abs(fw / fh - width / height) > 0.01:
        msg += " (aspect ratios differ: check the calibration with `trafficcam scene draw`)"
    warnings.append(msg)
    log.warning(msg)
    return scene.scaled_to(width, height)


def _operator_time(
    scene: Scene, recorded_at: str | None, timezone: str | None
) -> tuple[ZoneInfo | None, datetime | None]:
    """The camera's zone (--timezone, else the scene's) and the operator's --recorded-at in UTC.

    Raises:
        TimeError: a bad --recorded-at or time zone.
    """
    from pipeline.timing.recorded import TimeError
    from pipeline.timing.site import check_timezone

    try:
        zone = zone_of(check_timezone(timezone) or scene.timezone)
    except ValueError as exc:
        raise TimeError(f"--timezone: {exc}") from None
    return zone, parse_operator_time(recorded_at, zone) if recorded_at else None


def recorded_time(path: Path, scene: Scene, zone: ZoneInfo | None, operator: datetime | None) -> RecordedTime:
    """When frame 0 of `path` was recorded (operator, container, file name; the on-screen clock checks)."""
    read_osd = None
    if scene.osd_clock is not None:
        from pipeline.timing.osd import read_start_time

        clock = scene.osd_clock
        read_osd = lambda: read_start_time(path, clock)  # noqa: E731
    return resolve_recorded_time(path, operator=operator, zone=zone, read_osd=read_osd)


def site_of(scene: Scene) -> dict[str, object] | None:
    """The scene's location and offence codes, as a run keeps them for notices."""
    site: dict[str, object] = {}
    if scene.location is not None:
        site["location"] = scene.location.model_dump(exclude_none=True)
    if scene.offence_codes:
        site["offence_codes"] = dict(scene.offence_codes)
    return site or None


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
    on_run: Callable[[int], None] | None = None,
    recorded_at: str | None = None,
    timezone: str | None = None,
) -> ProcessResult:
    """Run the whole pipeline over one video file and record what it finds.

    `recorded_at` (ISO 8601, the operator's word) and `timezone` (IANA name, else the scene's) say
    when frame 0 was recorded; without them the container, the file name and the scene's on-screen
    clock are asked (`pipeline.timing`). `on_run` is told the run id as soon as the run is recorded
    (`trafficcam worker` keeps it in its job, so a later attempt can mark the run of a killed worker
    interrupted).

    Raises:
        SceneError, SourceError, ModelError, StorageError: before any frame is processed.
    """
    scene = load_scene(scene_path)
    drawn = scene
    source = VideoFile(video, analysis_fps=settings.analysis_fps)
    warnings: list[str] = []
    scene = fit_scene(match_rotation(scene, source.width, source.height, source.rotation, warnings),
                      source.width, source.height, warnings)  # fmt: skip
    zone, operator = _operator_time(scene, recorded_at, timezone)  # a bad --recorded-at fails here, early
    rules = build_rules(scene, settings.enable, settings.disable)
    db = open_database(db_url, data_dir)
    detector, weights = _load_detector(settings)
    recorded = recorded_time(source.path, scene, zone, operator)
    warnings.extend(recorded.warnings)
    for w in recorded.warnings:
        log.warning(w)
    # a downloaded asset (yolov8n.pt) is identified by its name
    model_sha = weights.sha256() or hashlib.sha256(f"asset:{weights.path}".encode()).hexdigest()
    video_sha = sha256_file(source.path)
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
        recorded_at=recorded.start, time_source=recorded.source.value, timezone=timezone or scene.timezone,
        site=site_of(scene),
    )
    if on_run is not None:
        on_run(run_id)
    view = check_file_view(source.path, drawn, Path(scene_path), db, data_dir)
    if view.version is not None:
        link_run(db, run_id, view.version.id)  # the saved version the violations were judged under
    if view.warning:
        warnings.append(view.warning)
        log.warning(view.warning)
    result = ProcessResult(
        run_id, scene.camera, str(source.path), source.fps, source.frames_expected, warnings=warnings,
        recorded=recorded,
    )
    pipeline = CameraPipeline(
        scene, rules, detector, db, data_dir, source.fps, run_id,
        # the same file, settings and recording time give the same keys: no second row on a second run
        dedup_key=lambda v: hashlib.sha256(
            f"{video_sha}|{settings_hash}|{v.rule}|{v.where}|{v.track_id}|{v.frame_index}".encode()
            + (f"|{recorded.start.isoformat()}".encode() if recorded.start else b"")
        ).hexdigest(),
        # unknown: the processing clock stands in, and the records say the time is unknown
        occurred_at=lambda t: recorded.at(t) or started + timedelta(seconds=t), time_source=recorded.source.value,
        pre_s=settings.pre_s, post_s=settings.post_s, read_again=source.read_again,
    )  # fmt: skip
    try:
        _run_loop(source, pipeline, result, progress)
    except BaseException as exc:
        result.interrupted = isinstance(exc, KeyboardInterrupt)
        status = "interrupted" if result.interrupted else "failed"
        try:
            repo.finish_run(db, run_id, status, frames_read=result.frames_read,
                            frames_analysed=result.frames_analysed, frames_dropped=0)
        except Exception as inner:  # the database may be what failed; the first error matters
            log.debug("could not mark run %s as %s: %s", run_id, status, inner)
        raise
    finally:
        detector.close()
        source.close()
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
    source: VideoFile, pipeline: CameraPipeline, result: ProcessResult, progress: ProgressFn | None
) -> None:
    t0 = time.perf_counter()
    stage = pipeline.stats.stage_s
    try:
        t_wait = time.perf_counter()
        for frame in source.frames():
            stage["decode (wait)"] += time.perf_counter() - t_wait
            pipeline.on_frame(frame)
            if progress is not None:
                progress(pipeline.stats.frames_read, source.frames_expected)
            t_wait = time.perf_counter()
    finally:
        try:
            pipeline.flush()
        finally:
            result.wall_s = time.perf_counter() - t0
            result.frames_read = pipeline.stats.frames_read
            result.frames_analysed = pipeline.stats.frames_analysed
            result.evidence_failures = pipeline.stats.evidence_failures
            result.stage_s = dict(stage)
            result.signals = pipeline.signal_timelines()
            result.reported = sorted(pipeline.reported, key=lambda r: r.violation.frame_index)
