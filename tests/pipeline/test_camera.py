"""CameraPipeline with a scripted detector: signals, rules, evidence and storage wired together."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np

from detector.types import Box, Detection
from pipeline.camera import CameraPipeline
from pipeline.rules import build_rules
from pipeline.scene import parse_scene
from pipeline.source import Frame
from pipeline.store import repository as repo
from tests.databases import open_test_database

FPS = 10.0
SCENE = parse_scene(
    {
        "camera": "unit",
        "frame_size": [320, 240],
        "signals": [{"id": "main", "box": [290, 10, 310, 70]}],
        "stop_lines": [{"id": "stop", "line": [[0, 150], [280, 150]], "approach": [0, -1], "signal": "main"}],
    }
)


class ScriptedDetector:
    """Stands in for YOLO: one motorbike driving up the image, crossing y=150 at frame 30."""

    last_latency_s = 0.0
    last_tracker_s = 0.0
    windows: list[tuple[int, int, int, int]] | None = None

    def look_at(self, windows: list[tuple[int, int, int, int]] | None) -> None:
        self.windows = windows

    def track(self, image: np.ndarray) -> list[Detection]:
        i = int(image[0, 0, 0])  # the frame index is written into the top-left pixel
        y = 230 - 3 * i
        if y < 40:
            return []
        return [Detection(Box(100, y - 40, 130, y), "motorcycle", 0.8, 7)]


def frame(i: int) -> Frame:
    image = np.full((240, 320, 3), 60, np.uint8)
    cv2.rectangle(image, (290, 10), (310, 70), (20, 20, 20), -1)
    cv2.circle(image, (300, 20), 8, (0, 0, 255), -1)  # red lamp lit, top of the housing
    image[0, 0] = i
    return Frame(i, i / FPS, image, True, cv2.imencode(".jpg", image)[1].tobytes())


def run(tmp_path, run_name: str, time_source: str = "unknown"):
    db = open_test_database(tmp_path)
    run_id = repo.start_run(db, camera_id="unit", source=run_name, model_name="scripted", model_sha256="0" * 64,
                            scene_sha256="1" * 64, settings_json="{}", settings_hash="2" * 64, software_version="t")
    started = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    pipeline = CameraPipeline(
        SCENE, build_rules(SCENE), ScriptedDetector(), db, tmp_path, FPS, run_id,  # type: ignore[arg-type]
        dedup_key=lambda v: hashlib.sha256(f"{v.rule}|{v.track_id}|{v.frame_index}".encode()).hexdigest(),
        occurred_at=lambda t: started + timedelta(seconds=t), pre_s=1.0, post_s=1.0, time_source=time_source,
    )  # fmt: skip
    for i in range(70):
        pipeline.on_frame(frame(i))
    pipeline.flush()
    return db, run_id, pipeline


def test_violation_is_stored_with_evidence_and_signal_state(tmp_path):
    db, run_id, pipeline = run(tmp_path, "first")
    (record,) = repo.list_violations(db, run_id=run_id)
    assert (record.rule, record.where, record.track_id, record.frame_index) == ("red_light", "stop", 1, 27)
    assert record.signal_colour == "red" and record.seconds_into_colour >= 0.5
    assert record.occurred_at == datetime(2024, 1, 2, 3, 4, 7, 700000, tzinfo=UTC)
    assert set(record.evidence) - {"plate"} == {"before", "during", "after", "vehicle", "clip", "clip_marked"}
    for path, sha in record.evidence.values():
        assert hashlib.sha256((tmp_path / path).read_bytes()).hexdigest() == sha
    assert pipeline.stats.frames_read == pipeline.stats.frames_analysed == 70
    assert pipeline.signal_timelines() == {"main": [{"start_frame": 0, "colour": "red"}]}


def test_time_source_and_a_red_already_on_are_recorded(tmp_path):
    db, run_id, _ = run(tmp_path, "stream", time_source="stream_clock")
    (record,) = repo.list_violations(db, run_id=run_id)
    assert record.time_source == "stream_clock"
    assert record.colour_onset_seen is False  # red from the first frame: its seconds are a minimum


def test_same_keys_again_add_nothing(tmp_path):
    run(tmp_path, "first")
    db, run_id, pipeline = run(tmp_path, "again")
    assert [r.new for r in pipeline.reported] == [False]
    assert repo.count_violations(db) == 1 and repo.list_violations(db, run_id=run_id) == []


def test_the_scenes_detection_windows_reach_the_detector(tmp_path):
    db = open_test_database(tmp_path)
    tiled = SCENE.model_copy(update={"detection": SCENE.detection.model_copy(update={"tiles": (2, 1)})})
    detector = ScriptedDetector()
    CameraPipeline(
        tiled, [], detector, db, tmp_path, FPS, 1,  # type: ignore[arg-type]
        dedup_key=lambda v: "k", occurred_at=lambda t: datetime.now(UTC),
    )  # fmt: skip
    assert detector.windows == [(0, 0, 178, 240), (142, 0, 320, 240)]
