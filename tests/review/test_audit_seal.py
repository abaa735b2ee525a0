"""`trafficcam audit verify` against each way of altering what a fine rests on, on a real
database (SQLite, or PostgreSQL with --database postgresql): exit 1 and the record named."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from pipeline.seal.content import GENESIS, canonical, seal_hash
from pipeline.store.models import EvidenceRow, ReviewRow, RunRow, SealRow, ViolationRow
from pipeline.store.review_repo import GENESIS_HASH, decide, entry_hash
from pipeline.store.seals import seal_content
from review.cli import register
from tests.databases import database_env, on_postgresql, sql
from tests.review.conftest import add_violation, new_run

APP = typer.Typer()
register(APP)


@pytest.fixture
def run(db):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        env = {"COLUMNS": "200", **database_env(db.data_dir)}
        return runner.invoke(APP, [*args, "--data-dir", str(db.data_dir)], env=env)

    return invoke


@pytest.fixture
def decided(run, db, violations, users) -> list[str]:  # type: ignore[no-untyped-def]
    """Three violations: 1 and 3 confirmed (3 with a plate), 2 confirmed then rejected; 4 log entries.
    Violation 1 is confirmed through the store, which asks for no plate (the CLI and the web app do)."""
    decide(db, violations[0], reviewer="rita", decision="confirm", expected_last_review_id=None)
    assert run("review", "confirm", violations[1], "--as", "rita", "--plate", "29-B1 123.45").exit_code == 0
    assert run("review", "confirm", violations[2], "--as", "rita", "--plate", "30K-559.78").exit_code == 0
    r = run("review", "reject", violations[1], "--as", "rob", "--reason", "wrong_vehicle", "--revise")
    assert r.exit_code == 0, r.output
    return violations


def _verify_fails(run) -> str:  # type: ignore[no-untyped-def]
    r = run("audit", "verify")
    assert r.exit_code == 1, r.output
    return str(r.stderr)


def test_untouched_database_verifies(run, decided):
    r = run("audit", "verify")
    assert r.exit_code == 0, r.output
    assert "3 seal(s), 7 checkpoint(s)" in r.stdout and "nothing altered" in r.stdout
    assert "database integrity ok" in r.stdout


EDIT_WHEN = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("column", "value", "named"),
    [
        ("occurred_at", EDIT_WHEN, "occurred_at: sealed '2024-05-01T07:30:01"),
        ("rule", "wrong_way", "rule: sealed 'red_light', now 'wrong_way'"),
        ("where_id", "northbound", "where: sealed 'southbound', now 'northbound'"),
        ("signal_colour", "green", "signal_colour: sealed 'red', now 'green'"),
        ("seconds_into_colour", 0.2, "seconds_into_colour: sealed 3.25, now 0.2"),
        ("time_source", "container", "time_source: sealed 'operator', now 'container'"),
    ],
)
def test_an_edited_violation_field_is_named(run, db, decided, column, value, named):
    if isinstance(value, datetime) and not on_postgresql():
        value = value.replace(tzinfo=None)  # SQLite keeps naive UTC
    sql(db.data_dir, f"UPDATE violations SET {column} = :v WHERE public_id = :p", v=value, p=decided[0])
    err = _verify_fails(run)
    assert f"violation {decided[0]} (seal #1): changed after it was sealed: {named}" in err
    assert decided[2] not in err


def test_an_edited_plate_is_found(run, db, decided):
    # violation 1 was confirmed without a plate: a plate slipped in later has no review behind it
    sql(db.data_dir, "UPDATE violations SET plate_text = '29-B1 123.45' WHERE public_id = :p", p=decided[0])
    # violation 3's plate came from its review: changing it contradicts the log
    sql(db.data_dir, "UPDATE violations SET plate_text = '30K-000.00' WHERE public_id = :p", p=decided[2])
    err = _verify_fails(run)
    assert f"violation {decided[0]} (seal #1): plate_text is '29-B1 123.45', but no review gave it" in err
    assert f"violation {decided[2]}: plate is '30K-000.00' but the review log says '30K-559.78'" in err


def test_an_evidence_file_swapped_with_its_stored_hash(run, db, decided):
    during = next((db.data_dir / "evidence").rglob(f"{decided[2]}/during.jpg"))
    forged = b"another picture"
    during.write_bytes(forged)
    sha = hashlib.sha256(forged).hexdigest()
    sql(db.data_dir, "UPDATE evidence SET sha256 = :s, bytes = :n WHERE path = :path", s=sha, n=len(forged),
        path=str(during.relative_to(db.data_dir)))  # fmt: skip
    err = _verify_fails(run)
    assert f"violation {decided[2]} (seal #3): changed after it was sealed: evidence during SHA-256: sealed" in err
    assert "file altered" not in err  # the file matches the forged row: only the seal tells


def test_the_last_review_entries_deleted(run, db, decided):
    # the attacker removes the rejection (the last entry) and puts the status back to match the log
    sql(db.data_dir, "DELETE FROM reviews WHERE id = 4")
    sql(db.data_dir, "UPDATE violations SET status = 'confirmed' WHERE public_id = :p", p=decided[1])
    err = _verify_fails(run)
    assert "review #4: deleted: checkpoint line" in err and "head of the reviews chain" in err
    assert "chain broken" not in err  # the chain itself is intact: only the anchor shows the loss


def test_the_review_chain_recomputed_with_the_projects_hash(run, db, decided):
    sql(db.data_dir, "UPDATE reviews SET reviewer = 'rob' WHERE id = 1")
    with db.session() as s:  # recompute every entry hash and link, as the code itself does
        prev = GENESIS_HASH
        for row in s.scalars(select(ReviewRow).order_by(ReviewRow.id)):
            public_id = s.scalars(select(ViolationRow.public_id).where(ViolationRow.id == row.violation_id)).one()
            row.prev_hash = prev
            row.entry_hash = prev = entry_hash(row, public_id)
    err = _verify_fails(run)
    assert "edited after it was written" not in err and "chain broken" not in err  # the chain is consistent
    for n in (1, 2, 3, 4):
        assert f"review #{n}: rewritten: its hash is not the one checkpoint line" in err


def test_the_seal_chain_recomputed_with_the_projects_hash(run, db, decided):
    sql(db.data_dir, "UPDATE violations SET rule = 'wrong_way' WHERE public_id = :p", p=decided[1])
    with db.session() as s:
        prev = GENESIS
        for seal in s.scalars(select(SealRow).order_by(SealRow.id)):
            v = s.get(ViolationRow, seal.violation_id)
            run_row = s.get(RunRow, v.run_id)
            files = list(s.scalars(select(EvidenceRow).where(EvidenceRow.violation_id == v.id)))
            seal.content_json = canonical(seal_content(v, run_row, files))
            seal.prev_hash = prev
            seal.seal_hash = prev = seal_hash(seal.content_json, seal.prev_hash)
    err = _verify_fails(run)
    assert "changed after it was sealed" not in err and "seal chain broken" not in err
    assert f"violation {decided[1]} (seal #2): seal signature does not verify" in err
    assert "seal #2: rewritten" in err


def test_a_violation_inserted_without_a_seal(run, db, decided):
    sql(db.data_dir, "DELETE FROM violation_seals WHERE id = 3")
    err = _verify_fails(run)
    assert f"violation {decided[2]}: has no seal" in err
    assert "seal #3: deleted" in err


def test_seals_of_a_rotated_key_still_verify(run, db, decided):
    r = run("audit", "rotate-key")
    assert r.exit_code == 0, r.output
    add_violation(db, new_run(db), 4)  # sealed with the new key
    assert run("review", "confirm", f"{4:032x}", "--as", "rita", "--plate", "30K-559.78").exit_code == 0
    r = run("audit", "verify")
    assert r.exit_code == 0, r.output
    assert "4 seal(s), 9 checkpoint(s)" in r.stdout
    keys = {s[0] for s in sql(db.data_dir, "SELECT DISTINCT key_id FROM violation_seals")}
    assert len(keys) == 2
