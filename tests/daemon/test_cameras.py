"""cameras.yaml: what `watch` and `cameras check` accept, and how they report what they do not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.cli.watch import register
from pipeline.daemon.cameras import CamerasError, load_cameras
from tests.conftest import need_shared

MINIMAL_SCENE = "camera: view-1\nframe_size: [640, 480]\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "view.yaml").write_text(MINIMAL_SCENE)
    return tmp_path


def write(folder: Path, text: str) -> Path:
    path = folder / "cameras.yaml"
    path.write_text(text)
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(CamerasError) as exc:
        load_cameras(path)
    return exc.value.errors


def test_a_minimal_file_loads_with_scene_paths_relative_to_it(folder):
    path = write(folder, "cameras:\n  - id: cam-1\n    source: rtsp://cam.example/s1\n    scene: scenes/view.yaml\n")
    config = load_cameras(path)
    (camera,) = config.enabled
    assert camera.scene_path == folder / "scenes" / "view.yaml"
    assert camera.config.analysis_fps is None and camera.config.enabled and not camera.config.loop
    # records carry the camera's id; the scene's own id is replaced, and the operator told
    assert camera.scene.camera == "cam-1"
    assert any("view-1" in note for note in config.notes)


def test_device_index_and_looped_file_sources(folder):
    (folder / "clip.mp4").write_bytes(b"")
    path = write(
        folder,
        "cameras:\n  - id: usb\n    source: 0\n    scene: scenes/view.yaml\n"
        "  - id: test\n    source: clip.mp4\n    loop: true\n    scene: scenes/view.yaml\n    enabled: false\n",
    )
    config = load_cameras(path)
    assert [c.config.source for c in config.cameras] == [0, "clip.mp4"]
    assert [c.id for c in config.enabled] == ["usb"]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        # a typo in a key
        ("    analysis_fsp: 5\n", "line 5: cameras[0].analysis_fsp: unknown key 'analysis_fsp'"),
        # a rate that cannot be
        ("    analysis_fps: 0\n", "line 5: cameras[0].analysis_fps:"),
        # looping a live stream makes no sense
        ("    loop: true\n", "line 5: cameras[0].loop: 'loop: true' is only for file sources"),
    ],
)
def test_each_error_names_its_line_and_key(folder, entry, expected):
    path = write(folder, "cameras:\n  - id: cam-1\n    source: rtsp://cam/s\n    scene: scenes/view.yaml\n" + entry)
    (error,) = errors_of(path)
    assert error.startswith(expected), error


def test_every_error_of_every_camera_at_once(folder):
    path = write(
        folder,
        "cameras:\n"
        "  - id: cam 1\n    source: [1]\n    scene: missing.yaml\n"
        "  - id: cam-2\n    source: rtsp://user:secret@cam/s\n    scene: scenes/view.yaml\n"
        "  - id: cam-2\n    source: rtsp://cam/s\n    scene: scenes/view.yaml\n",
    )
    errors = errors_of(path)
    assert errors[0].startswith("line 2: cameras[0].id: an id may use only")
    assert errors[1].startswith("line 3: cameras[0].source: expected a URL")
    assert errors[2].startswith("line 4: cameras[0].scene: scene file") and "file not found" in errors[2]
    assert errors[3].startswith("line 8: cameras[2].id: duplicate camera id 'cam-2'")
    assert len(errors) == 4


def test_errors_inside_a_scene_are_reported_at_the_camera_that_names_it(folder):
    (folder / "scenes" / "bad.yaml").write_text("camera: v\nframe_size: [640, 480]\nsignalz: []\n")
    path = write(folder, "cameras:\n  - id: cam-1\n    source: rtsp://cam/s\n    scene: scenes/bad.yaml\n")
    (error,) = errors_of(path)
    assert error.startswith("line 4: cameras[0].scene: scene file") and "line 3: signalz: unknown key" in error


def test_a_list_as_an_id_is_one_clear_line_per_camera_not_a_type_error(folder):
    entry = "  - id: [not, an, id]\n    source: rtsp://cam/s\n    scene: scenes/view.yaml\n"
    errors = errors_of(write(folder, "cameras:\n" + entry + entry))
    assert [e.split(":", 2)[:2] for e in errors] == [["line 2", " cameras[0].id"], ["line 5", " cameras[1].id"]]
    assert all("\n" not in e and "['not', 'an', 'id']" in e for e in errors)


def test_values_no_camera_can_have_are_refused(folder):
    head = "cameras:\n  - id: cam-1\n    source: rtsp://cam/s\n    scene: scenes/view.yaml\n"
    for entry in ["    keep_days: .inf\n", "    min_fps: .nan\n", "    analysis_fps: 1e400\n"]:
        (error,) = errors_of(write(folder, head + entry))
        assert error.startswith("line 5: cameras[0]."), error
    (error,) = errors_of(write(folder, 'cameras:\n  - id: cam-1\n    source: "a\\0b"\n    scene: scenes/view.yaml\n'))
    assert error.startswith("line 3: cameras[0].source:"), error


def test_empty_and_unknown_top_level(folder):
    errors = errors_of(write(folder, "cameras: []\nwatchers: 2\n"))
    assert errors == [
        "line 1: cameras: expected a list of cameras, each with id, source and scene",
        "line 2: watchers: unknown key 'watchers' (the file holds one key, 'cameras')",
    ]


def test_cameras_check_command(folder):
    cli = typer.Typer()
    cli.command("scene-placeholder")(lambda: None)
    register(cli)
    runner = CliRunner()
    good = write(folder, "cameras:\n  - id: cam-1\n    source: rtsp://u:pw@cam/s\n    scene: scenes/view.yaml\n")
    result = runner.invoke(cli, ["cameras", "check", str(good)])
    assert result.exit_code == 0, result.output
    assert "ok cam-1: rtsp://u:***@cam/s" in result.output and "pw" not in result.output.replace("pw@", "")

    bad = write(folder, "cameras:\n  - id: cam-1\n    source: rtsp://cam/s\n    scene: nope.yaml\n")
    result = runner.invoke(cli, ["cameras", "check", str(bad)])
    assert result.exit_code == 2
    assert "line 4: cameras[0].scene" in result.output

    typo = write(folder, "cameras:\n  - id: [not, an, id]\n    source: rtsp://cam/s\n    scene: scenes/view.yaml\n")
    result = runner.invoke(cli, ["cameras", "check", str(typo)])
    assert result.exit_code == 2 and result.exception is None or isinstance(result.exception, SystemExit)
    assert "line 2: cameras[0].id" in result.output and "Traceback" not in result.output


def test_registers_on_the_main_app():
    register(app)
    names = {c.name for c in app.registered_commands}
    assert "watch" in names and "cameras" in {g.name for g in app.registered_groups}


def test_the_shared_cameras_scene_loads(tmp_path):
    scene = need_shared("clips", "hanoi_ltk_hangbai", "scene.yaml")
    path = tmp_path / "cameras.yaml"
    path.write_text(f"cameras:\n  - id: hanoi-ltk-hangbai\n    source: rtsp://cam/s\n    scene: {scene}\n")
    assert load_cameras(path).cameras[0].scene.signals


def test_cameras_reload_sends_sighup(tmp_path):
    flag = tmp_path / "got-hup"
    code = (
        "import signal, sys, time, pathlib\n"
        f"signal.signal(signal.SIGHUP, lambda *a: pathlib.Path({str(flag)!r}).write_text('1'))\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout and proc.stdout.readline().strip() == "ready"
        pid_file = tmp_path / "watch.pid"
        pid_file.write_text(f"{proc.pid}\n")
        cli = typer.Typer()
        cli.command("x")(lambda: None)
        register(cli)
        result = CliRunner().invoke(cli, ["cameras", "reload", "--pid-file", str(pid_file)])
        assert result.exit_code == 0, result.output
        deadline = time.monotonic() + 5
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert flag.exists()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def test_cameras_reload_without_a_daemon_says_so(tmp_path):
    cli = typer.Typer()
    cli.command("x")(lambda: None)
    register(cli)
    result = CliRunner().invoke(cli, ["cameras", "reload", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "no pid file" in result.output
