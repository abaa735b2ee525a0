from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from pipeline.errors import SceneError
from pipeline.scene import load_scene, parse_scene, scene_hash
from tests.conftest import SHARED

MINIMAL = {
    "camera": "junction-1",
    "frame_size": [640, 480],
    "signals": [{"id": "main", "box": [548, 178, 570, 226]}],
    "stop_lines": [{"id": "southbound", "line": [[0, 330], [560, 330]], "approach": [0, -1], "signal": "main"}],
    "lanes": [{"id": "sb-1", "polygon": [[100, 479], [300, 479], [320, 200], [250, 200]], "direction": [0, -1],
               "allowed": ["car", "bus", "truck"]}],
    "solid_lines": [{"id": "centre", "line": [[180, 479], [330, 210]]}],
    "rules": {"red_light": {"grace_s": 0.5, "violate_on": ["red"]}, "solid_line": {"min_frames": 3}},
}


def errors_of(data: dict, tmp_path: Path) -> list[str]:
    path = tmp_path / "scene.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(SceneError) as info:
        load_scene(path)
    return info.value.errors


def test_minimal_scene_loads(tmp_path):
    path = tmp_path / "scene.yaml"
    path.write_text(yaml.safe_dump(MINIMAL))
    scene = load_scene(path)
    assert scene.stop_lines[0].signal == "main"
    assert scene.rules.red_light.grace_s == 0.5
    assert scene.rules.wrong_way.min_travel_px == 60  # default from code


@pytest.mark.parametrize("clip", sorted(p.parent.name for p in SHARED.glob("clips/*/scene.yaml")) or ["none"])
def test_shared_scene_files_load_unchanged(clip):
    path = SHARED / "clips" / clip / "scene.yaml"
    if not path.exists():
        pytest.skip(f"needs {path}")
    scene = load_scene(path)
    assert scene.camera and scene.frame_size[0] > 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # unknown key
        (lambda d: d["signals"][0].update(colour="red"), r"signals\[0\]\.colour: unknown key 'colour'"),
        # wrong type
        (lambda d: d.update(frame_size="640x480"), r"frame_size: expected a list"),
        # a line with one point
        (lambda d: d["stop_lines"][0].update(line=[[0, 330]]), r"stop_lines\[0\]\.line: a line needs at least 2"),
        # stop line names a signal that does not exist
        (lambda d: d["stop_lines"][0].update(signal="north"), r"names signal 'north', which does not exist"),
        # coordinates outside frame_size
        (lambda d: d["solid_lines"][0].update(line=[[180, 479], [700, 210]]), r"\[700, 210\] lies outside frame_size"),
        # missing required key
        (lambda d: d.pop("camera"), r"camera: required key is missing"),
        # zero approach vector
        (lambda d: d["stop_lines"][0].update(approach=[0, 0]), r"must not be \[0, 0\]"),
        # unknown vehicle class in a lane
        (lambda d: d["lanes"][0].update(allowed=["car", "tank"]), r"expected one of car, motorcycle"),
        # unknown rule
        (lambda d: d["rules"].update(speeding={}), r"rules\.speeding: unknown key"),
        # duplicate ids
        (lambda d: d["signals"].append({"id": "main", "box": [1, 1, 5, 5]}), r"duplicate id 'main'"),
        # detection region that is neither keyword
        (lambda d: d.update(detection={"region": "lanes"}), r"detection\.region: .*'frame' or 'roi', or a box"),
        # a drawn detection region upside down, or partly outside the frame
        (lambda d: d.update(detection={"region": [300, 200, 100, 400]}), r"detection\.region: .*x1 < x2"),
        (lambda d: d.update(detection={"region": [0, 200, 700, 400]}), r"detection\.region\[1\]: .*\[700, 400\] lies"),
        # the clock box outside the frame
        (lambda d: d.update(osd_clock={"box": [600, 0, 660, 18]}), r"osd_clock\.box\[1\]: .*\[660, 18\] lies outside"),
        # tiles out of range
        (lambda d: d.update(detection={"tiles": [2, 12]}), r"detection\.tiles\[1\]: .*less than or equal to 8"),
        # a misspelt detection key
        (lambda d: d.update(detection={"tile": [2, 2]}), r"detection\.tile: unknown key"),
        # a region of interest with nothing to bound it
        (lambda d: [d.pop(k) for k in ("signals", "stop_lines", "lanes", "solid_lines")]
         and d.update(detection={"region": "roi"}), r"detection\.region: region 'roi' is the bounding box"),
    ],
)
def test_each_error_names_line_key_and_expectation(tmp_path, change, expected):
    data = copy.deepcopy(MINIMAL)
    change(data)
    errs = errors_of(data, tmp_path)
    assert any(__import__("re").search(expected, e) for e in errs), errs
    assert all(e.startswith("line ") for e in errs)


