"""Scene versions: every save of a camera's scene, append-only, numbered per camera.

The domain logic (validation, files, roll-back) lives in `pipeline.scenes.versions`; this module
only reads and writes rows and returns plain `SceneVersion` records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.store.columns import utc_now
from pipeline.store.db import Database
from pipeline.store.models import CameraRow, RunRow, SceneVersionRow
from pipeline.store.repository import ensure_camera

_RETRIES = 5


@dataclass(frozen=True, slots=True)
class SceneVersion:
    """One saved version of a camera's scene."""

    id: int
    camera_id: str
    version: int
    yaml_text: str
    sha256: str
    reference_path: str | None
    """Relative to the data dir; None when the version was saved without a frame."""
    author: str
    created_at: datetime
    note: str | None
    restored_from: int | None = None
    """The version a roll-back repeated; None for a save."""


def _record(row: SceneVersionRow) -> SceneVersion:
    return SceneVersion(row.id, row.camera_id, row.version, row.yaml_text, row.sha256, row.reference_path,
                        row.author, row.created_at, row.note, row.restored_from)  # fmt: skip


def add_scene_version(
    db: Database,
    camera_id: str,
    yaml_text: str,
    sha256: str,
    author: str,
    *,
    reference_path: str | None = None,
    note: str | None = None,
    restored_from: int | None = None,
) -> SceneVersion:
    """Append the camera's next version (1 for its first). Two saves at once both succeed:
    the loser of the race on (camera, version) takes the following number."""
    ensure_camera(db, camera_id)
    for attempt in range(_RETRIES):
        try:
            with db.session() as s:
                last = s.scalar(select(func.max(SceneVersionRow.version)).where(SceneVersionRow.camera_id == camera_id))
                row = SceneVersionRow(
                    camera_id=camera_id, version=(last or 0) + 1, yaml_text=yaml_text, sha256=sha256,
                    reference_path=reference_path, author=author, created_at=utc_now(), note=note,
                    restored_from=restored_from,
                )  # fmt: skip
                s.add(row)
                s.flush()
                return _record(row)
        except IntegrityError:
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def set_reference_path(db: Database, version_id: int, reference_path: str) -> None:
    """Attach the reference frame written after the row (its file name carries the version)."""
    with db.session() as s:
        s.execute(update(SceneVersionRow).where(SceneVersionRow.id == version_id).values(reference_path=reference_path))


def list_scene_versions(db: Database, camera_id: str) -> list[SceneVersion]:
    """Every version of the camera's scene, newest first."""
    with db.session() as s:
        q = select(SceneVersionRow).where(SceneVersionRow.camera_id == camera_id)
        rows = s.scalars(q.order_by(SceneVersionRow.version.desc()))
        return [_record(r) for r in rows]


def get_scene_version(db: Database, camera_id: str, version: int | None = None) -> SceneVersion | None:
    """Version `version` of the camera's scene, or its newest when `version` is None."""
    with db.session() as s:
        q = select(SceneVersionRow).where(SceneVersionRow.camera_id == camera_id)
        q = q.where(SceneVersionRow.version == version) if version is not None else q
        row = s.scalars(q.order_by(SceneVersionRow.version.desc()).limit(1)).first()
        return _record(row) if row is not None else None


def get_scene_version_by_id(db: Database, version_id: int) -> SceneVersion | None:
    with db.session() as s:
        row = s.get(SceneVersionRow, version_id)
        return _record(row) if row is not None else None


def find_scene_version(db: Database, camera_id: str, sha256: str) -> SceneVersion | None:
    """The newest version of the camera whose scene has hash `sha256`."""
    with db.session() as s:
        row = s.scalars(
            select(SceneVersionRow)
            .where(SceneVersionRow.camera_id == camera_id, SceneVersionRow.sha256 == sha256)
            .order_by(SceneVersionRow.version.desc())
            .limit(1)
        ).first()
        return _record(row) if row is not None else None


def latest_version_ids(db: Database) -> dict[str, tuple[int, int]]:
    """For every camera with a saved scene: (row id, version number) of its newest version."""
    with db.session() as s:
        newest = (
            select(SceneVersionRow.camera_id, func.max(SceneVersionRow.version).label("v"))
            .group_by(SceneVersionRow.camera_id)
            .subquery()
        )
        rows = s.execute(
            select(SceneVersionRow.camera_id, SceneVersionRow.id, SceneVersionRow.version).join(
                newest, (SceneVersionRow.camera_id == newest.c.camera_id) & (SceneVersionRow.version == newest.c.v)
            )
        )
        return {cam: (vid, ver) for cam, vid, ver in rows}


def link_run(db: Database, run_id: int, version_id: int) -> None:
    """Record that run `run_id` judged by scene version `version_id`."""
    with db.session() as s:
        s.execute(update(RunRow).where(RunRow.id == run_id).values(scene_version_id=version_id))


def run_scene_version(db: Database, run_id: int) -> SceneVersion | None:
    """The scene version run `run_id` judged by, or None when it was not linked to one."""
    with db.session() as s:
        q = select(SceneVersionRow).join(RunRow, RunRow.scene_version_id == SceneVersionRow.id)
        row = s.scalars(q.where(RunRow.id == run_id)).first()
        return _record(row) if row is not None else None


def cameras_with_versions(db: Database) -> list[tuple[str, int | None]]:
    """Every known camera with the number of its newest scene version (None: none saved)."""
    newest = latest_version_ids(db)
    with db.session() as s:
        ids = list(s.scalars(select(CameraRow.id).order_by(CameraRow.id)))
    return [(cid, newest[cid][1] if cid in newest else None) for cid in ids]


def camera_exists(db: Database, camera_id: str) -> bool:
    with db.session() as s:
        return s.get(CameraRow, camera_id) is not None


def scene_log(db: Database, *, before_id: int | None = None, limit: int = 100) -> list[SceneVersion]:
    """The latest `limit` saves and roll-backs of every camera's scene (older than row `before_id`),
    newest first: the scene part of the review log."""
    query = select(SceneVersionRow)
    if before_id is not None:
        query = query.where(SceneVersionRow.id < before_id)
    with db.session() as s:
        return [_record(r) for r in s.scalars(query.order_by(SceneVersionRow.id.desc()).limit(limit))]
