"""The scene's site keys: validated like the rest, and left out of the scene's hash."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.errors import SceneError
from pipeline.scene import parse_scene, scene_hash

BASE: dict[str, Any] = {"camera": "c", "frame_size": [640, 480]}


def test_site_keys_load_and_leave_the_hash_alone() -> None:
    site = {
        "timezone": "Asia/Ho_Chi_Minh",
        "location": {"address": "Hang Bai, Ha Noi", "gps": [21.0245, 105.853], "direction": "northbound"},
        "offence_codes": {"red_light": "ND100-5.5.a"},
        "osd_clock": {"box": [240, 0, 400, 18], "format": "%d/%m/%Y %H:%M:%S"},
    }
    scene = parse_scene({**BASE, **site})
    assert scene.timezone == "Asia/Ho_Chi_Minh" and scene.location is not None and scene.osd_clock is not None
    assert scene_hash(scene) == scene_hash(parse_scene(BASE))
    assert scene.scaled_to(1280, 960).osd_clock.box == (480, 0, 800, 36)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"timezone": "Hanoi/Vietnam"}, "unknown time zone 'Hanoi/Vietnam'"),
        ({"osd_clock": {"box": [240, 0, 400, 18], "format": "%H:%M:%S"}}, "must hold %d, %m, %Y"),
        ({"location": {"gps": [121.0, 105.0]}}, "location.gps"),
        ({"location": {"street": "x"}}, "unknown key 'street'"),
    ],
)
def test_bad_site_keys_are_named(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(SceneError) as err:
        parse_scene({**BASE, **extra})
    assert message in str(err.value)
