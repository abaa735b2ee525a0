"""Saved scene versions: save, list, diff, roll back, and the files beside the database rows.

Every save is a new version: the YAML text and the frame it was drawn on (the reference frame
of the camera-moved guard) are written under `<data_dir>/scenes/<camera>/` as `v0007.yaml` and
`v0007.reference.jpg`, and a `scene_versions` row records who saved it, when, why and the
scene's hash (the hash runs carry). A roll-back is a new version repeating an older one, so the
history of what was enforced is never rewritten. A save without a new frame keeps the last
version's reference frame: the view it was drawn on has not changed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import SceneError
from pipeline.scene import Scene, scene_hash
from pipeline.scenes.guard import read_reference, write_reference
from pipeline.scenes.validation import parse_scene_text
from pipeline.store.db import Database
from pipeline.store.scene_versions import (
    SceneVersion,
    add_scene_version,
    get_scene_version,
    list_scene_versions,
    set_reference_path,
)

SCENES_DIR = "scenes"


@dataclass(frozen=True)
class LoadedVersion:
    """A saved version with its validated scene and its reference frame (None when it has none)."""

    version: SceneVersion
    scene: Scene
    reference: np.ndarray | None


def version_stem(camera_id: str, version: int) -> str:
    """Path of a version's files relative to the data dir, without suffix."""
    return f"{SCENES_DIR}/{camera_id}/v{version:04d}"


def save_scene(
    db: Database,
    data_dir: Path,
    camera_id: str,
    yaml_text: str,
    author: str,
    *,
    note: str | None = None,
    reference: np.ndarray | None = None,
    reference_path: str | None = None,
    same_camera: bool = True,
    restored_from: int | None = None,
) -> SceneVersion:
    """Validate `yaml_text` as the scene of `camera_id` and save it as the camera's next version.

    Args:
        reference: the frame it was drawn on; None keeps `reference_path`, else the last version's.
        same_camera: refuse a scene whose `camera` is not `camera_id` (a daemon importing a file
            whose camera id `cameras.yaml` replaces passes False).
        restored_from: the version a roll-back repeats.

    Raises:
        SceneError: the text is not a valid scene, or names another camera.
    """
    scene = parse_scene_text(yaml_text, f"scene of {camera_id}")
    if scene.camera != camera_id and same_camera:
        raise SceneError(f"scene of {camera_id}", [f"camera: the scene says {scene.camera!r}, expected {camera_id!r}"])
    if reference is None and reference_path is None:
        last = get_scene_version(db, camera_id)
        reference_path = last.reference_path if last is not None else None
    sha256 = scene_hash(scene.model_copy(update={"camera": camera_id}))  # as the runs hash it
    saved = add_scene_version(db, camera_id, yaml_text, sha256, author, reference_path=reference_path,
                              note=note, restored_from=restored_from)  # fmt: skip
    stem = version_stem(camera_id, saved.version)
    yaml_file = data_dir / f"{stem}.yaml"
    yaml_file.parent.mkdir(parents=True, exist_ok=True)
    yaml_file.write_text(yaml_text, encoding="utf-8")
    if reference is not None:
        write_reference(data_dir / f"{stem}.reference.jpg", reference)
        set_reference_path(db, saved.id, f"{stem}.reference.jpg")
        saved = get_scene_version(db, camera_id, saved.version) or saved
    return saved


def rollback(db: Database, data_dir: Path, camera_id: str, version: int, author: str) -> SceneVersion:
    """Make version `version` the camera's scene again, as a new version.

    Raises:
        LookupError: the camera has no such version.
    """
    old = get_scene_version(db, camera_id, version)
    if old is None:
        known = ", ".join(str(v.version) for v in reversed(list_scene_versions(db, camera_id))) or "none"
        raise LookupError(f"camera {camera_id!r} has no scene version {version} (versions: {known})")
    return save_scene(db, data_dir, camera_id, old.yaml_text, author, note=f"roll back to version {version}",
                      reference_path=old.reference_path, restored_from=version)  # fmt: skip


def load_version(data_dir: Path, version: SceneVersion) -> LoadedVersion:
    """The validated scene of a saved version (its camera set to the version's) and its frame."""
    scene = parse_scene_text(version.yaml_text, f"{version.camera_id} version {version.version}")
    if scene.camera != version.camera_id:
        scene = scene.model_copy(update={"camera": version.camera_id})
    reference = read_reference(data_dir / version.reference_path) if version.reference_path else None
    return LoadedVersion(version, scene, reference)


def diff_versions(old: SceneVersion | None, new: SceneVersion) -> str:
    """A unified diff of the YAML of two versions (of nothing and `new` for a first version)."""
    before = old.yaml_text.splitlines(keepends=True) if old else []
    name = f"v{old.version}" if old else "empty"
    return "".join(difflib.unified_diff(before, new.yaml_text.splitlines(keepends=True), name, f"v{new.version}"))
