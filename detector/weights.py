"""Which detector weights to use: the manifest in models/, names, paths and the environment."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from detector.hashing import sha256_file

# Used only when the manifest names no default (`default:`) and nothing else is given.
FALLBACK_WEIGHTS = "yolov8n.pt"
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


class WeightsError(Exception):
    """Weights that cannot be found or loaded; the message lists what the user can do."""


class Member(BaseModel):
    """One model of a fused entry, and the confidence its boxes need to be used."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    min_conf: float = Field(default=0.0, ge=0.0, lt=1.0)


class ManifestEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    file: str = ""  # empty for a fused entry, whose members are files
    sha256: str | None = None
    bytes: int | None = None
    imgsz: int
    format: str = "pytorch"
    source: str
    licence: str
    classes: dict[str, str | None] = {}
    notes: str = ""
    training: dict[str, object] | None = None
    scores: dict[str, object] | None = None
    # Non-maximum suppression IoU these weights are run with (None: detector.yolo.NMS_IOU); a
    # model that leaves second boxes on one object runs better lower (MODELS.md).
    nms_iou: float | None = Field(default=None, gt=0.0, le=1.0)
    # A fused entry runs these models on each frame and fuses their boxes (detector/fusion.py).
    members: list[Member] | None = None


@dataclass(frozen=True)
class ResolvedWeights:
    """A weights file on disk (or an ultralytics asset name to download) and what we know of it;
    for a fused entry, its resolved members with the confidence each member's boxes need."""

    name: str
    path: str
    entry: ManifestEntry | None = None
    class_overrides: dict[str, str | None] = field(default_factory=dict)
    members: tuple[tuple[ResolvedWeights, float], ...] = ()

    @property
    def imgsz(self) -> int | None:
        """The input size the weights were made for: the manifest's, else a static ONNX export's."""
        if self.entry:
            return self.entry.imgsz
        return onnx_imgsz(self.path) if self.path.endswith(".onnx") else None

    @property
    def nms_iou(self) -> float | None:
        """The manifest's non-maximum suppression IoU for these weights, if it sets one."""
        return self.entry.nms_iou if self.entry else None

    def sha256(self) -> str | None:
        if self.members:  # a fused entry: its members' files and thresholds
            hashes = [m.sha256() for m, _ in self.members]
            if not all(hashes):
                return None
            parts = [f"{h}:{conf}" for h, (_, conf) in zip(hashes, self.members, strict=True)]
            return hashlib.sha256("|".join(parts).encode()).hexdigest()
        return sha256_file(self.path) if Path(self.path).is_file() else None


def onnx_imgsz(path: str | Path) -> int | None:
    """The square input size of a static ONNX export (its `images` input), None when dynamic or unreadable."""
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        dims = model.graph.input[0].type.tensor_type.shape.dim
        sizes = {d.dim_value for d in dims[2:]}
    except Exception:  # noqa: BLE001 - not an ONNX file we can read: the caller decides the size
        return None
    return sizes.pop() if len(sizes) == 1 and 0 not in sizes else None


def models_dir() -> Path:
    return Path(os.environ.get("TRAFFICCAM_MODELS_DIR", MODELS_DIR))


def _read_manifest(path: Path | None) -> dict:
    path = path or models_dir() / "manifest.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as exc:
        raise WeightsError(f"weights manifest {path} is malformed: {exc}") from None
    if not isinstance(data, dict):
        raise WeightsError(f"weights manifest {path} is malformed: expected a mapping with `models:`")
    return data


def load_manifest(path: Path | None = None) -> list[ManifestEntry]:
    try:
        return [ManifestEntry.model_validate(m) for m in _read_manifest(path).get("models", [])]
    except (ValidationError, AttributeError, TypeError) as exc:
        raise WeightsError(f"weights manifest {path or models_dir() / 'manifest.yaml'} is malformed: {exc}") from None


def default_weights(path: Path | None = None) -> str:
    """The weights used when neither `--weights` nor TRAFFICCAM_WEIGHTS is given: the manifest's
    `default:` (chosen by the gate in detector/kept.py, MODELS.md), else `FALLBACK_WEIGHTS`."""
    name = _read_manifest(path).get("default")
    return str(name) if name else FALLBACK_WEIGHTS


def search_dirs() -> list[Path]:
    """Folders searched for manifest files: models/, then TRAFFICCAM_MODEL_PATH entries."""
    extra = [Path(p) for p in os.environ.get("TRAFFICCAM_MODEL_PATH", "").split(os.pathsep) if p]
    return [models_dir(), *extra]


def locate(entry: ManifestEntry) -> Path | None:
    for d in search_dirs():
        candidate = d / entry.file
        if candidate.is_file():
            return candidate
    return None


def _help() -> str:
    names = ", ".join(e.name for e in load_manifest()) or "none"
    return (
        "Pass --weights NAME (known: " + names + ") or --weights PATH, or set TRAFFICCAM_WEIGHTS; "
        "put manifest files in models/ or a folder listed in TRAFFICCAM_MODEL_PATH "
        "(`trafficcam models list` shows what is present)."
    )


def resolve(spec: str | None = None) -> ResolvedWeights:
    """Turn `--weights` (a manifest name or a path), TRAFFICCAM_WEIGHTS or the default into weights.

    Raises:
        WeightsError: the name is unknown and no such file exists.
    """
    spec = spec or os.environ.get("TRAFFICCAM_WEIGHTS") or default_weights()
    manifest = load_manifest()
    by_name = {e.name: e for e in manifest}
    by_file = {e.file: e for e in manifest if e.file}
    if spec in by_name:
        entry = by_name[spec]
        if entry.members:
            members = tuple((resolve(m.name), m.min_conf) for m in entry.members)
            if any(m.members for m, _ in members):
                raise WeightsError(f"weights {spec!r}: a fused entry's members must be single models")
            return ResolvedWeights(entry.name, entry.name, entry, entry.classes, members)
        found = locate(entry)
        if found is None:
            if entry.file == FALLBACK_WEIGHTS:  # ultralytics downloads its own assets where it can
                return ResolvedWeights(entry.name, entry.file, entry, entry.classes)
            raise WeightsError(
                f"weights {spec!r} ({entry.file}) not found in {', '.join(map(str, search_dirs()))}. "
                f"Where to get it: {entry.source} " + _help()
            )
        return ResolvedWeights(entry.name, str(found), entry, entry.classes)
    path = Path(spec).expanduser()
    known = by_file.get(path.name)
    if path.is_file():
        return ResolvedWeights(known.name if known else path.stem, str(path), known, known.classes if known else {})
    if known is not None:
        found = locate(known)
        if found is not None:
            return ResolvedWeights(known.name, str(found), known, known.classes)
    if path.name == spec and spec.endswith(".pt") and "/" not in spec:
        # bare asset name such as yolov8n.pt: let ultralytics try to download it
        return ResolvedWeights(path.stem, spec, known, known.classes if known else {})
    raise WeightsError(f"weights {spec!r}: no such file and no such name in the manifest. " + _help())
