"""The database schema: SQLAlchemy 2.0 typed models.

Rows stay inside `pipeline/store/`; the repository turns them into the plain records of
`pipeline.store.records` before anything leaves. Types are portable (no SQLite-only or
PostgreSQL-only column types), times are UTC-aware (`UTCDateTime`) and constraints are named
through the metadata's naming convention, so Alembic migrations can refer to them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import uuid4

from sqlalchemy import BigInteger, ForeignKey, Index, MetaData, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from pipeline.store.columns import (
    DEDUP_KEY_LENGTH,
    Counter,
    CreatedAt,
    Ident,
    IntPK,
    LongText,
    Real,
    Sha256,
    UTCTime,
    str_enum,
    utc_now,
)
from pipeline.store.records import (
    EvidenceFile,
    EvidenceKind,
    JobStatus,
    PlateSuggestion,
    ReviewDecision,
    RunStatus,
    UserRole,
    ViolationStatus,
    require_aware,
)

if TYPE_CHECKING:
    from pipeline.rules.base import Violation

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PublicId = String(32)
PlateText = String(32)


class Base(DeclarativeBase):
    """Declarative base; its metadata names every constraint and index."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CameraRow(Base):
    """A camera view; its id is the scene file's `camera`."""

    __tablename__ = "cameras"

    id: Mapped[Ident] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[CreatedAt]


class RunRow(Base):
    """One processing of a file, or one stream session, with what produced its results."""

    __tablename__ = "runs"
    __table_args__ = (Index(None, "camera_id", "started_at"),)

    id: Mapped[IntPK]
    camera_id: Mapped[Ident] = mapped_column(ForeignKey("cameras.id"))
    source: Mapped[LongText]
    source_sha256: Mapped[Sha256 | None]
    started_at: Mapped[UTCTime]
    finished_at: Mapped[UTCTime | None]
    status: Mapped[RunStatus] = mapped_column(str_enum(RunStatus, "run_status"), default=RunStatus.RUNNING)
    model_name: Mapped[str] = mapped_column(String(200))
    model_sha256: Mapped[Sha256]
    scene_sha256: Mapped[Sha256]
    settings_json: Mapped[LongText]
    settings_hash: Mapped[Sha256]
    software_version: Mapped[str] = mapped_column(String(64))
    frames_read: Mapped[Counter]
    frames_analysed: Mapped[Counter]
    frames_dropped: Mapped[Counter]
    frames_expected: Mapped[int | None]
    # when frame 0 was recorded and how that is known (pipeline/timing); the site from the scene
    recorded_at: Mapped[UTCTime | None]
    time_source: Mapped[str] = mapped_column(String(32), default="unknown", server_default="run_clock")
    timezone: Mapped[str | None] = mapped_column(String(64))
    site_json: Mapped[str | None] = mapped_column(Text)

    scene_version_id: Mapped[int | None] = mapped_column(ForeignKey("scene_versions.id"))
    """The saved scene version this run judged by, when the scene came from (or matches) one."""