def test_every_error_is_reported_at_once_with_its_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "camera: cam\n"
        "frame_size: [640, 480]\n"
        "signals:\n"
        "  - id: main\n"
        "    box: [1, 2, 3, 4]\n"
        "    colour: red\n"  # line 6
        "stop_lines:\n"
        "  - id: s\n"
        "    line: [[0, 1]]\n"  # line 9
        "    approach: [0, -1]\n"
        "    signal: nope\n"  # line 11
    )
    with pytest.raises(SceneError) as info:
        load_scene(path)
    errs = info.value.errors
    assert [e.split(":")[0] for e in errs] == ["line 6", "line 9", "line 11"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("camera: [unclosed\n", "not valid YAML"), ("- just\n- a list\n", "expected a mapping")],
)
def test_not_a_scene(tmp_path, text, expected):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(SceneError, match=expected):
        load_scene(path)


def test_missing_file():
    with pytest.raises(SceneError, match="file not found"):
        load_scene("/nonexistent/scene.yaml")


def test_scaled_to_scales_every_coordinate():
    scene = parse_scene(MINIMAL).scaled_to(1280, 960)
    assert scene.frame_size == (1280, 960)
    assert scene.stop_lines[0].line[1] == (1120, 660)
    assert scene.signals[0].box == (1096, 356, 1140, 452)
    assert scene.lanes[0].polygon[2] == (640, 400)


def test_scene_hash_ignores_formatting_but_not_content():
    a = parse_scene(MINIMAL)
    b = parse_scene(copy.deepcopy(MINIMAL))
    changed = copy.deepcopy(MINIMAL)
    changed["stop_lines"][0]["line"][0] = [0, 331]
    assert scene_hash(a) == scene_hash(b) != scene_hash(parse_scene(changed))


def test_detection_defaults_to_the_whole_frame_and_keeps_old_hashes():
    scene = parse_scene(MINIMAL)
    assert scene.detection_windows() is None
    with_default = parse_scene({**MINIMAL, "detection": {"region": "frame", "tiles": [1, 1]}})
    assert scene_hash(with_default) == scene_hash(scene)
    assert scene_hash(parse_scene({**MINIMAL, "detection": {"tiles": [2, 2]}})) != scene_hash(scene)


def test_detection_region_and_tiles_give_windows_inside_the_frame():
    roi = parse_scene({**MINIMAL, "detection": {"region": "roi", "margin": 0.05}})
    ((x1, y1, x2, y2),) = roi.detection_windows()
    # lines, lanes and signals span x 0..570, y 178..479; 5% of 640 x 480 around them
    assert (x1, y1, x2, y2) == (0, 154, 602, 480)
    tiled = parse_scene({**MINIMAL, "detection": {"tiles": [2, 2], "whole_region": True}}).detection_windows()
    assert tiled[0] == (0, 0, 640, 480) and len(tiled) == 5
    assert all(0 <= a < c <= 640 and 0 <= b < d <= 480 for a, b, c, d in tiled)
    drawn = parse_scene({**MINIMAL, "detection": {"region": [100.4, 150, 500, 479.5], "tiles": [2, 1]}})
    windows = drawn.detection_windows()
    assert min(w[0] for w in windows) == 100 and max(w[2] for w in windows) == 500
    assert min(w[1] for w in windows) == 150 and max(w[3] for w in windows) == 480
    assert drawn.scaled_to(1280, 960).detection.region == (200.8, 300, 1000, 959)


