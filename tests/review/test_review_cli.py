"""`trafficcam users | review | audit | export` as a user runs them: exit codes and output."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import zipfile

import pytest
import typer
from typer.testing import CliRunner

from pipeline.store.review_repo import get_user, reviews_of
from review.cli import register
from tests.conftest import REPO
from tests.databases import database_env, sql

APP = typer.Typer()
register(APP)


@pytest.fixture
def run(db):  # type: ignore[no-untyped-def]
    """`run("users", "list")` with the test's data dir; returns the click Result."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        env = {"COLUMNS": "200", **database_env(db.data_dir)}
        return runner.invoke(APP, [*args, "--data-dir", str(db.data_dir)], input=input, env=env)

    return invoke


def test_users_add_list_disable(run, db):
    r = run("users", "add", "thu", "--role", "admin", input="a-long-password\n")
    assert r.exit_code == 0, r.output
    assert "added admin thu" in r.stdout
    user = get_user(db, "thu")
    assert user is not None and user.is_admin
    r = run("users", "add", "oanh", "--role", "operator", input="a-long-password\n")
    assert r.exit_code == 0 and "added operator oanh" in r.stdout, r.output
    operator = get_user(db, "oanh")
    assert operator is not None and operator.can_edit_scenes and not operator.is_admin
    r = run("users", "list")
    assert "thu" in r.stdout and "admin" in r.stdout and "active" in r.stdout
    assert run("users", "disable", "thu").exit_code == 0
    assert get_user(db, "thu").disabled and "disabled" in run("users", "list").stdout
    assert run("users", "enable", "thu").exit_code == 0 and not get_user(db, "thu").disabled


def test_users_add_errors(run):
    run("users", "add", "thu", input="a-long-password\n")
    for args, stdin, message in (
        (("users", "add", "thu"), "a-long-password\n", "already exists"),
        (("users", "add", "lan"), "short\n", "at least 8 characters"),
        (("users", "add", "a b"), "a-long-password\n", "is not allowed"),
        (("users", "disable", "nobody"), None, "no user called 'nobody'"),
    ):
        r = run(*args, input=stdin)
        assert r.exit_code == 2, (args, r.output)
        assert r.stderr.startswith("error:") and message in r.stderr, r.stderr
    r = run("users", "add", "lan", "--role", "root", input="a-long-password\n")
    assert r.exit_code == 2


def test_password_hash_is_argon2(run, db):
    run("users", "add", "thu", input="a-long-password\n")
    [(hashed,)] = sql(db.data_dir, "SELECT password_hash FROM users WHERE name = 'thu'")
    assert hashed.startswith("$argon2id$") and "a-long-password" not in hashed


@pytest.fixture
def reviewer(run) -> str:
    assert run("users", "add", "rita", input="a-long-password\n").exit_code == 0
    return "rita"


def test_review_list_show_confirm_reject(run, db, violations, reviewer):
    r = run("review", "list")
    assert r.exit_code == 0 and "3 pending violation(s)" in r.stdout
    assert all(p in r.stdout for p in violations)
    r = run("review", "confirm", violations[0], "--as", "rita", "--plate", "29a-123.45")
    assert r.exit_code == 0 and "confirmed" in r.stdout and "entry #1" in r.stdout
    r = run("review", "reject", violations[1], "--as", "rita", "--reason", "emergency_vehicle", "--note", "ambulance")
    assert r.exit_code == 0, r.output
    assert "2 pending" not in run("review", "list").stdout and "1 pending" in run("review", "list").stdout
    r = run("review", "show", violations[0])
    assert r.exit_code == 0
    for text in ("confirmed", "29A-123.45", "rita: confirm", "during", "ok", "red_light at southbound"):
        assert text in r.stdout, text
    r = run("review", "list", "--status", "rejected")
    assert violations[1] in r.stdout and violations[0] not in r.stdout


def test_review_confirm_twice_says_who_and_exits_4(run, db, violations, reviewer):
    run("users", "add", "rob", input="a-long-password\n")
    assert run("review", "confirm", violations[0], "--as", "rita", "--plate", "30K-559.78").exit_code == 0
    r = run("review", "reject", violations[0], "--as", "rob", "--reason", "not_a_violation")
    assert r.exit_code == 4 and "already decided by rita" in r.stderr
    r = run("review", "reject", violations[0], "--as", "rob", "--reason", "not_a_violation", "--revise")
    assert r.exit_code == 0
    assert [e.reviewer for e in reviews_of(db, violations[0])] == ["rita", "rob"]


def test_review_errors(run, violations, reviewer):
    assert run("review", "show", "f" * 32).exit_code == 2
    r = run("review", "confirm", violations[0], "--as", "mallory", "--plate", "30K-559.78")
    assert r.exit_code == 2 and "not an enabled user" in r.stderr
    r = run("review", "reject", violations[0], "--as", "rita", "--reason", "other")
    assert r.exit_code == 2 and "needs a note" in r.stderr
    assert run("review", "reject", violations[0], "--as", "rita", "--reason", "bored").exit_code == 2


