"""Everything that happens to one camera's frames, whatever their source (a file or a stream).

`CameraPipeline.on_frame` reads the signals, detects and tracks, checks the rules, and hands
violations to the evidence recorder; violations whose evidence is complete are stored. The
file processor (`pipeline/process.py`) and the daemon drive it the same way.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from detector.light import SignalReader
from detector.riders import merge_riders
from detector.shared import CameraDetector
from detector.types import Colour
from detector.yolo import YoloDetector
from pipeline import plates
from pipeline.engine import RuleEngine
from pipeline.errors import StorageError
from pipeline.evidence import EvidenceJob, EvidenceRecorder, ReadAgain, WrittenFile
from pipeline.plates import PlateReader
from pipeline.rules.base import Rule, Violation
from pipeline.scene import Scene
from pipeline.signals import SignalBoard
from pipeline.source import Frame
from pipeline.store import repository as repo
from pipeline.store.db import Database
from pipeline.store.records import EvidenceFile
from pipeline.tracks import TrackStore

log = logging.getLogger(__name__)


@dataclass
class Reported:
    """A violation as a run reports it, with its stored id and evidence paths."""

    violation: Violation
    public_id: str
    evidence: dict[str, str]
    new: bool


@dataclass
class CameraStats:
    frames_read: int = 0
    frames_analysed: int = 0
    evidence_failures: int = 0
    stage_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    detector_latency_s: float = 0.0


class CameraPipeline:
    """Per-camera state: signal reader and board, tracks, rules, evidence recorder.

    Args:
        dedup_key: the identity of a violation in the database (re-processing the same input with
            the same settings finds the same keys and adds nothing).
        occurred_at: wall-clock time of a frame timestamp (files: run start + seconds; streams: the
            timestamp itself).
        on_stored: called with each violation once it is stored with its evidence.
        keep_reported: keep every stored violation in `reported` (a file run reports them at the
            end); a daemon running for days passes False and listens to `on_stored` instead.
        stream: timestamps are wall-clock seconds (the evidence data bar shows no video time).
        read_again: gives back frames by index for evidence (a file source's `read_again`); without
            it, frames that arrive without JPEG bytes are encoded as they arrive.
        time_source: where `occurred_at`'s times come from (`pipeline.timing.TimeSource`), stored
            with each violation.
        read_plates: read each violation's plate on the evidence writer's thread (`pipeline.plates`);
            None: unless the environment sets TRAFFICCAM_PLATES=off.
    """

    def __init__(
        self,
        scene: Scene,
        rules: Iterable[Rule],
        detector: YoloDetector | CameraDetector,
        db: Database,
        data_dir: Path,
        fps: float,
        run_id: int,
        *,
        dedup_key: Callable[[Violation], str],
        occurred_at: Callable[[float], datetime],
        pre_s: float = 3.0,
        post_s: float = 3.0,
        on_stored: Callable[[Reported], None] | None = None,
        keep_reported: bool = True,
        stream: bool = False,
        read_again: ReadAgain | None = None,
        time_source: str = "unknown",
        read_plates: bool | None = None,
    ):
        self.scene, self.detector, self.db, self.run_id = scene, detector, db, run_id
        detector.look_at(scene.detection_windows())  # the scene's region of interest and tiles, if any
        self.dedup_key, self.occurred_at, self.post_s = dedup_key, occurred_at, post_s
        self.on_stored, self.keep_reported = on_stored, keep_reported
        self.time_source = time_source
        self.board = SignalBoard([s.id for s in scene.signals])
        self.reader = SignalReader([(s.id, s.box) for s in scene.signals],
                                   arrows={s.id: s.arrow for s in scene.signals if s.arrow})
        self.tracks = TrackStore(max_age_s=max(5.0, pre_s + post_s))
        self.engine = RuleEngine(rules)
        self.recorder = EvidenceRecorder(
            data_dir, scene, fps, pre_s=pre_s, post_s=post_s, signal_colour_at=self.colour_at,
            track_lookup=self.tracks.get, stream=stream, read_again=read_again,
            time_known=time_source not in ("unknown", "run_clock"),
            plates=PlateReader() if plates.enabled(read_plates) else None,
        )  # fmt: skip
        self.reported: list[Reported] = []
        self.stats = CameraStats()
        self.signal_states: dict[str, Colour] = {}

    def colour_at(self, signal_id: str, timestamp: float) -> Colour:
        state = self.board.state_at(signal_id, timestamp)
        return state.colour if state else Colour.UNKNOWN

    def on_frame(self, frame: Frame) -> list[Violation]:
        """Process one frame; return the violations first seen in it (their evidence follows)."""
        stage, stats = self.stats.stage_s, self.stats
        stats.frames_read += 1
        t = time.perf_counter()
        self.recorder.add_frame(frame)
        done = self.recorder.poll()
        stage["evidence"] += time.perf_counter() - t
        self._store(done)
        if self.scene.signals:
            t = time.perf_counter()
            states = self.reader.update(frame.image, frame.index, frame.timestamp)
            self.board.record(states)
            self.signal_states = {sid: s.colour for sid, s in states.items()}
            stage["signals"] += time.perf_counter() - t
        if not frame.analyse:
            return []
        stats.frames_analysed += 1
        t = time.perf_counter()
        detections = merge_riders(self.detector.track(frame.image))
        stats.detector_latency_s = self.detector.last_latency_s
        stage["detect"] += time.perf_counter() - t - self.detector.last_tracker_s
        stage["track"] += self.detector.last_tracker_s
        t = time.perf_counter()
        updated = self.tracks.update(frame.index, frame.timestamp, detections)
        found = self.engine.check(updated, self.scene, self.board)
        found += self.engine.finish(self.tracks.ended(frame.timestamp), self.scene, self.board)
        self.engine.forget(self.tracks.expire(frame.timestamp))
        stage["rules"] += time.perf_counter() - t
        t = time.perf_counter()
        for violation in found:
            self._start_evidence(self._with_onset(violation))
        stage["database"] += time.perf_counter() - t
        return found

    def flush(self) -> None:
        """Write the evidence of every violation seen so far with the frames there are, and store it."""
        t = time.perf_counter()
        try:
            for violation in self.engine.finish(self.tracks.live(), self.scene, self.board):
                self._start_evidence(violation)  # tracks still running when the video ends
            done = self.recorder.flush()
            self.stats.stage_s["evidence"] += time.perf_counter() - t
            self._store(done)
        finally:
            self.recorder.close()

    def signal_timelines(self) -> dict[str, list[dict[str, object]]]:
        return {
            sid: [{"start_frame": s.since_frame, "colour": s.colour.value} for s in changes]
            for sid, changes in self.board.timelines().items()
        }

    def _with_onset(self, violation: Violation) -> Violation:
        """Mark a violation whose signal colour was already on when the source began (or followed
        an unreadable spell): its `seconds_into_colour` is then only a minimum."""
        if violation.signal_id is None:
            return violation
        if self.board.onset_seen(violation.signal_id, violation.timestamp):
            return violation
        return replace(violation, details={**violation.details, "colour_onset": "before_source"})

    def _start_evidence(self, violation: Violation) -> None:
        key = self.dedup_key(violation)
        existing = repo.find_violation(self.db, key)
        if existing is not None:  # same input, same settings: already stored with its evidence
            evidence = {k: ref.path for k, ref in existing.evidence.items()}
            self._reported(Reported(violation, existing.public_id, evidence, new=False))
            return
        track = self.tracks.get(violation.track_id)
        if track is None:
            return
        job = EvidenceJob(
            violation,
            track,
            self.occurred_at(violation.timestamp),
            uuid.uuid4().hex,
            due=violation.timestamp + self.post_s,
            context=key,
        )
        self.recorder.start(job)

    def _store(self, done: list[tuple[EvidenceJob, list[WrittenFile] | Exception]]) -> None:
        """Record every complete package; then raise the first storage failure, if any."""
        failure: StorageError | None = None
        for job, files in done:
            if isinstance(files, Exception):
                self.stats.evidence_failures += 1
                if isinstance(files, StorageError) and failure is None:
                    failure = files
                continue
            t = time.perf_counter()
            evidence = [EvidenceFile(f.kind, f.path, f.sha256, f.bytes, f.mime) for f in files]
            record, created = repo.record_violation(
                self.db, job.violation, camera_id=self.scene.camera, run_id=self.run_id,
                dedup_key=str(job.context), occurred_at=job.occurred_at, public_id=job.public_id,
                evidence=evidence, time_source=self.time_source,
                plate=plates.suggestion(job.plate) if job.plate is not None else None,
            )  # fmt: skip
            self.stats.stage_s["database"] += time.perf_counter() - t
            evidence_paths = {k: ref.path for k, ref in record.evidence.items()}
            self._reported(Reported(job.violation, record.public_id, evidence_paths, created))
        if failure is not None:
            raise failure

    def _reported(self, reported: Reported) -> None:
        if self.keep_reported:
            self.reported.append(reported)
        if self.on_stored is not None:
            self.on_stored(reported)
