"""The scene editor's server side: who may use it, the check and save endpoints, restore, upload."""

from __future__ import annotations

import cv2
import numpy as np
import yaml

from pipeline.scenes.versions import save_scene
from pipeline.store.scene_versions import list_scene_versions
from tests.pipeline.scenes.test_versions import SCENE
from tests.review.conftest import csrf


def _setup(db) -> None:  # type: ignore[no-untyped-def]
    save_scene(db, db.data_dir, "cam-1", SCENE, "setup", reference=np.full((480, 640, 3), 80, np.uint8))


def test_only_admins_edit_scenes_and_unknown_cameras_are_404(db, login, client) -> None:
    _setup(db)
    assert client.get("/scenes/cam-1").status_code in (303, 307)
    assert login("rita").get("/scenes/cam-1").status_code == 403
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
