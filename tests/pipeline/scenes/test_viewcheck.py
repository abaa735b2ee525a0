"""`trafficcam process` warns when a file's view does not match its scene's reference frame."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import pytest

from pipeline.scene import load_scene
from pipeline.scenes.guard import reference_path, write_reference
from pipeline.scenes.versions import save_scene
from pipeline.scenes.viewcheck import check_file_view
from tests.conftest import need_shared
from tests.databases import open_test_database
from tests.pipeline.scenes.clips import moved


def _clip(folder: Path, out: Path, dx: float) -> Path:
    cap = cv2.VideoCapture(str(folder / "16h30.25.9.22.mp4"))
    frames = [cap.read()[1] for _ in range(36)]  # 6 s at 6 fps
    cap.release()
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 6.0, (640, 480))
    for f in frames:
        writer.write(moved(f, dx=dx) if dx else f)
    writer.release()
    return out


@pytest.fixture
def hanoi(tmp_path: Path) -> tuple[Path, Path]:
    folder = need_shared("clips", "hanoi_ltk_hangbai")
    scene = Path(shutil.copy(folder / "scene.yaml", tmp_path / "scene.yaml"))
    return folder, scene


def test_a_moved_view_warns_and_the_same_view_does_not(hanoi, tmp_path: Path) -> None:
    folder, scene_path = hanoi
    scene = load_scene(scene_path)
    db = open_test_database(tmp_path / "data")
    same = _clip(folder, tmp_path / "same.mp4", 0)
    knocked = _clip(folder, tmp_path / "knocked.mp4", 30)
    assert check_file_view(same, scene, scene_path, db, db.data_dir).warning is None  # no reference: no check
    cap = cv2.VideoCapture(str(same))
    write_reference(reference_path(scene_path), cap.read()[1])
    cap.release()
    assert check_file_view(same, scene, scene_path, db, db.data_dir).warning is None
    warning = check_file_view(knocked, scene, scene_path, db, db.data_dir).warning
    assert warning is not None and "does not match scene scene.yaml" in warning and "30 px" in warning
    db.close()


def test_the_reference_of_a_saved_version_with_the_same_hash_is_used(hanoi, tmp_path: Path) -> None:
    folder, scene_path = hanoi
    scene = load_scene(scene_path)
    db = open_test_database(tmp_path / "data")
    cap = cv2.VideoCapture(str(folder / "16h30.25.9.22.mp4"))
    saved = save_scene(db, db.data_dir, scene.camera, scene_path.read_text(), "ada", reference=cap.read()[1])
    cap.release()
    check = check_file_view(_clip(folder, tmp_path / "k.mp4", -25), scene, scene_path, db, db.data_dir)
    assert check.version == saved and check.warning is not None
    db.close()
