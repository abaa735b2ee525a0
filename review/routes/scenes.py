"""The scene editor (operators and admins): draw a camera's scene on its newest frame, check it
with the same validation as `trafficcam scene check`, save it as a new version, roll back to an
older one. Reviewers get 403.

The page is one template and one static script (`scene_editor.js`, no build step, nothing from a
CDN). The script keeps the scene as JSON; `POST .../check` runs the pydantic model and returns
each problem with its element path; `POST .../save` writes the documented YAML as the camera's
next version with the frame it was drawn on (the camera-moved guard's reference). Frames are
read only from paths built from a camera id that exists in the database.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml
from fastapi import APIRouter, Depends, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response

from pipeline.errors import SceneError
from pipeline.scenes.live import latest_frame_path
from pipeline.scenes.validation import scene_problems, scene_to_yaml
from pipeline.scenes.versions import diff_versions, rollback, save_scene
from pipeline.store.scene_versions import (
    SceneVersion,
    camera_exists,
    cameras_with_versions,
    get_scene_version,
    list_scene_versions,
)
from review.auth import SceneEditor, database
from review.csrf import require_csrf
from review.params import clean_text
from review.web import flash, redirect, render

router = APIRouter()
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _camera_or_404(request: Request, camera: str) -> str:
    camera = clean_text(camera, "camera", 100)  # no control characters (PostgreSQL refuses NUL)
    if not camera_exists(database(request), camera):
        raise HTTPException(404, f"There is no camera {camera[:100]!r}.")
    return camera


def _upload_path(request: Request, camera: str) -> Path:
    return database(request).data_dir / "frames" / f"{camera}.upload.jpg"


def _frame_path(request: Request, camera: str, version: int | None = None) -> Path | None:
    """The frame to draw on: an uploaded one, else the daemon's newest, else the last reference.
    With `version`: that version's reference frame (the view it was drawn on)."""
    data_dir = database(request).data_dir
    if version is not None:
        old = get_scene_version(database(request), camera, version)
        if old is not None and old.reference_path and (data_dir / old.reference_path).is_file():
            return data_dir / old.reference_path
        return None
    for path in (_upload_path(request, camera), latest_frame_path(data_dir, camera)):
        if path.is_file():
            return path
    newest = get_scene_version(database(request), camera)
    if newest is not None and newest.reference_path and (data_dir / newest.reference_path).is_file():
        return data_dir / newest.reference_path
    return None


@router.get("/scenes")
def scenes_page(request: Request, editor: SceneEditor) -> Response:
    """Every camera, with its newest scene version and a link to the editor."""
    return render(request, "scenes.html", cameras=cameras_with_versions(database(request)))


@router.get("/scenes/{camera}")
def editor_page(request: Request, camera: str, editor: SceneEditor, version: int | None = None) -> Response:
    """The editor for one camera, with its version history; `version` opens an older version
    (drawn on its own reference frame) to look at, or to edit and save as the newest."""
    _camera_or_404(request, camera)
    db = database(request)
    versions = list_scene_versions(db, camera)
    if version is not None and not any(v.version == version for v in versions):
        raise HTTPException(404, f"Camera {camera!r} has no scene version {version}.")
    shown = versions[0].version if version is None and versions else version
    diffs = {v.version: diff_versions(_before(versions, v), v) for v in versions[:10]}
    return render(request, "scene_editor.html", camera=camera, versions=versions, diffs=diffs, shown=shown,
                  newest=versions[0].version if versions else None,
                  has_frame=_frame_path(request, camera, version) is not None)  # fmt: skip


def _before(versions: list[SceneVersion], v: SceneVersion) -> SceneVersion | None:
    return next((o for o in versions if o.version < v.version), None)


@router.get("/scenes/{camera}/frame")
def frame(request: Request, camera: str, editor: SceneEditor, version: int | None = None) -> Response:
    _camera_or_404(request, camera)
    path = _frame_path(request, camera, version)
    if path is None:
        raise HTTPException(404, "No frame of this camera yet: start `trafficcam watch`, or upload one.")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/scenes/{camera}/scene.json")
def scene_json(request: Request, camera: str, editor: SceneEditor, version: int | None = None) -> Response:
    """The scene of the newest (or a given) version as JSON; an empty scene of the frame's size
    for a camera without one."""
    _camera_or_404(request, camera)
    saved = get_scene_version(database(request), camera, version)
    if saved is not None:
        data = yaml.safe_load(saved.yaml_text)
        data["camera"] = camera
        return JSONResponse({"version": saved.version, "scene": data})
    size = _frame_size(_frame_path(request, camera))
    return JSONResponse({"version": None, "scene": {"camera": camera, "frame_size": size}})


