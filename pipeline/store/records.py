"""Plain values that cross the storage boundary: statuses, evidence files, stored records.

Nothing here imports sqlalchemy, and no ORM object ever leaves `pipeline/store/`: callers
get these frozen dataclasses instead, so a record cannot lazy-load or go stale behind them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import PurePath, PurePosixPath
from typing import NamedTuple

from detector.types import Box

_SHA256 = re.compile(r"[0-9a-f]{64}")


class RunStatus(StrEnum):
    """Where one processing of a file, or one stream session, ended up."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class JobStatus(StrEnum):
    """Where one queued file stands (`trafficcam submit` / `worker` / `jobs`)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ViolationStatus(StrEnum):
    """Review state of a violation; nothing is sent out before it is confirmed."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class EvidenceKind(StrEnum):
    """The files of one evidence package (see DESIGN.md, Evidence)."""

    BEFORE = "before"
    DURING = "during"
    AFTER = "after"
    VEHICLE = "vehicle"
    CLIP = "clip"
    CLIP_MARKED = "clip_marked"  # the clip with the vehicle's box and path drawn; `clip` stays untouched
    PLATE = "plate"  # the plate as read, cut from the frame the reading came from


class ReviewDecision(StrEnum):
    """What a reviewer did to a violation; each decision is one row of the review log."""

    CONFIRM = "confirm"
    REJECT = "reject"
    CORRECT_PLATE = "correct_plate"
    PARK = "park"  # left pending with a flag: the plate is unreadable (`serve --unreadable-plate park`)


class UserRole(StrEnum):
    """Who may do what in the review app."""

    REVIEWER = "reviewer"
    OPERATOR = "operator"  # a reviewer who also draws the cameras' scenes
    ADMIN = "admin"


def require_aware(value: datetime, name: str) -> datetime:
    """Return `value` unchanged, or raise when it carries no timezone.

    Raises:
        ValueError: `value` is naive; a naive time cannot be stored unambiguously.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}; "
            "use datetime.now(timezone.utc) or attach the camera's timezone"
        )
    return value


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    """One written evidence file, as the violation record will point at it.

    Attributes:
        kind: one of `EvidenceKind` (before, during, after, vehicle, clip, plate).
        path: POSIX path relative to the data dir, e.g. ``evidence/cam/2024-05-01/<id>/during.jpg``.
        sha256: lowercase hex SHA-256 of the file's bytes, so later tampering is detectable.
        bytes: file size in bytes.
        mime: media type, e.g. ``image/jpeg`` or ``video/mp4``.
    """

    kind: str
    path: str
    sha256: str
    bytes: int
    mime: str

    def __post_init__(self) -> None:
        kinds = [k.value for k in EvidenceKind]
        if self.kind not in kinds:
            raise ValueError(f"EvidenceFile kind must be one of {kinds}, got {self.kind!r}")
        object.__setattr__(self, "kind", EvidenceKind(self.kind).value)
        path = PurePosixPath(PurePath(self.path).as_posix())
        if path.is_absolute() or ".." in path.parts or not path.parts or re.match(r"^[A-Za-z]:", str(path)):
            raise ValueError(
                f"EvidenceFile path must be relative to the data dir, without '..', got {str(self.path)!r}"
            )
        object.__setattr__(self, "path", str(path))
        if not _SHA256.fullmatch(self.sha256):
            raise ValueError(f"EvidenceFile sha256 must be 64 lowercase hex digits, got {self.sha256!r}")
        if self.bytes < 0:
            raise ValueError(f"EvidenceFile bytes must be >= 0, got {self.bytes}")
        if "/" not in self.mime:
            raise ValueError(f"EvidenceFile mime must look like 'image/jpeg', got {self.mime!r}")


@dataclass(frozen=True, slots=True)
class PlateSuggestion:
    """What the plate reader read for a violation: a suggestion for the reviewer, never the plate.

    Attributes:
        text: the voted plate number (None: no text found), as `pipeline.plates.formats` writes it.
        kind: "car" or "motorbike" when the text fits a Vietnamese format, else None.
        format_valid: the text fits a Vietnamese plate format.
        confidence: 0..1, the winning glyphs' mean share of the frames tried.
        frames_tried / frames_read / frames_agreeing: frames looked at, with plate text, agreeing.
        read_ms: time the reading took (on the evidence writer's thread).
        engine: the OCR engine and version.
    """

    text: str | None
    kind: str | None
    format_valid: bool
    confidence: float
    frames_tried: int
    frames_read: int
    frames_agreeing: int
    read_ms: float
    engine: str


class EvidenceRef(NamedTuple):
    """Where a stored evidence file is and what its bytes hashed to; unpacks as ``path, sha256``."""

    path: str
    sha256: str


@dataclass(frozen=True, slots=True)
class ViolationRecord:
    """A stored violation, detached from the database.

    `evidence` maps each kind (``"during"``, ...) to its `EvidenceRef`; `where` is the stop line,
    lane or solid line id; `time_s` is seconds into the source; `occurred_at` is UTC wall clock.
    """

    id: int
    public_id: str
    dedup_key: str
    camera_id: str
    run_id: int
    rule: str
    where: str
    track_id: int
    label: str
    frame_index: int
    time_s: float
    occurred_at: datetime
    box: Box
    confidence: float
    status: ViolationStatus
    signal_id: str | None
    signal_colour: str | None
    seconds_into_colour: float | None
    plate_text: str | None
    evidence: Mapping[str, EvidenceRef]
    time_source: str = "operator"
    colour_onset_seen: bool | None = None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A stored run: one processing of a file, or one stream session."""

    id: int
    camera_id: str
    source: str
    source_sha256: str | None
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    model_name: str
    model_sha256: str
    scene_sha256: str
    settings_hash: str
    software_version: str
    frames_read: int
    frames_analysed: int
    frames_dropped: int
    frames_expected: int | None
