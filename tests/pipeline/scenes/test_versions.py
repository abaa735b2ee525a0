"""Scene versions on a real database (SQLite, or PostgreSQL with --database postgresql), and the
`trafficcam scene versions | show | save | rollback | reference` commands."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.errors import SceneError
from pipeline.scene import scene_hash
from pipeline.scenes.validation import parse_scene_text, scene_problems, scene_to_yaml
from pipeline.scenes.versions import diff_versions, load_version, rollback, save_scene
from pipeline.store.scene_versions import get_scene_version, list_scene_versions, run_scene_version
from tests.databases import database_env, open_test_database
from tests.review.conftest import new_run

SCENE = """camera: cam-1
frame_size: [640, 480]
signals:
  - id: main
    box: [548, 178, 570, 226]
stop_lines:
  - id: southbound
    line: [[0, 330], [560, 330]]
    approach: [0, -1]
    signal: main
"""


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = open_test_database(tmp_path / "data")
    yield database
    database.close()


def test_each_save_is_a_version_with_its_files_and_a_rollback_repeats_an_old_one(db) -> None:
    frame = np.full((480, 640, 3), 90, np.uint8)
    v1 = save_scene(db, db.data_dir, "cam-1", SCENE, "ada", note="first", reference=frame)
    v2 = save_scene(db, db.data_dir, "cam-1", SCENE.replace("330]", "340]"), "bob", note="moved the line")
    assert (v1.version, v2.version) == (1, 2) and v2.author == "bob"
    assert v1.sha256 == scene_hash(parse_scene_text(SCENE))
    assert v2.reference_path == v1.reference_path == "scenes/cam-1/v0001.reference.jpg"  # same view
    assert (db.data_dir / "scenes/cam-1/v0002.yaml").read_text() == v2.yaml_text
    assert "-    line: [[0, 330], [560, 330]]" in diff_versions(v1, v2)
    v3 = rollback(db, db.data_dir, "cam-1", 1, "ada")
    assert v3.version == 3 and v3.yaml_text == SCENE and v3.sha256 == v1.sha256 and "version 1" in (v3.note or "")
    assert [v.version for v in list_scene_versions(db, "cam-1")] == [3, 2, 1]
    loaded = load_version(db.data_dir, v3)
    assert loaded.reference is not None and loaded.reference.shape == (480, 640, 3)
    with pytest.raises(LookupError, match="versions: 1, 2, 3"):
        rollback(db, db.data_dir, "cam-1", 9, "ada")


def test_an_invalid_scene_or_another_camera_is_refused_and_nothing_is_saved(db) -> None:
    with pytest.raises(SceneError, match="names signal 'nope'"):
        save_scene(db, db.data_dir, "cam-1", SCENE.replace("signal: main", "signal: nope"), "ada")
    with pytest.raises(SceneError, match="expected 'cam-2'"):
        save_scene(db, db.data_dir, "cam-2", SCENE, "ada")
    assert get_scene_version(db, "cam-1") is None and not (db.data_dir / "scenes").exists()


def test_a_run_keeps_the_version_it_judged_by(db) -> None:
    from pipeline.store.scene_versions import link_run

    v = save_scene(db, db.data_dir, "cam-1", SCENE, "ada")
    run = new_run(db)
    assert run_scene_version(db, run) is None
    link_run(db, run, v.id)
    assert run_scene_version(db, run) == v


def test_problems_name_their_element_and_the_yaml_round_trips() -> None:
    import yaml

    data = yaml.safe_load(SCENE)
    assert scene_problems(data) == []
    assert parse_scene_text(scene_to_yaml(data)) == parse_scene_text(SCENE)
    data["stop_lines"][0]["approach"] = [0, 0]
    data["signals"].append({"id": "main", "box": [1, 1, 2, 2]})
    keys = {p.key: p.message for p in scene_problems(data)}
    assert "direction vector must not be [0, 0]" in keys["stop_lines[0].approach"]
    assert "duplicate id 'main'" in keys["signals[1].id"]


def test_cli_save_versions_show_rollback(tmp_path: Path) -> None:
    data = tmp_path / "data"
    scene = tmp_path / "scene.yaml"
    scene.write_text(SCENE)
    image = tmp_path / "view.png"
    cv2.imwrite(str(image), np.full((480, 640, 3), 120, np.uint8))
    env = database_env(data)
    run = CliRunner().invoke
    common = ["--data-dir", str(data)]
    r = run(app, ["scene", "save", str(scene), "--video", str(image), "--note", "first", "--author", "ada", *common],
            env=env)  # fmt: skip
    assert r.exit_code == 0 and "version 1" in r.output, r.output
    scene.write_text(SCENE.replace("330]", "335]"))
    assert run(app, ["scene", "save", str(scene), "--author", "bob", *common], env=env).exit_code == 0
    r = run(app, ["scene", "versions", "cam-1", *common], env=env)
    assert r.exit_code == 0 and "bob" in r.output and "first" in r.output
    r = run(app, ["scene", "show", "cam-1", "--diff", *common], env=env)
    assert "+    line: [[0, 335], [560, 335]]" in r.output
    r = run(app, ["scene", "rollback", "cam-1", "1", "--author", "ada", *common], env=env)
    assert r.exit_code == 0 and "version 3" in r.output
    r = run(app, ["scene", "rollback", "cam-1", "7", *common], env=env)
    assert r.exit_code == 1 and "no scene version 7" in r.output
    scene.write_text(SCENE.replace("signal: main", "signal: nope"))
    r = run(app, ["scene", "save", str(scene), *common], env=env)
    assert r.exit_code == 2 and "names signal 'nope'" in r.output
    r = run(app, ["scene", "versions", "cam-1", *common], env=env)
    assert r.output.count("│ ") >= 3 and "nope" not in r.output


def test_cli_reference_writes_the_frame_beside_the_scene(tmp_path: Path) -> None:
    scene = tmp_path / "junction.yaml"
    scene.write_text(SCENE)
    image = tmp_path / "view.png"
    cv2.imwrite(str(image), np.full((480, 640, 3), 120, np.uint8))
    r = CliRunner().invoke(app, ["scene", "reference", str(scene), "--video", str(image)])
    assert r.exit_code == 0 and (tmp_path / "junction.reference.jpg").is_file(), r.output
