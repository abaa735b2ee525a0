"""Scene validation for the editor: the same checks as `trafficcam scene check`, as data.

`trafficcam scene check` prints "line N: key: message"; the editor needs the element path
(`stop_lines[0].signal`) to show the message beside the element. Both come from the pydantic
model and the cross-field checks of `pipeline.scene`, so a scene the editor accepts is one
`scene check` accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline.errors import SceneError
from pipeline.scene import Scene, _line_index, _pydantic_message, _semantic_errors, parse_scene


@dataclass(frozen=True)
class SceneProblem:
    """One thing wrong with a scene: where (a key path such as ("stop_lines", 0, "signal")) and what."""

    path: tuple[str | int, ...]
    message: str

    @property
    def key(self) -> str:
        """The path as `stop_lines[0].signal`, the way `scene check` names keys."""
        return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path).lstrip(".") or "(top level)"

    def to_json(self) -> dict[str, Any]:
        return {"path": list(self.path), "key": self.key, "message": self.message}


def scene_problems(data: Any) -> list[SceneProblem]:
    """Every problem of already-parsed scene data (empty when it is a valid scene)."""
    if not isinstance(data, dict):
        return [SceneProblem((), f"expected a mapping of scene keys, got {type(data).__name__}")]
    found: list[tuple[tuple[Any, ...], str]] = []
    try:
        Scene.model_validate(data)
    except ValidationError as exc:
        found += [(tuple(e["loc"]), _pydantic_message(e)) for e in exc.errors()]
    found += _semantic_errors(data)
    out: list[SceneProblem] = []
    for loc, message in found:
        problem = SceneProblem(tuple(p if isinstance(p, int) else str(p) for p in loc), message)
        if problem not in out:
            out.append(problem)
    return out


def parse_scene_text(text: str, name: str = "<scene>") -> Scene:
    """Validate YAML text as `trafficcam scene check` validates a file (line numbers included).

    Raises:
        SceneError: not YAML, or not a valid scene; every problem listed.
    """
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "line ?"
        raise SceneError(name, [f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    return parse_scene(data, name, _line_index(node) if node is not None else {})


def scene_to_yaml(data: dict[str, Any]) -> str:
    """The documented YAML layout: top-level keys in the order of docs/SCENE.md, each element on
    few lines (points inline), so a saved scene reads like a hand-written one and diffs cleanly."""
    order = ["camera", "frame_size", "signals", "stop_lines", "lanes", "solid_lines", "rules", "detection"]
    keys = [k for k in order if k in data] + [k for k in data if k not in order]
    chunks = []
    for key in keys:
        value = data[key]
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines = [f"{key}:"]
            for item in value:
                first = True
                for k, v in item.items():
                    lead = "  - " if first else "    "
                    lines.append(f"{lead}{k}: {_flow(v)}")
                    first = False
            chunks.append("\n".join(lines))
        elif isinstance(value, dict):
            body = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=None, width=100)
            chunks.append(body.rstrip("\n"))
        else:
            chunks.append(f"{key}: {_flow(value)}")
    return "\n".join(chunks) + "\n"


def _flow(value: Any) -> str:
    """One value in YAML flow style on one line (`[[0, 330], [560, 330]]`, `main`, `null`)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("...").strip()
