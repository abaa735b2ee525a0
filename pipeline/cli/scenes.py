"""`trafficcam scene versions | show | save | rollback | reference`: saved scene versions.

`register(scene_app)` adds these to the `scene` group (`pipeline/cli/main.py` calls it). The web
editor saves through the same functions (`pipeline.scenes.versions`).
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipeline.cli.common import DataDirOpt, DbOpt, _fail, console
from pipeline.errors import TrafficcamError

AuthorOpt = Annotated[str, typer.Option("--author", help="Who saves (default: your login name).")]


def register(scene_app: typer.Typer) -> None:
    """Add the version commands to the `scene` group."""
    scene_app.command("versions")(versions)
    scene_app.command("show")(show)
    scene_app.command("save")(save)
    scene_app.command("rollback")(rollback)
    scene_app.command("reference")(reference)


def _author(author: str | None) -> str:
    return author or getpass.getuser()


def versions(
    camera: Annotated[str, typer.Argument(help="Camera id.")],
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """List the saved versions of a camera's scene, newest first."""
    from pipeline.store.db import open_database
    from pipeline.store.scene_versions import list_scene_versions

    try:
        with open_database(db, data_dir) as database:
            rows = list_scene_versions(database, camera)
    except TrafficcamError as exc:
        raise _fail(exc) from None
    if not rows:
        console.print(f"camera {camera}: no saved scene versions")
        raise typer.Exit(1)
    table = Table(title=f"Scene versions of {camera}")
    for col in ("version", "saved (UTC)", "by", "hash", "reference", "note"):
        table.add_column(col, overflow="fold")
    for v in rows:
        table.add_row(str(v.version), v.created_at.strftime("%Y-%m-%d %H:%M:%S"), v.author, v.sha256[:12],
                      "yes" if v.reference_path else "no", v.note or "")  # fmt: skip
    console.print(table)


def show(
    camera: Annotated[str, typer.Argument(help="Camera id.")],
    version: Annotated[int | None, typer.Argument(help="Version (default: the newest).")] = None,
    diff: Annotated[bool, typer.Option("--diff", help="Show the change from the version before.")] = False,
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """Print a saved version's YAML (or its diff from the version before)."""
    from pipeline.scenes.versions import diff_versions
    from pipeline.store.db import open_database
    from pipeline.store.scene_versions import get_scene_version

    try:
        with open_database(db, data_dir) as database:
            v = get_scene_version(database, camera, version)
            before = get_scene_version(database, camera, v.version - 1) if v and v.version > 1 else None
    except TrafficcamError as exc:
        raise _fail(exc) from None
    if v is None:
        raise _fail(LookupError(f"camera {camera!r} has no scene version {version or ''}".rstrip()))
    console.print(diff_versions(before, v) if diff else v.yaml_text, end="", highlight=False, markup=False)


def save(
    file: Annotated[Path, typer.Argument(help="Scene YAML file to save as the camera's next version.")],
    video: Annotated[Path | None, typer.Option("--video", help="Video or image the scene was drawn on.")] = None,
    at: Annotated[float, typer.Option("--at", help="Seconds into the video.")] = 0.0,
    note: Annotated[str | None, typer.Option("--note", help="Why it changed.")] = None,
    author: AuthorOpt = "",
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """Save a scene file as a new version of its camera (a running `watch` picks it up)."""
    from pipeline.draw import read_frame
    from pipeline.scenes.validation import parse_scene_text
    from pipeline.scenes.versions import save_scene
    from pipeline.store.db import open_database

    try:
        text = file.read_text(encoding="utf-8")
        scene = parse_scene_text(text, str(file))
        frame = read_frame(video, at) if video is not None else None
        with open_database(db, data_dir) as database:
            v = save_scene(database, data_dir, scene.camera, text, _author(author), note=note, reference=frame)
    except OSError as exc:
        raise _fail(TrafficcamError(f"cannot read {file}: {exc.strerror or exc}")) from None
    except TrafficcamError as exc:
        raise _fail(exc) from None
    console.print(f"saved {scene.camera} version {v.version} ({v.sha256[:12]})", highlight=False)


def rollback(
    camera: Annotated[str, typer.Argument(help="Camera id.")],
    version: Annotated[int, typer.Argument(help="Version to make current again.")],
    author: AuthorOpt = "",
    data_dir: DataDirOpt = Path("trafficcam-data"),
    db: DbOpt = None,
) -> None:
    """Make an older version the camera's scene again (saved as a new version)."""
    from pipeline.scenes.versions import rollback as do_rollback
    from pipeline.store.db import open_database

    try:
        with open_database(db, data_dir) as database:
            v = do_rollback(database, data_dir, camera, version, _author(author))
    except LookupError as exc:
        raise _fail(exc) from None
    except TrafficcamError as exc:
        raise _fail(exc) from None
    console.print(f"{camera}: version {v.version} saved, repeating version {version}", highlight=False)


def reference(
    file: Annotated[Path, typer.Argument(help="Scene YAML file.")],
    video: Annotated[Path, typer.Option("--video", help="Video or image showing the view the scene was drawn on.")],
    at: Annotated[float, typer.Option("--at", help="Seconds into the video.")] = 0.0,
) -> None:
    """Write the scene's reference frame beside it (`<stem>.reference.jpg`) for the camera-moved guard."""
    from pipeline.draw import read_frame
    from pipeline.scene import load_scene
    from pipeline.scenes.guard import reference_path, write_reference

    try:
        load_scene(file)
        frame = read_frame(video, at)
        out = reference_path(file)
        write_reference(out, frame)
    except TrafficcamError as exc:
        raise _fail(exc) from None
    console.print(f"wrote {out}")
