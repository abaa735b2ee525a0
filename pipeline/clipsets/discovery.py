"""Find the clips `trafficcam eval` scores, across several `--clips` folders.

A clip is a folder holding `scene.yaml` and `truth.yaml`. Its video (the truth's `video:`) need not
sit beside them: the repository keeps scene and truth for clips whose videos live in `../shared/clips`
and must never be copied in. So the video is looked for, in order,

1. in the clip's own folder (`video:` may be a relative path);
2. in the folder of the same name under every other `--clips` root, in the order given;
3. in the folder of the same name under each folder of `TRAFFICCAM_CLIPS_PATH` (colon-separated).

A clip whose video is found nowhere is skipped with the places tried, so a clone without
`../shared` still evaluates what it can and says why the rest was left out. When two roots hold a
scene and truth for the same clip name, the later root wins (a corrected truth overrides the shared one).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.errors import SourceError

log = logging.getLogger(__name__)

CLIPS_PATH_ENV = "TRAFFICCAM_CLIPS_PATH"


@dataclass(frozen=True)
class EvalClip:
    """One clip to score: where its scene and truth are, and its video or why it has none."""

    name: str
    folder: Path
    video: Path | None
    skip_reason: str | None = None

    @property
    def scene(self) -> Path:
        return self.folder / "scene.yaml"

    @property
    def truth(self) -> Path:
        return self.folder / "truth.yaml"


def _clip_folders(root: Path) -> dict[str, Path]:
    if not root.is_dir():
        raise SourceError(f"{root}: --clips must be a folder of clip folders; it does not exist or is not a folder")
    return {p.parent.name: p.parent for p in sorted(root.glob("*/truth.yaml")) if (p.parent / "scene.yaml").is_file()}


def _video_name(truth: Path) -> str | None:
    """The truth's `video:` entry, read loosely (full validation happens when the clip is scored)."""
    try:
        data = yaml.safe_load(truth.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    video = data.get("video") if isinstance(data, dict) else None
    return video if isinstance(video, str) and video else None


def _search_dirs(name: str, own: Path, roots: Sequence[Path], env: str | None) -> list[Path]:
    extra = [Path(p) for p in (env or "").split(os.pathsep) if p]
    places = [own] + [root / name for root in [*roots, *extra]]
    unique: list[Path] = []
    for place in places:
        if place.resolve() not in {u.resolve() for u in unique}:
            unique.append(place)
    return unique


def _locate(name: str, folder: Path, roots: Sequence[Path], env: str | None) -> EvalClip:
    video = _video_name(folder / "truth.yaml")
    if video is None:  # let scoring report the malformed truth file with every problem
        return EvalClip(name, folder, folder / "truth.yaml")
    tried = _search_dirs(name, folder, roots, env)
    for place in tried:
        if (place / video).is_file():
            return EvalClip(name, folder, place / video)
    where = ", ".join(str(p) for p in tried)
    reason = (
        f"video {video!r} not found in {where}; pass the folder that holds {name}/{video} as another "
        f"--clips, or list it in {CLIPS_PATH_ENV}"
    )
    return EvalClip(name, folder, None, reason)


def discover_clips(roots: Sequence[Path], env: str | None = None) -> list[EvalClip]:
    """Every clip with a scene and truth under `roots`, by name, each with its video or a skip reason.

    Args:
        roots: the `--clips` folders, in the order given (a later one overrides an earlier one's clip).
        env: value of `TRAFFICCAM_CLIPS_PATH` (default: read from the environment).

    Raises:
        SourceError: a root is not a folder, or no root holds a clip folder with scene and truth.
    """
    env = os.environ.get(CLIPS_PATH_ENV) if env is None else env
    found: dict[str, Path] = {}
    for root in roots:
        for name, folder in _clip_folders(root).items():
            if name in found:
                log.info("clip %s: using %s over %s", name, folder, found[name])
            found[name] = folder
    if not found:
        listed = ", ".join(str(r) for r in roots)
        raise SourceError(f"{listed}: no clip folders with both scene.yaml and truth.yaml")
    return [_locate(name, folder, roots, env) for name, folder in sorted(found.items())]