def _frame_size(path: Path | None) -> list[int]:
    image = cv2.imread(str(path)) if path is not None else None
    return [int(image.shape[1]), int(image.shape[0])] if image is not None else [1280, 720]


async def _scene_body(request: Request) -> tuple[dict[str, Any], str | None, object]:
    """The scene, the note and `drawn_on` (the version whose frame it was drawn on) of a request."""
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise HTTPException(400, "expected a JSON body {\"scene\": {...}}") from None
    if not isinstance(body, dict) or not isinstance(body.get("scene"), dict):
        raise HTTPException(400, "expected a JSON body {\"scene\": {...}}")
    note = body.get("note")
    return body["scene"], note if isinstance(note, str) and note.strip() else None, body.get("drawn_on")


@router.post("/scenes/{camera}/check", dependencies=[Depends(require_csrf)])
async def check(request: Request, camera: str, editor: SceneEditor) -> Response:
    """Validate a scene as `trafficcam scene check` does; each problem with its element path."""
    _camera_or_404(request, camera)
    data, _, _ = await _scene_body(request)
    problems = _problems(data, camera)
    return JSONResponse({"ok": not problems, "problems": [p.to_json() for p in problems]})


def _problems(data: dict[str, Any], camera: str) -> list[Any]:
    from pipeline.scenes.validation import SceneProblem

    problems = scene_problems(data)
    if data.get("camera") != camera:
        problems.append(SceneProblem(("camera",), f"must be {camera!r}, the camera being edited"))
    return problems


@router.post("/scenes/{camera}/save", dependencies=[Depends(require_csrf)])
async def save(request: Request, camera: str, editor: SceneEditor) -> Response:
    """Save the scene as the camera's next version (422 with the problems when it is not valid)."""
    _camera_or_404(request, camera)
    data, note, drawn_on_number = await _scene_body(request)
    problems = _problems(data, camera)
    if problems:
        return JSONResponse({"ok": False, "problems": [p.to_json() for p in problems]}, status_code=422)
    drawn_on = _drawn_on(request, camera, drawn_on_number)
    path = _frame_path(request, camera) if drawn_on is None else None
    reference = cv2.imread(str(path)) if path is not None else None
    if drawn_on is not None:
        note = note or f"edited from version {drawn_on.version}"
    try:
        saved = save_scene(database(request), database(request).data_dir, camera, scene_to_yaml(data), editor.name,
                           note=note, reference=reference,
                           reference_path=drawn_on.reference_path if drawn_on else None)  # fmt: skip
        if path == _upload_path(request, camera):
            path.unlink(missing_ok=True)  # it is the version's reference frame now
    except SceneError as exc:  # the YAML round trip must validate too
        return JSONResponse({"ok": False, "problems": [{"path": [], "key": "", "message": e} for e in exc.errors]},
                            status_code=422)  # fmt: skip
    return JSONResponse({"ok": True, "version": saved.version, "sha256": saved.sha256})


def _drawn_on(request: Request, camera: str, number: object) -> SceneVersion | None:
    """The older version the scene was drawn on (the editor opened with ?version=N), whose
    reference frame the new version keeps: its coordinates belong to that view."""
    if number is None:
        return None
    old = get_scene_version(database(request), camera, number) if type(number) is int else None
    if old is None:
        raise HTTPException(400, f"drawn_on: camera {camera!r} has no scene version {str(number)[:20]!r}")
    return old


@router.post("/scenes/{camera}/rollback/{version}", dependencies=[Depends(require_csrf)])
def restore(request: Request, camera: str, version: int, editor: SceneEditor) -> Response:
    """Make an older version current again (as a new version)."""
    _camera_or_404(request, camera)
    try:
        saved = rollback(database(request), database(request).data_dir, camera, version, editor.name)
    except LookupError as exc:
        flash(request, "error", str(exc))
    else:
        flash(request, "ok", f"Version {version} restored as version {saved.version}.")
    return redirect(f"/scenes/{camera}")


@router.post("/scenes/{camera}/upload", dependencies=[Depends(require_csrf)])
async def upload(request: Request, camera: str, editor: SceneEditor, image: UploadFile) -> Response:
    """Draw on an uploaded picture of the view (JPEG or PNG) instead of the daemon's frame."""
    _camera_or_404(request, camera)
    data = await image.read(MAX_UPLOAD_BYTES + 1)
    decoded = None
    if len(data) <= MAX_UPLOAD_BYTES:
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        flash(request, "error", "Not a picture this editor can read: upload a JPEG or PNG under 20 MB.")
        return redirect(f"/scenes/{camera}")
    path = _upload_path(request, camera)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), decoded, [cv2.IMWRITE_JPEG_QUALITY, 95])
    flash(request, "ok", f"Uploaded {decoded.shape[1]}x{decoded.shape[0]} picture; draw on it and save.")
    return redirect(f"/scenes/{camera}")

