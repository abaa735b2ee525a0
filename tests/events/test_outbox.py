"""The outbox is written in the transaction of what it describes, and holds references, not copies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detector.types import Box
from pipeline.events.config import EventsConfigError, config_from_options, load_events_config
from pipeline.events.relay import absolute_links
from pipeline.rules.base import Violation
from pipeline.store import Database, record_violation
from pipeline.store.coverage import close_coverage, record_coverage
from pipeline.store.outbox import CAMERA_COVERAGE, REVIEW_DECIDED, VIOLATION_CREATED, list_events, outbox_counts
from pipeline.store.review_repo import add_user, decide
from tests.events.conftest import new_run, store_violation


def bodies(db: Database, type_: str) -> list[dict]:
    return [json.loads(e.body) for e in list_events(db, type_=type_)]


def test_a_stored_violation_writes_one_event_that_references_its_evidence(db: Database) -> None:
    run = new_run(db)
    public_id = store_violation(db, run, 1)
    [event] = bodies(db, VIOLATION_CREATED)
    assert event["type"] == "violation.created" and event["camera"] == "cam-1" and len(event["id"]) == 32
    v = event["violation"]
    assert v["id"] == public_id and v["url"] == f"/violations/{public_id}" and v["rule"] == "red_light"
    assert [e["kind"] for e in v["evidence"]] == ["before", "during"]
    assert all(e["url"] == f"/evidence/{e['id']}" and len(e["sha256"]) == 64 for e in v["evidence"])
    assert "path" not in json.dumps(v["evidence"])  # referenced by id / URL, never copied or pointed at on disk


def test_a_repeated_violation_writes_no_second_event(db: Database) -> None:
    from pipeline.store import find_violation

    run = new_run(db)
    store_violation(db, run, 1)
    stored = find_violation(db, "key-cam-1-1")
    assert stored is not None
    again = Violation(rule="red_light", where="southbound", track_id=1, label="car", frame_index=10, timestamp=1.0,
                      box=stored.box, confidence=0.5)  # fmt: skip
    _, created = record_violation(db, again, camera_id="cam-1", run_id=run, dedup_key="key-cam-1-1",
                                  occurred_at=datetime.now(UTC), evidence=[])  # fmt: skip
    assert not created
    assert outbox_counts(db).pending == 1


def test_a_refused_violation_leaves_no_event(db: Database) -> None:
    from pipeline.errors import StorageError

    v = Violation(rule="red_light", where="s", track_id=1, label="car", frame_index=1, timestamp=0.1,
                  box=Box(0, 0, 1, 1), confidence=0.5)  # fmt: skip
    with pytest.raises(StorageError):  # no such run / camera: the whole transaction is refused
        record_violation(db, v, camera_id="nowhere", run_id=999, dedup_key="k", occurred_at=datetime.now(UTC),
                         evidence=[])  # fmt: skip
    assert outbox_counts(db).pending == 0


def test_review_decisions_write_events_with_the_new_status(db: Database) -> None:
    run = new_run(db)
    first, second = store_violation(db, run, 1), store_violation(db, run, 2)
    add_user(db, "ana", "x" * 20)
    decide(db, first, reviewer="ana", decision="confirm", expected_last_review_id=None)
    decide(db, second, reviewer="ana", decision="reject", reason="signal_misread", expected_last_review_id=None)
    events = bodies(db, REVIEW_DECIDED)
    assert [(e["violation"]["id"], e["violation"]["status"], e["review"]["reason"]) for e in events] == [
        (first, "confirmed", None), (second, "rejected", "signal_misread"),
    ]  # fmt: skip
    assert events[0]["review"]["reviewer"] == "ana" and len(events[0]["review"]["entry_hash"]) == 64


def test_a_refused_decision_writes_no_event(db: Database) -> None:
    from pipeline.store.review_repo import ReviewError

    run = new_run(db)
    public_id = store_violation(db, run, 1)
    with pytest.raises(ReviewError):  # nobody called bob
        decide(db, public_id, reviewer="bob", decision="confirm", expected_last_review_id=None)
    assert bodies(db, REVIEW_DECIDED) == []


def test_coverage_changes_write_events_up_down_and_unwatched(db: Database) -> None:
    t0 = datetime.now(UTC)
    record_coverage(db, "cam-9", "starting", t0)
    record_coverage(db, "cam-9", "enforcing", t0 + timedelta(seconds=5))
    record_coverage(db, "cam-9", "enforcing", t0 + timedelta(seconds=9))  # same state: no event
    record_coverage(db, "cam-9", "stream_down", t0 + timedelta(seconds=20), detail="connection refused")
    close_coverage(db, "cam-9", t0 + timedelta(seconds=30))
    states = [(e["coverage"]["state"], e["coverage"]["previous"], e["coverage"]["enforcing"], e["coverage"]["up"])
              for e in bodies(db, CAMERA_COVERAGE)]  # fmt: skip
    assert states == [
        ("starting", None, False, True), ("enforcing", "starting", True, True),
        ("stream_down", "enforcing", False, False), ("unwatched", "stream_down", False, False),
    ]  # fmt: skip
    assert bodies(db, CAMERA_COVERAGE)[2]["coverage"]["detail"] == "connection refused"


def test_links_become_absolute_with_the_public_url() -> None:
    body = json.dumps({"violation": {"url": "/violations/x", "evidence": [{"url": "/evidence/3"}]}, "rule": "/x"})
    out = json.loads(absolute_links(body, "https://review.example/"))
    assert out["violation"]["url"] == "https://review.example/violations/x"
    assert out["violation"]["evidence"][0]["url"] == "https://review.example/evidence/3"
    assert out["rule"] == "/x"
    assert absolute_links(body, "") == body.encode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{}", "name at least one sink"),
        ("mqtt: {port: 0}", "mqtt.port"),
        ("webhooks: [{url: ftp://x, secret: 12345678}]", "webhooks.0.url"),
        ("webhooks: [{url: 'http://x', secret: short}]", "webhooks.0.secret"),
        ("mqtt: {}\nbroker: x", "broker: Extra inputs"),
        ("mqtt: [", "not valid YAML"),
    ],
)
def test_bad_events_settings_are_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "events.yaml"
    path.write_text(text)
    with pytest.raises(EventsConfigError, match=message):
        load_events_config(path)


def test_cli_style_options_make_the_same_settings() -> None:
    config = config_from_options(None, "127.0.0.1:18830", ["http://127.0.0.1:9/h"], "s3cretkey", None)
    assert config.mqtt is not None and config.mqtt.port == 18830 and config.webhooks[0].secret == "s3cretkey"
    with pytest.raises(EventsConfigError, match="--webhook-secret"):
        config_from_options(None, None, ["http://127.0.0.1:9/h"], None, None)


def test_events_prune_keeps_pending_events_unless_asked(tmp_path: Path) -> None:
    from sqlalchemy import update
    from typer.testing import CliRunner

    from pipeline.cli.main import app
    from pipeline.store.columns import utc_now
    from pipeline.store.models import OutboxRow
    from tests.databases import database_env, open_test_database

    data = tmp_path / "data"
    db = open_test_database(data)
    run = new_run(db)
    for n in range(3):
        store_violation(db, run, n)
    first = list_events(db)[0].seq
    with db.session() as s:
        s.execute(update(OutboxRow).where(OutboxRow.id == first).values(sent_at=utc_now() - timedelta(days=3)))
    db.close()
    env = database_env(data)
    result = CliRunner().invoke(app, ["events", "prune", "--days", "2", "--data-dir", str(data)], env=env)
    assert result.exit_code == 0, result.output
    assert "deleted 1 event(s) sent before" in result.output
    result = CliRunner().invoke(app, ["events", "prune", "--days", "2", "--data-dir", str(data)], env=env)
    assert "deleted 0 event(s)" in result.output  # the two pending ones stay
    db = open_test_database(data)
    assert outbox_counts(db).pending == 2
    db.close()
    result = CliRunner().invoke(app, ["events", "prune", "--days", "0", "--pending-too", "--data-dir", str(data)],
                                env=env)  # fmt: skip
    assert result.exit_code == 0 and "deleted 2 event(s) sent or never sent" in result.output, result.output
    db = open_test_database(data)
    assert outbox_counts(db).pending == 0 and outbox_counts(db).sent == 0
    from pipeline.store import list_violations

    assert len(list_violations(db)) == 3
    db.close()