# -- audit -----------------------------------------------------------------------------------


@pytest.fixture
def decided(run, db, violations, reviewer) -> list[str]:
    for pid in violations:
        assert run("review", "confirm", pid, "--as", "rita", "--plate", "30K-559.78").exit_code == 0
    run("review", "reject", violations[1], "--as", "rita", "--reason", "wrong_vehicle", "--revise")
    return violations


def _sql(db, statement: str, **params: object) -> None:
    sql(db.data_dir, statement, **params)


def test_audit_clean(run, decided):
    r = run("audit", "verify")
    assert r.exit_code == 0 and "4 review log entries, 3 violation(s), 15 evidence file(s): nothing altered" in r.stdout


def test_audit_detects_an_edited_review_row(run, db, decided):
    _sql(db, "UPDATE reviews SET reason = 'not_a_violation' WHERE id = 4")
    r = run("audit", "verify")
    assert r.exit_code == 1
    assert "review #4" in r.stderr and "edited after it was written" in r.stderr and "not_a_violation" in r.stderr
    assert "review #1" not in r.stderr and "evidence #" not in r.stderr


def test_audit_detects_a_rewritten_hash_and_a_removed_entry(run, db, decided):
    _sql(db, "UPDATE reviews SET reviewer = 'rob', entry_hash = :h WHERE id = 2", h="e" * 64)  # content + own hash
    _sql(db, "DELETE FROM reviews WHERE id = 3")
    r = run("audit", "verify")
    assert r.exit_code == 1
    assert "review #2" in r.stderr and "edited" in r.stderr
    assert "review #4" in r.stderr and "chain broken" in r.stderr and "review #2" in r.stderr
    assert f"violation {decided[2]}: status is 'confirmed' but the review log says 'pending'" in r.stderr


def test_audit_detects_a_status_changed_behind_the_log(run, db, decided):
    _sql(db, "UPDATE violations SET status = 'confirmed' WHERE public_id = :p", p=decided[1])
    r = run("audit", "verify")
    assert r.exit_code == 1
    assert f"violation {decided[1]}: status is 'confirmed' but the review log says 'rejected'" in r.stderr


def test_audit_detects_a_modified_and_a_missing_evidence_file(run, db, decided):
    during = next((db.data_dir / "evidence").rglob(f"{decided[0]}/during.jpg"))
    during.write_bytes(during.read_bytes() + b"!")
    clip = next((db.data_dir / "evidence").rglob(f"{decided[2]}/clip.mp4"))
    clip.unlink()
    r = run("audit", "verify")
    assert r.exit_code == 1
    assert "2 problem(s)" in r.stderr
    assert f"during of violation {decided[0]}" in r.stderr and "file altered: SHA-256 is" in r.stderr
    assert f"clip of violation {decided[2]}" in r.stderr and "file missing" in r.stderr
    assert run("audit", "verify", "--no-files").exit_code == 0


# -- export ----------------------------------------------------------------------------------


def test_export_csv_json_since(run, db, decided, tmp_path):
    out = tmp_path / "confirmed.csv"
    r = run("export", "--status", "confirmed", "--format", "csv", "-o", str(out))
    assert r.exit_code == 0 and "wrote 2 violation(s)" in r.stdout
    rows = list(csv.DictReader(out.open()))
    assert [row["public_id"] for row in rows] == [decided[0], decided[2]]
    assert rows[0]["decided_by"] == "rita" and len(rows[0]["sha256_clip"]) == 64
    out = tmp_path / "rejected.json"
    run("export", "--status", "rejected", "--format", "json", "-o", str(out))
    assert [d["public_id"] for d in json.loads(out.read_text())] == [decided[1]]
    r = run("export", "--format", "json", "--since", "2024-05-02", "-o", str(out))
    assert r.exit_code == 0 and json.loads(out.read_text()) == []
    r = run("export", "--format", "json", "--since", "2024-05-01T07:30:02+00:00", "-o", "-")
    assert [d["public_id"] for d in json.loads(r.stdout)] == [decided[2]]


def test_export_zip_and_errors(run, decided, tmp_path):
    out = tmp_path / "evidence.zip"
    assert run("export", "--format", "zip", "-o", str(out)).exit_code == 0
    names = zipfile.ZipFile(out).namelist()
    assert f"{decided[0]}/during.jpg" in names and "SHA256SUMS" in names
    assert run("export", "--format", "xml", "-o", str(out)).exit_code == 2
    assert run("export", "--since", "last tuesday", "-o", str(out)).exit_code == 2
    assert run("export", "--format", "zip", "-o", "-").exit_code == 2
    assert run("export", "-o", str(tmp_path / "no" / "such" / "dir.csv")).exit_code == 2