def test_a_drawn_detection_region_alone_detects_only_there():
    box = parse_scene({**MINIMAL, "detection": {"region": [10, 20, 300, 200]}})
    assert box.detection_windows() == [(10, 20, 300, 200)]


def test_stop_line_clear_trigger_and_movements():
    data = copy.deepcopy(MINIMAL)
    data["signals"].append({"id": "right_arrow", "box": [575, 178, 590, 200]})
    data["stop_lines"][0].update(clear_line=[[0, 280], [560, 280]], clear_distance=40,
                                 movements={"right": "right_arrow"})
    line = parse_scene(data).stop_lines[0]
    assert (line.head_for("right"), line.head_for("straight"), line.head_for(None)) == ("right_arrow", "main", "main")
    assert line.heads == ["main", "right_arrow"]
    scaled = parse_scene(data).scaled_to(1280, 960).stop_lines[0]
    assert scaled.clear_line == [(0, 560), (1120, 560)] and scaled.clear_distance == 80  # along the approach (y)
    assert parse_scene(MINIMAL).rules.stop_line_overrun.enabled is False


def test_movement_heads_must_exist_and_movements_be_known(tmp_path):
    data = copy.deepcopy(MINIMAL)
    data["stop_lines"][0]["movements"] = {"right": "nope", "sideways": "main"}
    errors = errors_of(data, tmp_path)
    assert any("movements.right: names signal 'nope', which does not exist" in e for e in errors), errors
    assert any("movements.sideways" in e for e in errors), errors


def test_scene_draw_shows_the_detection_region_and_the_clock_box():
    import numpy as np

    from pipeline.draw import draw_calibration

    blank = np.zeros((480, 640, 3), np.uint8)
    assert (draw_calibration(blank, parse_scene(MINIMAL)) == 0).all()  # neither set: nothing drawn
    scene = parse_scene({**MINIMAL, "detection": {"region": [100, 150, 500, 400]},
                         "osd_clock": {"box": [240, 0, 400, 18]}})  # fmt: skip
    out = draw_calibration(blank, scene)
    assert tuple(out[300, 100]) == (89, 199, 52) and tuple(out[300, 499]) == (89, 199, 52)  # region's sides
    assert tuple(out[10, 240]) == (242, 90, 191)  # the clock box's left side
    assert (out[300, 300] == 0).all()  # inside is left alone
    roi = draw_calibration(blank, parse_scene({**MINIMAL, "detection": {"region": "roi", "margin": 0.05}}))
    assert tuple(roi[300, 0]) == (89, 199, 52)  # roi: the elements' box (x from 0) is drawn


def test_an_arrow_head_controls_only_its_own_movement(tmp_path):
    data = copy.deepcopy(MINIMAL)
    data["signals"].append({"id": "right_arrow", "box": [575, 178, 590, 200], "arrow": "right"})
    data["stop_lines"][0]["movements"] = {"right": "right_arrow"}
    scene = parse_scene(data)
    assert scene.signals[1].arrow == "right" and scene.signals[0].arrow is None
    assert scene.scaled_to(1280, 960).signals[1].arrow == "right"
    data["stop_lines"][0]["movements"] = {"left": "right_arrow"}  # a right arrow cannot let left turns go
    errors = errors_of(data, tmp_path)
    assert any("movements.left: signal 'right_arrow' shows a 'right' arrow" in e for e in errors), errors
    data["stop_lines"][0].update(signal="right_arrow", movements={})  # nor be the whole line's signal
    assert any("stop_lines[0].signal: signal 'right_arrow' shows a 'right' arrow" in e
               for e in errors_of(data, tmp_path)), errors_of(data, tmp_path)
    data["signals"][1]["arrow"] = "up"
    assert any("arrow" in e for e in errors_of(data, tmp_path))


def test_the_documented_example_scene_loads():
    # docs/SCENE.md's example must stay a scene the code accepts (an arrow head among its signals)
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "SCENE.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert example is not None
    scene = parse_scene(yaml.safe_load(example.group(1)))
    assert [s.arrow for s in scene.signals] == [None, "right"]