class ViolationRow(Base):
    """One vehicle breaking one rule at one place, with its review state."""

    __tablename__ = "violations"
    __table_args__ = (
        Index(None, "status", "occurred_at"),
        Index(None, "camera_id", "occurred_at"),
        Index(None, "run_id"),
    )

    id: Mapped[IntPK]
    public_id: Mapped[str] = mapped_column(PublicId, unique=True)
    dedup_key: Mapped[str] = mapped_column(String(DEDUP_KEY_LENGTH), unique=True)
    camera_id: Mapped[Ident] = mapped_column(ForeignKey("cameras.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    rule: Mapped[Ident]
    where_id: Mapped[Ident]
    track_id: Mapped[int]
    label: Mapped[Ident]
    frame_index: Mapped[int]
    time_s: Mapped[Real]
    occurred_at: Mapped[UTCTime]
    signal_id: Mapped[Ident | None]
    signal_colour: Mapped[str | None] = mapped_column(String(16))
    seconds_into_colour: Mapped[Real | None]
    x1: Mapped[Real]
    y1: Mapped[Real]
    x2: Mapped[Real]
    y2: Mapped[Real]
    confidence: Mapped[Real]
    details_json: Mapped[LongText] = mapped_column(default="{}")
    status: Mapped[ViolationStatus] = mapped_column(
        str_enum(ViolationStatus, "violation_status"), default=ViolationStatus.PENDING
    )
    plate_text: Mapped[str | None] = mapped_column(PlateText)
    evidence_removed_at: Mapped[UTCTime | None]
    evidence_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    # where occurred_at came from (pipeline.timing.TimeSource); "unknown" cannot be confirmed
    time_source: Mapped[str] = mapped_column(String(32), default="unknown", server_default="run_clock")
    # False: the signal's colour began before the video did, so seconds_into_colour is a minimum
    colour_onset_seen: Mapped[bool | None]

    evidence: Mapped[list[EvidenceRow]] = relationship(
        back_populates="violation", lazy="raise", order_by="EvidenceRow.id"
    )

    @classmethod
    def from_violation(
        cls,
        v: Violation,
        *,
        camera_id: str,
        run_id: int,
        dedup_key: str,
        occurred_at: datetime,
        public_id: str | None = None,
        time_source: str = "operator",
    ) -> ViolationRow:
        """Build a pending row from a rule's `Violation`.

        Args:
            v: what the rule reported; `v.timestamp` becomes `time_s`.
            camera_id: the scene's camera id.
            run_id: the run that found it.
            dedup_key: the caller's identity for this violation; a second row with it is refused.
            occurred_at: UTC-aware wall-clock time (for files: run start + `v.timestamp`).
            public_id: id used in evidence paths; a fresh uuid4 hex when None.
            time_source: where `occurred_at` came from (a `pipeline.timing.TimeSource` value).
        """
        require_aware(occurred_at, "occurred_at")
        return cls(
            public_id=public_id or uuid4().hex,
            dedup_key=dedup_key,
            camera_id=camera_id,
            run_id=run_id,
            rule=v.rule,
            where_id=v.where,
            track_id=v.track_id,
            label=v.label,
            frame_index=v.frame_index,
            time_s=v.timestamp,
            occurred_at=occurred_at,
            signal_id=v.signal_id,
            signal_colour=v.signal_colour.value if v.signal_colour is not None else None,
            seconds_into_colour=v.seconds_into_colour,
            x1=v.box.x1,
            y1=v.box.y1,
            x2=v.box.x2,
            y2=v.box.y2,
            confidence=v.confidence,
            details_json=json.dumps(v.details, sort_keys=True),
            status=ViolationStatus.PENDING,
            created_at=utc_now(),
            time_source=time_source,
            colour_onset_seen=None if v.signal_colour is None else v.details.get("colour_onset") != "before_source",
        )


class EvidenceRow(Base):
    """One evidence file of a violation; `path` is relative to the data dir."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("violation_id", "kind"),)

    id: Mapped[IntPK]
    violation_id: Mapped[int] = mapped_column(ForeignKey("violations.id"))
    kind: Mapped[EvidenceKind] = mapped_column(str_enum(EvidenceKind, "evidence_kind"))
    path: Mapped[LongText]
    sha256: Mapped[Sha256]
    bytes: Mapped[int] = mapped_column(BigInteger)
    mime: Mapped[str] = mapped_column(String(100))

    violation: Mapped[ViolationRow] = relationship(back_populates="evidence", lazy="raise")

    @classmethod
    def from_file(cls, violation_id: int, f: EvidenceFile) -> EvidenceRow:
        """The row that records `f` as evidence of violation `violation_id`."""
        return cls(
            violation_id=violation_id,
            kind=EvidenceKind(f.kind),
            path=f.path,
            sha256=f.sha256,
            bytes=f.bytes,
            mime=f.mime,
        )


class PlateReadingRow(Base):
    """The plate reader's suggestion for one violation (`PlateSuggestion`); the reviewer's plate
    goes to `violations.plate_text` and the review log, never here."""

    __tablename__ = "plate_readings"

    id: Mapped[IntPK]
    violation_id: Mapped[int] = mapped_column(ForeignKey("violations.id"), unique=True)
    text: Mapped[str | None] = mapped_column(PlateText)
    kind: Mapped[str | None] = mapped_column(String(16))
    format_valid: Mapped[bool]
    confidence: Mapped[Real]
    frames_tried: Mapped[int]
    frames_read: Mapped[int]
    frames_agreeing: Mapped[int]
    read_ms: Mapped[Real]
    engine: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[CreatedAt]

    @classmethod
    def from_suggestion(cls, violation_id: int, p: PlateSuggestion) -> PlateReadingRow:
        return cls(
            violation_id=violation_id, text=p.text, kind=p.kind, format_valid=p.format_valid,
            confidence=p.confidence, frames_tried=p.frames_tried, frames_read=p.frames_read,
            frames_agreeing=p.frames_agreeing, read_ms=p.read_ms, engine=p.engine, created_at=utc_now(),
        )  # fmt: skip

    def suggestion(self) -> PlateSuggestion:
        return PlateSuggestion(
            self.text, self.kind, self.format_valid, self.confidence, self.frames_tried, self.frames_read,
            self.frames_agreeing, self.read_ms, self.engine,
        )  # fmt: skip


class ReviewRow(Base):
    """One reviewer decision. Append-only: rows are never updated or deleted.

    `entry_hash` covers this entry and `prev_hash` (the previous entry's hash), so the log
    is a hash chain and a changed or removed entry is detectable.
    """

    __tablename__ = "reviews"
    # A unique prev_hash keeps the chain a single line when two decisions are appended at once.
    __table_args__ = (Index(None, "violation_id", "decided_at"), Index(None, "prev_hash", unique=True))

    id: Mapped[IntPK]
    violation_id: Mapped[int] = mapped_column(ForeignKey("violations.id"))
    reviewer: Mapped[Ident]
    decision: Mapped[ReviewDecision] = mapped_column(str_enum(ReviewDecision, "review_decision"))
    reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    plate_text: Mapped[str | None] = mapped_column(PlateText)
    decided_at: Mapped[UTCTime] = mapped_column(default=utc_now)
    prev_hash: Mapped[Sha256]
    entry_hash: Mapped[Sha256] = mapped_column(unique=True)


class SealRow(Base):
    """The seal of one violation: a hash over its fields and evidence hashes, chained to the seal
    before it and signed (pipeline/seal). `content_json` is what was sealed, so an audit can name
    the field that changed. Append-only, like the review log.
    """

    __tablename__ = "violation_seals"

    id: Mapped[IntPK]
    violation_id: Mapped[int] = mapped_column(ForeignKey("violations.id"), unique=True)
    content_json: Mapped[LongText]
    prev_hash: Mapped[Sha256] = mapped_column(unique=True)
    seal_hash: Mapped[Sha256] = mapped_column(unique=True)
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(128))
    sealed_at: Mapped[UTCTime]


class UserRow(Base):
    """A person who may log in to the review app."""

    __tablename__ = "users"

    id: Mapped[IntPK]
    name: Mapped[Ident] = mapped_column(unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[UserRole] = mapped_column(str_enum(UserRole, "user_role"), default=UserRole.REVIEWER)
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[CreatedAt]


class SessionRow(Base):
    """One login to the review app. The browser's cookie holds a random token; `id` is its SHA-256,
    so a copy of this table does not log anyone in. A session ends at logout, on `ended_at`."""

    __tablename__ = "sessions"
    __table_args__ = (Index(None, "user_id"),)

    id: Mapped[Sha256] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[UTCTime]
    last_used_at: Mapped[UTCTime]
    expires_at: Mapped[UTCTime]
    address: Mapped[str] = mapped_column(String(100))
    user_agent: Mapped[str] = mapped_column(String(300))
    ended_at: Mapped[UTCTime | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))


class CoverageRow(Base):
    """One period in which a watched camera was, or was not, enforcing (coverage ledger).

    `ended_at` is None while the period is open; `last_seen_at` is refreshed while it lasts, so a
    daemon that died leaves a period that ends at its last sign of life. `reason` is "enforcing"
    or why not (see `pipeline.store.coverage.CoverageReason`).
    """

    __tablename__ = "coverage"
    __table_args__ = (
        Index(None, "camera_id", "started_at"),
        Index(None, "ended_at"),
        # at most one open period per camera: two would mean two instances watching one camera
        Index("uq_coverage_open_camera_id", "camera_id", unique=True, sqlite_where=text("ended_at IS NULL"),
              postgresql_where=text("ended_at IS NULL")),
    )  # fmt: skip

    id: Mapped[IntPK]
    camera_id: Mapped[Ident] = mapped_column(ForeignKey("cameras.id"))
    started_at: Mapped[UTCTime]
    ended_at: Mapped[UTCTime | None]
    last_seen_at: Mapped[UTCTime]
    enforcing: Mapped[bool]
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    instance: Mapped[str] = mapped_column(String(200))


class InstanceRow(Base):
    """A running `trafficcam watch` process, alive while its `heartbeat_at` is recent.

    The live instances share the cameras: each one's fair share follows from how many are live.
    """

    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int]
    started_at: Mapped[UTCTime]
    heartbeat_at: Mapped[UTCTime]
    http: Mapped[str | None] = mapped_column(String(200))


class CameraLeaseRow(Base):
    """Which instance processes a camera, until `expires_at` unless it renews the lease.

    One row per camera, so two instances can never both hold one. `generation` counts the
    hand-overs: a writer that still carries an old generation has lost the camera.
    """

    __tablename__ = "camera_leases"
    __table_args__ = (Index(None, "instance"),)

    camera_id: Mapped[Ident] = mapped_column(primary_key=True)
    instance: Mapped[str] = mapped_column(String(200))
    generation: Mapped[int] = mapped_column(BigInteger, default=1)
    acquired_at: Mapped[UTCTime]
    renewed_at: Mapped[UTCTime]
    expires_at: Mapped[UTCTime]


class OutboxRow(Base):
    """One event for the outside world, written in the transaction of the change it describes.

    The relay (`pipeline.events.relay`) sends unsent rows in `id` order and sets `sent_at` only
    once every sink acknowledged; `event_id` is the idempotency key receivers deduplicate by.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index(None, "sent_at", "id"),)

    id: Mapped[IntPK]
    event_id: Mapped[str] = mapped_column(PublicId, unique=True)
    type: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[Ident | None]
    created_at: Mapped[UTCTime]
    payload: Mapped[LongText]
    sent_at: Mapped[UTCTime | None]
    attempts: Mapped[Counter]
    last_error: Mapped[str | None] = mapped_column(Text)


class JobRow(Base):
    """One file queued for `trafficcam worker` (the broker carries `job_id`; this row the state)."""

    __tablename__ = "jobs"
    __table_args__ = (Index(None, "status", "id"), Index(None, "batch"))

    id: Mapped[IntPK]
    job_id: Mapped[str] = mapped_column(PublicId, unique=True)
    batch: Mapped[str] = mapped_column(PublicId)
    camera_id: Mapped[Ident]
    video: Mapped[LongText]
    scene: Mapped[LongText]
    settings_json: Mapped[LongText]
    status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus, "job_status"), default=JobStatus.QUEUED)
    attempts: Mapped[Counter]
    worker: Mapped[str | None] = mapped_column(String(200))
    run_id: Mapped[int | None]
    frames_done: Mapped[Counter]
    frames_total: Mapped[int | None]
    violations: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[UTCTime]
    started_at: Mapped[UTCTime | None]
    heartbeat_at: Mapped[UTCTime | None]
    finished_at: Mapped[UTCTime | None]


class SceneVersionRow(Base):
    """One saved version of a camera's scene. Append-only: a roll-back is a new version that
    repeats an older one's YAML, so the history of what was enforced never changes.

    `sha256` is `pipeline.scene.scene_hash` of the validated scene (runs carry the same hash);
    `reference_path`, relative to the data dir, is the frame it was drawn on (the camera-moved
    guard compares the live view with it)."""

    __tablename__ = "scene_versions"
    __table_args__ = (UniqueConstraint("camera_id", "version"), Index(None, "camera_id", "sha256"))

    id: Mapped[IntPK]
    camera_id: Mapped[Ident] = mapped_column(ForeignKey("cameras.id"))
    version: Mapped[int]
    yaml_text: Mapped[LongText]
    sha256: Mapped[Sha256]
    reference_path: Mapped[str | None] = mapped_column(Text)
    author: Mapped[Ident]
    created_at: Mapped[CreatedAt]
    note: Mapped[str | None] = mapped_column(Text)
    restored_from: Mapped[int | None]
    """The version a roll-back repeated; None for a save."""
