"""Admins: users, and exporting confirmed violations (CSV, JSON, zips of evidence)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

from pipeline.store.review_repo import get_user
from tests.review.conftest import PASSWORD, csrf
from tests.review.test_web_review import decide


def test_admin_adds_disables_and_enables_a_user(login, db):
    ada = login("ada")
    token = csrf(ada, "/admin/users")
    r = ada.post(
        "/admin/users", data={"csrf_token": token, "name": "vu", "password": "long-enough", "role": "reviewer"}
    )
    assert r.status_code == 303
    page = ada.get("/admin/users").text
    assert "Added reviewer vu" in page and ">vu<" in page
    vu = get_user(db, "vu")
    assert vu is not None and vu.role.value == "reviewer"
    ada.post("/admin/users/vu/disable", data={"csrf_token": token})
    assert get_user(db, "vu").disabled
    ada.post("/admin/users/vu/enable", data={"csrf_token": token})
    assert not get_user(db, "vu").disabled


def test_admin_user_form_errors(login, db):
    ada = login("ada")
    token = csrf(ada, "/admin/users")
    for data, message in (
        ({"name": "rita", "password": "long-enough"}, "already exists"),
        ({"name": "bad name!", "password": "long-enough"}, "is not allowed"),
        ({"name": "short", "password": "2short"}, "at least 8 characters"),
        ({"name": "x", "password": "long-enough", "role": "root"}, "role must be one of"),
    ):
        ada.post("/admin/users", data={"csrf_token": token, **data})
        assert message in ada.get("/admin/users").text, message
    ada.post("/admin/users/ada/disable", data={"csrf_token": token})
    assert "cannot disable yourself" in ada.get("/admin/users").text
    assert not get_user(db, "ada").disabled
    assert ada.post("/admin/users/vu/disable").status_code == 403  # no CSRF token


def _confirm_two(login, violations) -> None:
    rita = login("rita")
    decide(rita, violations[0], decision="confirm", plate="30E-999.01")
    decide(rita, violations[1], decision="reject", reason="wrong_vehicle")
    decide(rita, violations[2], decision="confirm", plate="29-B1 123.45")


def test_export_csv_and_json_of_confirmed(login, violations):
    _confirm_two(login, violations)
    ada = login("ada")
    r = ada.get("/export/download?format=csv&status=confirmed")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["public_id"] for row in rows] == [violations[0], violations[2]]
    assert rows[0]["plate_text"] == "30E-999.01" and rows[0]["decided_by"] == "rita"
    assert rows[0]["sha256_during"] == hashlib.sha256(f"during of {violations[0]}".encode()).hexdigest()
    data = json.loads(ada.get("/export/download?format=json&status=rejected").text)
    assert [d["public_id"] for d in data] == [violations[1]]
    assert data[0]["reason"] == "wrong_vehicle" and len(data[0]["evidence_sha256"]) == 5


def test_export_since_date(login, violations):
    _confirm_two(login, violations)
    ada = login("ada")
    assert len(json.loads(ada.get("/export/download?format=json&from=2024-05-01").text)) == 2
    assert json.loads(ada.get("/export/download?format=json&from=2024-05-02").text) == []
    for query, message in (("from=not-a-date", "from must be a date"), ("to=9999-12-31", "to must be between"),
                           ("from=0001-01-01", "from must be between"), ("format=xml", "format must be one of")):
        r = ada.get(f"/export/download?format=json&{query}")
        assert r.status_code == 400 and message in r.text, query


def test_export_zip_has_files_and_checksums(login, violations, db):
    _confirm_two(login, violations)
    r = login("ada").get("/export/download?format=zip&status=confirmed")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    names = set(zf.namelist())
    assert {"violations.csv", "violations.json", "SHA256SUMS", f"{violations[0]}/during.jpg",
            f"{violations[2]}/clip.mp4"} <= names  # fmt: skip
    assert not any(n.startswith(violations[1]) for n in names)
    for line in zf.read("SHA256SUMS").decode().splitlines():
        sha, name = line.split("  ")
        assert hashlib.sha256(zf.read(name)).hexdigest() == sha


def test_zip_of_a_ticked_selection(login, violations, db):
    ada = login("ada")
    token = csrf(ada, "/queue")
    r = ada.post("/export/selection.zip", data={"csrf_token": token, "ids": [violations[0], violations[2]]})
    assert r.status_code == 200
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    folders = {n.split("/")[0] for n in zf.namelist() if "/" in n}
    assert folders == {violations[0], violations[2]}
    assert "PROBLEMS.txt" not in zf.namelist()
    r = ada.post("/export/selection.zip", data={"csrf_token": token})
    assert r.status_code == 303  # nothing ticked


def test_zip_leaves_out_altered_files_and_says_so(login, violations, db):
    next((db.data_dir / "evidence").rglob(f"{violations[0]}/after.jpg")).write_bytes(b"edited")
    ada = login("ada")
    r = ada.post("/export/selection.zip", data={"csrf_token": csrf(ada, "/queue"), "ids": [violations[0]]})
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    assert f"{violations[0]}/after.jpg" not in zf.namelist()
    assert "file altered" in zf.read("PROBLEMS.txt").decode()


def test_new_user_added_on_the_web_can_log_in(login, app):
    from fastapi.testclient import TestClient

    ada = login("ada")
    ada.post("/admin/users", data={"csrf_token": csrf(ada, "/admin/users"), "name": "vu", "password": PASSWORD})
    c = TestClient(app, follow_redirects=False)
    r = c.post("/login", data={"name": "vu", "password": PASSWORD, "csrf_token": csrf(c, "/login")})
    assert r.status_code == 303


def test_zip_of_a_large_selection(login, db, violations):
    from tests.review.conftest import add_violation, new_run

    run_id = new_run(db)
    many = violations + [add_violation(db, run_id, n, files={"during": b"x"}) for n in range(10, 80)]
    ada = login("ada")
    r = ada.post("/export/selection.zip", data={"csrf_token": csrf(ada, "/queue"), "ids": many})
    assert r.status_code == 200
    folders = {n.split("/")[0] for n in zipfile.ZipFile(io.BytesIO(r.content)).namelist() if "/" in n}
    assert folders == set(many)