@pytest.mark.parametrize("first", ["review.cli", "review.cli_review", "pipeline.cli.main"])
def test_register_works_whichever_module_is_imported_first(first):
    """No import circle: any CLI module may be imported first and the app still has every command."""
    code = f"""
import {first}
from pipeline.cli.main import app
import typer.main
names = set(typer.main.get_command(app).commands)
assert {{"serve", "users", "review", "audit", "export", "process", "watch", "db"}} <= names, names
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_cli_refuses_to_confirm_altered_evidence(run, db, violations, reviewer):
    next((db.data_dir / "evidence").rglob(f"{violations[0]}/clip.mp4")).write_bytes(b"other clip")
    r = run("review", "confirm", violations[0], "--as", "rita", "--plate", "30K-559.78")
    assert r.exit_code == 2 and "not intact" in r.stderr and "clip: file altered" in r.stderr
    assert reviews_of(db, violations[0]) == []


def test_load_secret_is_kept_private_and_reused(tmp_path):
    from review.app import SECRET_FILE, load_secret

    first = load_secret(tmp_path)
    assert len(first) >= 48 and load_secret(tmp_path) == first
    assert (tmp_path / SECRET_FILE).stat().st_mode & 0o777 == 0o600
    assert load_secret(tmp_path, "given-" * 8) == "given-" * 8


def test_users_passwd_and_logout_end_sessions(run, db):
    from pipeline.store.review_sessions import SessionPolicy, open_session, session_user

    run("users", "add", "thu", input="a-long-password\n")
    policy = SessionPolicy()
    open_session(db, "thu", "laptop-token", address="10.0.0.5", user_agent="test", policy=policy)
    r = run("users", "logout", "thu")
    assert r.exit_code == 0 and "1 open session(s) of thu ended" in r.stdout
    assert session_user(db, "laptop-token", policy) is None
    open_session(db, "thu", "phone-token", address="10.0.0.6", user_agent="test", policy=policy)
    r = run("users", "passwd", "thu", input="another-password\n")
    assert r.exit_code == 0 and "1 open session(s) ended" in r.stdout, r.output
    assert session_user(db, "phone-token", policy) is None
    from review.auth import verify_login

    assert verify_login(db, "thu", "another-password") is not None
    assert verify_login(db, "thu", "a-long-password") is None
    for args, stdin, message in (
        (("users", "passwd", "nobody"), "another-password\n", "no user called 'nobody'"),
        (("users", "passwd", "thu"), "short\n", "at least 8 characters"),
        (("users", "logout", "nobody"), None, "no user called 'nobody'"),
    ):
        r = run(*args, input=stdin)
        assert r.exit_code == 2 and message in r.stderr, (args, r.output)
    assert verify_login(db, "thu", "another-password") is not None  # a refused change changes nothing


def test_serve_refuses_a_bad_trusted_proxy_in_one_line(run):
    r = run("serve", "--trusted-proxy", "10.0.0.0/33")
    assert r.exit_code == 2 and "is not an IP address or CIDR block" in r.stderr and "Traceback" not in r.output
    r = run("serve", "--idle-timeout", "0")
    assert r.exit_code == 2 and "--idle-timeout" in r.output


# -- plates ----------------------------------------------------------------------------------


def test_confirm_needs_a_valid_plate_or_the_unreadable_reason(run, db, violations, reviewer):
    r = run("review", "confirm", violations[0], "--as", "rita")
    assert r.exit_code == 2 and "no plate is a plate number in a Vietnamese format" in r.stderr
    r = run("review", "confirm", violations[0], "--as", "rita", "--plate", "ABC 123")
    assert r.exit_code == 2 and "not a plate number in a Vietnamese format" in r.stderr
    assert reviews_of(db, violations[0]) == []
    r = run("review", "confirm", violations[0], "--as", "rita", "--plate", "30k 55978")
    assert r.exit_code == 0 and "plate 30K-559.78" in r.stdout


def test_unreadable_plate_parks_or_rejects_as_configured(run, db, violations, reviewer):
    r = run("review", "confirm", violations[0], "--as", "rita", "--plate-unreadable")
    assert r.exit_code == 0 and "parked" in r.stdout
    [entry] = reviews_of(db, violations[0])
    assert (entry.decision.value, entry.reason, entry.plate_text) == ("park", "plate_unreadable", None)
    shown = run("review", "show", violations[0]).stdout
    assert "pending (parked: plate unreadable)" in shown
    r = run("review", "confirm", violations[1], "--as", "rita", "--plate-unreadable", "--unreadable-plate", "reject")
    assert r.exit_code == 0 and "rejected" in r.stdout
    assert "rejected" in run("review", "list", "--status", "rejected").stdout
    assert violations[1] in run("review", "list", "--status", "rejected").stdout
    assert violations[0] in run("review", "list").stdout  # parked stays in the pending queue
