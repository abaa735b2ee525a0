"""The Hanoi export, processed as a back office would: its recorded time from the file name,
checked against the camera's on-screen clock; a second run with the same settings adds nothing;
a run with other settings finds the same offences again, and the export has one row for each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from pipeline.evaluation import load_truth
from pipeline.process import ProcessSettings, process_video
from pipeline.store import list_violations
from pipeline.store.records import ViolationStatus
from pipeline.store.review_export import export_rows
from pipeline.store.review_queries import QueueFilter
from pipeline.store.review_repo import add_user, decide
from tests.conftest import need_shared
from tests.databases import database_url, open_test_database

pytestmark = pytest.mark.slow
FRAME_0 = datetime(2022, 9, 25, 9, 30, tzinfo=UTC)  # 16h30 on 25/09/2022 in Hanoi (UTC+7), from the file name


@pytest.fixture
def hanoi(tmp_path: Path) -> tuple[Path, Path]:
    """The Hanoi clip under its export name, and its scene with the site keys added."""
    folder = need_shared("clips", "hanoi_ltk_hangbai")
    clip = tmp_path / "16h30.25.9.22.mp4"
    clip.symlink_to(folder / clip.name)
    scene = yaml.safe_load((folder / "scene.yaml").read_text())
    scene.update({
        "timezone": "Asia/Ho_Chi_Minh",
        "osd_clock": {"box": [240, 0, 400, 18], "format": "%d/%m/%Y %H:%M:%S"},
        "location": {"address": "Ly Thuong Kiet x Hang Bai, Hoan Kiem, Ha Noi", "gps": [21.0245, 105.8530],
                     "direction": "away from the camera, towards Hang Bai"},
        "offence_codes": {"red_light": "ND100/2019 5.5.a"},
    })  # fmt: skip
    scene_path = tmp_path / "scene.yaml"
    scene_path.write_text(yaml.safe_dump(scene))
    return clip, scene_path


def test_hanoi_time_second_run_and_one_row_per_offence(hanoi: tuple[Path, Path], tmp_path: Path) -> None:
    clip, scene = hanoi
    data = tmp_path / "data"
    first_settings = ProcessSettings(weights="vn2", analysis_fps=3.0)
    first = process_video(clip, scene, first_settings, data, database_url(data))
    assert first.recorded is not None and first.recorded.source.value == "file_name"
    assert first.recorded.start == FRAME_0
    # the on-screen clock says 16:41:47: the file name is the export's label, 11 min 47 s off
    assert any("on-screen clock disagrees with the file name time by +0:11:4" in w for w in first.warnings)
    db = open_test_database(data)
    found = list_violations(db, run_id=first.run_id)
    assert found, "vn2 finds the red-light runners of this clip"
    for v in found:
        assert v.time_source == "file_name" and v.occurred_at == FRAME_0 + timedelta(seconds=v.time_s)

    again = process_video(clip, scene, first_settings, data, database_url(data))
    assert list_violations(db, run_id=again.run_id) == [] and all(not r.new for r in again.reported)

    other = process_video(clip, scene, ProcessSettings(weights="vn2", analysis_fps=6.0), data, database_url(data))
    second = list_violations(db, run_id=other.run_id)
    add_user(db, "rita", "x", "reviewer")
    for v in found + second:
        decide(db, v.public_id, reviewer="rita", decision="confirm", expected_last_review_id=None)
    rows = export_rows(db, QueueFilter(status=ViolationStatus.CONFIRMED))
    folded = sum(len(r["also_recorded_as"]) for r in rows)
    print(f"\nHanoi vn2: run 1 (3 fps) {len(found)} violations, run 2 (6 fps) {len(second)}; "
          f"exported {len(rows)} rows, {folded} second records folded in")  # fmt: skip
    assert len(rows) + folded == len(found) + len(second) and folded > 0
    # against the hand-checked truth: no true offence (or doubtful case) is exported twice
    truth = load_truth(need_shared("clips", "hanoi_ltk_hangbai", "truth.yaml"))
    boxes = {v.public_id: v.box for v in found + second}
    both = 0
    for event in truth.violations + truth.uncertain:
        if event.box is None:
            continue
        seen = [r for r in rows if _same(event, r, boxes[r["public_id"]], truth.fps)]
        assert len(seen) <= 1, (event.frame, event.where, [(r["public_id"], r["frame"]) for r in seen])
        both += sum(1 for r in seen if r["also_recorded_as"])
    print(f"true offences found by both runs and exported once: {both}")
    assert both > 0


def _same(event, row, box, fps: float) -> bool:  # type: ignore[no-untyped-def]
    """A row is this truth event: same rule and place, within 1 s, the anchor inside its box's width."""
    if (row["rule"], row["where"]) != (event.rule, event.where) or abs(row["frame"] - event.frame) > fps:
        return False
    ex = (event.box[0] + event.box[2]) / 2
    return abs(box.anchor[0] - ex) <= (event.box[2] - event.box[0])
