"""Hostile cameras.yaml and scene files: every one is either loaded or refused with messages.

Hypothesis builds files from a valid skeleton with any field replaced by an odd YAML value
(lists where ids go, huge or non-finite numbers, NUL bytes, nested mappings, missing keys) and
also feeds raw text. The only acceptable outcomes are a loaded config or a `CamerasError` /
`SceneError` whose every error is one non-empty line: never another exception (a traceback).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.daemon.cameras import load_cameras
from pipeline.errors import SceneError

FUZZ = settings(max_examples=90, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**300, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["", " ", "\x00", "cam-1", "../../etc/passwd", "rtsp://u:p@h/s", "0", "-1", "view.yaml",
                     "scenes", "a" * 300, "rtsp://", "http://[::1", "yes"]),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=6), st.integers()),
                                                                           inner, max_size=4)),
    max_leaves=8,
)

CAMERA_KEYS = ["id", "source", "scene", "analysis_fps", "min_fps", "loop", "enabled", "keep_days",
               "rtsp_transport", "options", "rotate"]  # fmt: skip
SCENE_KEYS = ["camera", "frame_size", "signals", "stop_lines", "lanes", "solid_lines", "rules", "detection"]


def valid_camera(i: int) -> dict[str, Any]:
    return {"id": f"cam-{i}", "source": "rtsp://127.0.0.1:8554/s", "scene": "view.yaml"}


def valid_scene() -> dict[str, Any]:
    return {
        "camera": "view-1", "frame_size": [640, 480],
        "signals": [{"id": "main", "box": [10, 10, 30, 60]}],
        "stop_lines": [{"id": "s1", "line": [[0, 300], [640, 300]], "signal": "main"}],
        "lanes": [{"id": "l1", "polygon": [[0, 300], [320, 300], [320, 480]], "direction": [0, -1]}],
    }  # fmt: skip


@st.composite
def hostile_cameras(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(values)  # not even a mapping
    cameras: Any = [valid_camera(i) for i in range(draw(st.integers(0, 3)))]
    for cam in cameras:
        for key in draw(st.lists(st.sampled_from(CAMERA_KEYS), max_size=3)):
            cam[key] = draw(values)
        if draw(st.booleans()):
            cam.pop(draw(st.sampled_from(["id", "source", "scene"])), None)
    if draw(st.integers(0, 5)) == 0:
        cameras = draw(values)
    data: dict[Any, Any] = {"cameras": cameras}
    if draw(st.integers(0, 5)) == 0:
        data[draw(st.text(max_size=5))] = draw(values)
    return data


@st.composite
def hostile_scene(draw: st.DrawFn) -> Any:
    scene = valid_scene()
    for key in draw(st.lists(st.sampled_from(SCENE_KEYS), max_size=3)):
        scene[key] = draw(values)
    for section in ("signals", "stop_lines", "lanes"):
        if draw(st.integers(0, 3)) == 0 and isinstance(scene.get(section), list) and scene[section]:
            item = scene[section][0]
            if isinstance(item, dict):
                item[draw(st.sampled_from(["id", "box", "line", "signal", "polygon", "direction"]))] = draw(values)
    return scene


def assert_loaded_or_refused(cameras_text: str, scene_text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "view.yaml").write_text(scene_text, encoding="utf-8")
        path = folder / "cameras.yaml"
        path.write_text(cameras_text, encoding="utf-8")
        try:
            load_cameras(path)
        except SceneError as exc:  # CamerasError is a SceneError
            assert exc.errors, "refused without saying why"
            for error in exc.errors:
                assert error.strip() and "Traceback" not in error
                assert "\n" not in error, f"an error of more than one line: {error!r}"


def dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True)


@FUZZ
@given(cameras=hostile_cameras())
def test_hostile_cameras_files_are_loaded_or_refused_with_messages(cameras: Any) -> None:
    assert_loaded_or_refused(dump(cameras), dump(valid_scene()))


@FUZZ
@given(scene=hostile_scene())
def test_hostile_scene_files_are_loaded_or_refused_with_messages(scene: Any) -> None:
    assert_loaded_or_refused(dump({"cameras": [valid_camera(1)]}), dump(scene))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(text=st.text(alphabet=st.sampled_from(list("cameras:-id[]{}&*!?|>'\"#\n \t0123456789.\\x")), max_size=80))
def test_any_text_as_cameras_yaml_is_loaded_or_refused_with_messages(text: str) -> None:
    assert_loaded_or_refused(text, dump(valid_scene()))


def test_yaml_oddities_are_refused_with_messages() -> None:
    """Anchors that refer to themselves, complex keys, tags and deep nesting: each one line."""
    for text in [
        "cameras: &a [*a]\n",
        "cameras:\n  - &c {id: x, source: rtsp://h/s, scene: view.yaml, extra: *c}\n",
        "? [a, b]\n: 1\n",
        "cameras: !!python/object:os.system {}\n",
        "cameras:\n  - id: !!binary aGVsbG8=\n    source: rtsp://h/s\n    scene: view.yaml\n",
        "cameras:\n  - id: cam\n    source: rtsp://h/s\n    scene: view.yaml\n    keep_days: 1e400\n",
        "cameras: " + "[" * 200 + "]" * 200 + "\n",
        "\ufeffcameras: []\n",
    ]:
        assert_loaded_or_refused(text, dump(valid_scene()))
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(8)
    )
    for scene_text in ["signals: &s [*s]\nframe_size: [640, 480]\n", laughs, "frame_size: [1e400, .nan]\n"]:
        assert_loaded_or_refused(dump({"cameras": [valid_camera(1)]}), scene_text)
