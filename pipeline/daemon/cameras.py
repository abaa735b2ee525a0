"""`cameras.yaml`: the cameras a `trafficcam watch` daemon reads, validated at the edge.

Same rules as scene files: pydantic with `extra="forbid"`, every error of the file at once,
each with its YAML line and key. Scene paths are relative to `cameras.yaml`; every scene a
camera names is loaded and validated too, and its errors are reported under that camera's
`scene` line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.daemon.streams import describe_source, is_file_source
from pipeline.errors import CamerasError, SceneError
from pipeline.scene import (
    Ident,
    Scene,
    _format,
    _line_of,
    _pydantic_message,
    load_scene,
    read_yaml_with_lines,
    scene_hash,
)
from pipeline.timing.site import check_timezone

DEFAULT_MIN_FPS = 2.0
"""Analysis rate below which a camera is not enforcing: a vehicle crosses a stop line in well
under a second, and the red-light rule needs it seen on both sides."""


Problems = list[tuple[tuple[Any, ...], str]]
FfmpegKey = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,64}$")]
FfmpegValue = Annotated[str, Field(pattern=r"^[^;|\x00]{0,256}$")] | int
"""FFmpeg options reach OpenCV as ``key;value|key;value``: no ';' or '|' inside."""


class CameraConfig(BaseModel):
    """One camera of `cameras.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Ident
    source: str | Annotated[int, Field(ge=0, le=1023)]
    scene: Annotated[str, Field(min_length=1, max_length=4096)]
    analysis_fps: Annotated[float, Field(gt=0, le=120, allow_inf_nan=False)] | None = None
    min_fps: Annotated[float, Field(ge=0, le=120, allow_inf_nan=False)] = DEFAULT_MIN_FPS
    loop: bool = False
    enabled: bool = True
    keep_days: Annotated[float, Field(gt=0, le=36500, allow_inf_nan=False)] | None = None
    rtsp_transport: Literal["tcp", "udp"] | None = None
    """RTSP only: how the RTP packets come: tcp (no loss, passes NAT) or udp; unset, FFmpeg tries
    UDP and falls back to TCP."""
    ffmpeg_options: dict[FfmpegKey, FfmpegValue] = Field(default_factory=dict, max_length=32)
    """More FFmpeg demuxer options for this camera's stream, e.g. {buffer_size: "1048576"}."""
    scene_moved_px: Annotated[float, Field(gt=0, le=10000, allow_inf_nan=False)] = 12.0
    """Stop-line shift, in pixels of the scene's frame size, past which the camera has moved."""
    timezone: str | None = None  # IANA name; overrides the scene's `timezone`

    _check_timezone = field_validator("timezone")(check_timezone)

    @model_validator(mode="after")
    def _loop_only_for_files(self) -> CameraConfig:
        if self.loop and not is_file_source(self.source):
            raise ValueError(
                f"loop: 'loop: true' is only for file sources (testing), not {describe_source(self.source)}"
            )
        if isinstance(self.source, str) and not self.source.strip():
            raise ValueError("source: must not be empty: give a URL, a file path or a device index")
        if isinstance(self.source, str) and ("\x00" in self.source or len(self.source) > 4096):
            raise ValueError("source: expected a URL, a file path or a device index, not a NUL byte or 4 KiB of text")
        if self.rtsp_transport and not (isinstance(self.source, str) and self.source.lower().startswith("rtsp")):
            raise ValueError(f"rtsp_transport: only for rtsp:// sources, not {describe_source(self.source)}")
        if "\x00" in self.scene:
            raise ValueError("scene: a file path cannot hold a NUL byte")
        return self


@dataclass(frozen=True)
class Camera:
    """A validated camera with its loaded scene; `fingerprint` changes when anything that
    matters to its worker changes (a reload restarts only those cameras)."""

    config: CameraConfig
    scene: Scene
    scene_path: Path
    base_dir: Path

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def fingerprint(self) -> str:
        return self.config.model_dump_json() + "|" + scene_hash(self.scene)


@dataclass(frozen=True)
class CamerasConfig:
    path: Path
    cameras: list[Camera]
    notes: list[str]
    """Things worth saying that are not errors (a scene's camera id replaced by the camera's)."""

    @property
    def enabled(self) -> list[Camera]:
        return [c for c in self.cameras if c.config.enabled]


def load_cameras(path: str | Path) -> CamerasConfig:
    """Read and validate `cameras.yaml` and every scene file it names.

    Raises:
        CamerasError: listing every problem, each with its line.
    """
    data, lines = read_yaml_with_lines(path, CamerasError)
    return parse_cameras(data, Path(path), lines)


def parse_cameras(data: Any, path: Path, lines: dict[tuple[Any, ...], int] | None = None) -> CamerasConfig:
    """Validate already-parsed YAML data of the cameras file at `path`.

    Each camera is validated on its own, so one bad entry does not hide the errors of the
    others, and each scene file named is checked even when its camera entry has other errors."""
    lines = lines or {}
    if not isinstance(data, dict):
        got = type(data).__name__
        raise CamerasError(str(path), [f"line 1: (top level): expected a mapping with 'cameras:', got {got}"])
    problems: list[tuple[tuple[Any, ...], str]] = []
    cameras: list[Camera] = []
    notes: list[str] = []
    extra = sorted(set(data) - {"cameras"}, key=str)
    problems += [((key,), f"unknown key {key!r} (the file holds one key, 'cameras')") for key in extra]
    items = data.get("cameras")
    if not isinstance(items, list) or not items:
        problems.append((("cameras",), "expected a list of cameras, each with id, source and scene"))
        items = []
    problems += _duplicate_ids(data)
    for i, item in enumerate(items):
        loc = ("cameras", i)
        cfg = None
        try:
            cfg = CameraConfig.model_validate(item)
        except ValidationError as exc:
            problems += _camera_problems(loc, exc)
        if cfg is not None:
            camera = _load_camera_scene(cfg, path.parent, loc + ("scene",), problems, notes)
            if camera is not None:
                cameras.append(camera)
        elif isinstance(item, dict) and isinstance(item.get("scene"), str) and item["scene"].strip("\x00 "):
            _check_scene_only(item["scene"], path.parent, loc + ("scene",), problems)
    if problems:
        located = sorted(((_line_of(loc, lines), loc, msg) for loc, msg in problems), key=lambda t: t[0])
        raise CamerasError(str(path), [_format(loc, msg, line) for line, loc, msg in located])
    return CamerasConfig(path, cameras, notes)


def _camera_problems(loc: tuple[Any, ...], exc: ValidationError) -> list[tuple[tuple[Any, ...], str]]:
    out: list[tuple[tuple[Any, ...], str]] = []
    for e in exc.errors():
        where = tuple(e["loc"])
        if where and where[0] == "source":
            where = ("source",)  # pydantic reports a bad source once per union member
            msg = f"expected a URL (rtsp://, http://, https://), a file path or a device index >= 0, got {e['input']!r}"
        elif not where:  # cross-field checks name their key first ("loop: ...")
            msg = e["msg"].replace("Value error, ", "")
            key, sep, rest = msg.partition(": ")
            if sep and key in CameraConfig.model_fields:
                where, msg = (key,), rest
        else:
            msg = _pydantic_message(e)
        if (loc + where, msg) not in out:
            out.append((loc + where, msg))
    return out


def _check_scene_only(scene: str, base: Path, loc: tuple[Any, ...], problems: Problems) -> None:
    scene_path = Path(scene) if Path(scene).is_absolute() else base / scene
    try:
        load_scene(scene_path)
    except SceneError as exc:
        problems.append((loc, f"scene file {scene_path}: " + "; ".join(exc.errors)))


def _duplicate_ids(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    items = data.get("cameras")
    if not isinstance(items, list):
        return []
    seen: set[str] = set()
    errors = []
    for i, item in enumerate(items):
        # only text ids can clash; any other id (a list, a number) gets its own type error
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            if item["id"] in seen:
                errors.append((("cameras", i, "id"), f"duplicate camera id {item['id']!r}: ids must be unique"))
            seen.add(item["id"])
    return errors


def _load_camera_scene(
    cfg: CameraConfig, base: Path, loc: tuple[Any, ...], problems: list[tuple[tuple[Any, ...], str]], notes: list[str]
) -> Camera | None:
    scene_path = Path(cfg.scene)
    if not scene_path.is_absolute():
        scene_path = base / scene_path
    try:
        scene = load_scene(scene_path)
    except SceneError as exc:
        detail = "; ".join(exc.errors)
        problems.append((loc, f"scene file {scene_path}: {detail}"))
        return None
    if scene.camera != cfg.id:
        notes.append(f"camera {cfg.id}: scene {scene_path.name} says camera {scene.camera!r}; records use {cfg.id!r}")
        scene = scene.model_copy(update={"camera": cfg.id})
    if cfg.timezone is not None:
        scene = scene.model_copy(update={"timezone": cfg.timezone})
    if cfg.source and is_file_source(cfg.source) and not _file_exists(cfg.source, base):
        problems.append((loc[:-1] + ("source",), f"no such file {cfg.source!r} (relative paths start at {base})"))
        return None
    return Camera(cfg, scene, scene_path, base)


def _file_exists(source: str | int, base: Path) -> bool:
    p = Path(str(source))
    try:
        return (p if p.is_absolute() else base / p).is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return False
