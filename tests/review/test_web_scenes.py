"""The scene editor's server side: who may use it (operators and admins, not reviewers), the check
and save endpoints, restore, upload; scene changes in the review log; the version a violation was
judged under on its page."""

from __future__ import annotations

import re

import cv2
import numpy as np
import yaml

from pipeline.scenes.validation import parse_scene_text
from pipeline.scenes.versions import save_scene
from pipeline.store.review_repo import add_user
from pipeline.store.scene_versions import link_run, list_scene_versions
from review import auth
from tests.pipeline.scenes.test_versions import SCENE
from tests.review.conftest import PASSWORD, add_violation, csrf, new_run


def _setup(db) -> None:  # type: ignore[no-untyped-def]
    save_scene(db, db.data_dir, "cam-1", SCENE, "setup", reference=np.full((480, 640, 3), 80, np.uint8))


def _operator(db) -> None:  # type: ignore[no-untyped-def]
    add_user(db, "otto", auth.HASHER.hash(PASSWORD), "operator")


def test_operators_and_admins_edit_scenes_reviewers_get_403(db, login, client) -> None:
    _setup(db)
    _operator(db)
    assert client.get("/scenes/cam-1").status_code in (303, 307)
    rita, otto = login("rita"), login("otto")
    data = otto.get("/scenes/cam-1/scene.json").json()["scene"]
    token = csrf(rita, "/queue")
    for method, path, body in (("get", "/scenes", None), ("get", "/scenes/cam-1", None),
                               ("get", "/scenes/cam-1/frame", None), ("get", "/scenes/cam-1/scene.json", None),
                               ("post", "/scenes/cam-1/check", {"scene": data}),
                               ("post", "/scenes/cam-1/save", {"scene": data}),
                               ("post", "/scenes/cam-1/rollback/1", None)):  # fmt: skip
        sent = {"json": body, "headers": {"X-CSRF-Token": token}} if method == "post" else {}
        r = getattr(rita, method)(path, **sent)
        assert r.status_code == 403, (path, r.status_code)
    assert 'href="/scenes"' not in rita.get("/queue").text and len(list_scene_versions(db, "cam-1")) == 1
    # an operator draws and saves, but is no admin: no users, no export
    page = otto.get("/queue").text
    assert 'href="/scenes"' in page and 'href="/admin/users"' not in page
    assert otto.get("/admin/users").status_code == 403 and otto.get("/export").status_code == 403
    token = csrf(otto, "/scenes/cam-1")
    data["signals"][0]["box"] = [546, 176, 572, 228]
    r = otto.post("/scenes/cam-1/save", json={"scene": data, "note": "housing"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and list_scene_versions(db, "cam-1")[0].author == "otto"
    ada = login("ada")
    assert ada.get("/scenes").status_code == 200 and "cam-1" in ada.get("/scenes").text
    assert ada.get("/scenes/nope").status_code == 404
    assert ada.get("/scenes/..%2f..%2fetc/frame").status_code == 404
    frame = ada.get("/scenes/cam-1/frame")
    assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"


def test_check_names_each_problem_and_save_refuses_an_invalid_scene(db, login) -> None:
    _setup(db)
    ada = login("ada")
    token = csrf(ada, "/scenes/cam-1")
    data = ada.get("/scenes/cam-1/scene.json").json()["scene"]
    headers = {"X-CSRF-Token": token}
    assert ada.post("/scenes/cam-1/check", json={"scene": data}, headers=headers).json() == {"ok": True, "problems": []}
    data["stop_lines"].append({"id": "southbound", "line": [[0, 300], [700, 300]], "approach": [0, -1], "signal": "x"})
    r = ada.post("/scenes/cam-1/check", json={"scene": data}, headers=headers).json()
    paths = {tuple(p["path"]): p["message"] for p in r["problems"]}
    assert "duplicate id" in paths[("stop_lines", 1, "id")]
    assert "outside frame_size" in paths[("stop_lines", 1, "line", 1)]
    assert "does not exist" in paths[("stop_lines", 1, "signal")]
    r = ada.post("/scenes/cam-1/save", json={"scene": data}, headers=headers)
    assert r.status_code == 422 and len(list_scene_versions(db, "cam-1")) == 1
    assert ada.post("/scenes/cam-1/save", json={"scene": data}).status_code == 403  # no CSRF token
    assert ada.post("/scenes/cam-1/save", content=b"not json", headers=headers).status_code == 400


def test_save_writes_the_documented_yaml_and_restore_brings_an_old_version_back(db, login) -> None:
    _setup(db)
    ada = login("ada")
    token = csrf(ada, "/scenes/cam-1")
    data = ada.get("/scenes/cam-1/scene.json").json()["scene"]
    data["stop_lines"][0]["line"] = [[0, 340], [560, 340]]
    r = ada.post("/scenes/cam-1/save", json={"scene": data, "note": "lower"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["version"] == 2
    newest = list_scene_versions(db, "cam-1")[0]
    assert newest.author == "ada" and newest.note == "lower" and "line: [[0, 340], [560, 340]]" in newest.yaml_text
    assert yaml.safe_load(newest.yaml_text)["stop_lines"][0]["line"] == [[0, 340], [560, 340]]
    r = ada.post("/scenes/cam-1/rollback/1", data={"csrf_token": token})
    assert r.status_code == 303
    versions = list_scene_versions(db, "cam-1")
    assert versions[0].version == 3 and versions[0].yaml_text == SCENE


def test_upload_a_picture_to_draw_on_and_refuse_what_is_not_one(db, login) -> None:
    _setup(db)
    ada = login("ada")
    token = csrf(ada, "/scenes/cam-1")
    png = cv2.imencode(".png", np.full((720, 1280, 3), 200, np.uint8))[1].tobytes()
    r = ada.post("/scenes/cam-1/upload", data={"csrf_token": token}, files={"image": ("v.png", png, "image/png")})
    assert r.status_code == 303
    frame = cv2.imdecode(np.frombuffer(ada.get("/scenes/cam-1/frame").content, np.uint8), cv2.IMREAD_COLOR)
    assert frame.shape == (720, 1280, 3)
    r = ada.post("/scenes/cam-1/upload", data={"csrf_token": token}, files={"image": ("v.png", b"GIF89", "image/png")})
    assert r.status_code == 303 and "Not a picture" in ada.get("/scenes/cam-1").text


def test_an_admin_adds_an_operator_on_the_web(db, login) -> None:
    ada = login("ada")
    r = ada.post("/admin/users", data={"name": "olga", "password": PASSWORD, "role": "operator",
                                       "csrf_token": csrf(ada, "/admin/users")})  # fmt: skip
    assert r.status_code == 303 and "<td>operator</td>" in ada.get("/admin/users").text
    olga = login("olga")
    assert olga.get("/scenes").status_code == 200


def test_saves_and_roll_backs_are_in_the_review_log(db, login) -> None:
    _setup(db)
    _operator(db)
    otto = login("otto")
    token = csrf(otto, "/scenes/cam-1")
    data = otto.get("/scenes/cam-1/scene.json").json()["scene"]
    data["stop_lines"][0]["line"] = [[0, 340], [560, 340]]
    otto.post("/scenes/cam-1/save", json={"scene": data, "note": "lower"}, headers={"X-CSRF-Token": token})
    otto.post("/scenes/cam-1/rollback/1", data={"csrf_token": token})
    versions = list_scene_versions(db, "cam-1")
    assert [(v.version, v.restored_from) for v in versions] == [(3, 1), (2, None), (1, None)]
    page = login("rita").get("/log").text  # every user reads the log; only editors get links
    rows = page.split('<tr data-camera="cam-1"')[1:]
    assert len(rows) == 3
    assert "rolled back</span> to v1, as v3" in rows[0] and "<td>otto</td>" in rows[0]
    assert "saved</span> v2" in rows[1] and "lower" in rows[1] and versions[1].sha256[:12] in rows[1]
    assert "saved</span> v1" in rows[2] and "<td>setup</td>" in rows[2]
    assert 'href="/scenes/cam-1?version=2"' in otto.get("/log").text
    assert "/scenes/cam-1?version" not in page


def test_the_violation_page_shows_the_scene_version_it_was_judged_under(db, login) -> None:
    _setup(db)
    _operator(db)
    first = list_scene_versions(db, "cam-1")[0]
    run_id = new_run(db)
    link_run(db, run_id, first.id)
    judged = add_violation(db, run_id, 1)
    unlinked = add_violation(db, new_run(db), 2)
    otto = login("otto")
    page = otto.get(f"/violations/{judged}").text
    assert f'href="/scenes/cam-1?version={first.version}"' in page and f"version {first.version}" in page
    assert "a scene file, not a saved version" in otto.get(f"/violations/{unlinked}").text
    page = login("rita").get(f"/violations/{judged}").text
    assert f"version {first.version}" in page and "?version=" not in page
    # the link opens that version, on the frame it was drawn on; an unknown version is 404
    opened = otto.get(f"/scenes/cam-1?version={first.version}")
    assert opened.status_code == 200
    assert otto.get(f"/scenes/cam-1/scene.json?version={first.version}").json()["version"] == first.version
    assert otto.get(f"/scenes/cam-1/frame?version={first.version}").headers["content-type"] == "image/jpeg"
    assert otto.get("/scenes/cam-1?version=9").status_code == 404


def test_a_detection_region_clock_box_and_movement_heads_are_saved_as_documented_yaml(db, login) -> None:
    _setup(db)
    ada = login("ada")
    token = csrf(ada, "/scenes/cam-1")
    data = ada.get("/scenes/cam-1/scene.json").json()["scene"]
    data["signals"].append({"id": "right_arrow", "box": [575, 178, 590, 226]})
    data["stop_lines"][0]["movements"] = {"right": "right_arrow"}
    data["detection"] = {"region": [20, 150, 620, 479]}
    data["osd_clock"] = {"box": [240, 0, 400, 18], "format": "%Y-%m-%d %H:%M:%S"}
    r = ada.post("/scenes/cam-1/save", json={"scene": data}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.text
    text = list_scene_versions(db, "cam-1")[0].yaml_text
    assert "detection:\n  region: [20, 150, 620, 479]" in text and "movements: {right: right_arrow}" in text
    assert "osd_clock:\n  box: [240, 0, 400, 18]" in text
    scene = parse_scene_text(text)
    assert scene.region_box() == (20, 150, 620, 479) and scene.stop_lines[0].head_for("right") == "right_arrow"
    data["osd_clock"]["box"] = [600, 0, 700, 18]
    r = ada.post("/scenes/cam-1/check", json={"scene": data}, headers={"X-CSRF-Token": token}).json()
    assert [p["path"] for p in r["problems"]] == [["osd_clock", "box", 1]]


def test_a_scene_drawn_on_an_older_version_keeps_that_version_s_frame(db, login) -> None:
    _setup(db)
    ada = login("ada")
    token = csrf(ada, "/scenes/cam-1")
    png = cv2.imencode(".png", np.full((480, 640, 3), 200, np.uint8))[1].tobytes()
    ada.post("/scenes/cam-1/upload", data={"csrf_token": token}, files={"image": ("v.png", png, "image/png")})
    data = ada.get("/scenes/cam-1/scene.json").json()["scene"]
    ada.post("/scenes/cam-1/save", json={"scene": data, "note": "new view"}, headers={"X-CSRF-Token": token})
    first, second = list_scene_versions(db, "cam-1")[::-1]
    assert first.reference_path != second.reference_path
    old = ada.get("/scenes/cam-1/scene.json?version=1").json()["scene"]
    old["stop_lines"][0]["line"] = [[0, 332], [560, 332]]
    r = ada.post("/scenes/cam-1/save", json={"scene": old, "drawn_on": 1}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200
    third = list_scene_versions(db, "cam-1")[0]
    assert third.reference_path == first.reference_path and third.note == "edited from version 1"
    for bad in (9, "1", True):
        r = ada.post("/scenes/cam-1/save", json={"scene": old, "drawn_on": bad}, headers={"X-CSRF-Token": token})
        assert r.status_code == 400 and "drawn_on" in r.text, bad
    assert len(list_scene_versions(db, "cam-1")) == 3


def test_scene_changes_page_on_their_own_in_the_log(db, login) -> None:
    _setup(db)
    for n in range(21):  # 22 versions: 20 on the first page, 2 on the next
        save_scene(db, db.data_dir, "cam-1", SCENE, "setup", note=f"n{n}")
    rita = login("rita")
    first = rita.get("/log").text
    assert first.count('<tr data-camera="cam-1"') == 20 and 'data-version="22"' in first
    older = re.search(r'href="/log\?scenes_before=(\d+)#scenes"', first)
    assert older is not None
    second = rita.get(f"/log?scenes_before={older.group(1)}").text
    assert second.count('<tr data-camera="cam-1"') == 2 and 'data-version="1"' in second
    assert rita.get("/log?scenes_before=abc").status_code == 400
