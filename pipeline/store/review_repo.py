"""Users and the review log: who may review, and every decision they made.

The review log is append-only and hash-chained: each entry stores the hash of the entry
before it (`prev_hash`, all zeros for the first) and its own `entry_hash` over its content and
`prev_hash`, so an edited, removed or re-ordered entry is detectable (`review_queries.audit`).
A decision is taken in one transaction that first locks the violation (an UPDATE), then checks
that the latest entry is still the one the reviewer saw; otherwise `AlreadyDecidedError`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipeline.errors import TrafficcamError
from pipeline.plates.formats import normalise as normalise_vn_plate
from pipeline.seal.keys import load_signing_key
from pipeline.store import outbox
from pipeline.store.columns import ID_LENGTH, utc_now
from pipeline.store.db import Database
from pipeline.store.models import ReviewRow, SessionRow, UserRow, ViolationRow
from pipeline.store.records import ReviewDecision, UserRole, ViolationStatus, require_aware
from pipeline.store.seals import checkpoint
from pipeline.timing.recorded import KNOWN_SOURCES

CONFIRMABLE_TIME_SOURCES = frozenset(s.value for s in KNOWN_SOURCES)
"""A violation's time must come from one of these to be confirmed (not unknown, not the processing clock)."""

GENESIS_HASH = "0" * 64
"""The `prev_hash` of the first entry of the review log."""

_USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")
_PLATE = re.compile(r"[A-Z0-9][A-Z0-9.\- ]*")
PLATE_LENGTH = 32
_CHAIN_RETRIES = 5
_CHAIN_LOCK_KEY = 0x7265_7669_6577  # "review": PostgreSQL advisory lock held while appending to the log


class RejectReason(StrEnum):
    """Why a reviewer rejected a violation: a fixed list, `other` with a note."""

    NOT_A_VIOLATION = "not_a_violation"
    SIGNAL_MISREAD = "signal_misread"
    WRONG_VEHICLE = "wrong_vehicle"
    EVIDENCE_UNREADABLE = "evidence_unreadable"
    EMERGENCY_VEHICLE = "emergency_vehicle"
    OTHER = "other"
    PLATE_UNREADABLE = "plate_unreadable"  # a confirmation without a plate, where the authority rejects those


class UnreadablePlate(StrEnum):
    """What confirming with "plate unreadable" does, as the authority configures it."""

    PARK = "park"  # stays pending, flagged by a `park` entry in the log, for a later look
    REJECT = "reject"  # rejected with reason plate_unreadable


class ReviewError(TrafficcamError):
    """A user or decision request that cannot be carried out as asked."""

    exit_code = 2


class UnknownViolationError(ReviewError):
    """No violation has the public id asked for."""


class AlreadyDecidedError(ReviewError):
    """Someone else decided the violation after the reviewer loaded it."""

    exit_code = 4

    def __init__(self, public_id: str, latest: ReviewRecord) -> None:
        self.public_id = public_id
        self.latest = latest
        when = latest.decided_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        super().__init__(
            f"violation {public_id} was already decided by {latest.reviewer} ({latest.decision.value}, {when}); "
            "reload it to see that decision, and revise it only if it is wrong"
        )


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A review-app user, without the password hash."""

    id: int
    name: str
    role: UserRole
    disabled: bool
    created_at: datetime

    @property
    def is_admin(self) -> bool:
        """Admins also manage users and export."""
        return self.role is UserRole.ADMIN

    @property
    def can_edit_scenes(self) -> bool:
        """Operators and admins draw, save and roll back cameras' scenes."""
        return self.role in (UserRole.OPERATOR, UserRole.ADMIN)


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    """One entry of the review log."""

    id: int
    violation_id: int
    public_id: str
    reviewer: str
    decision: ReviewDecision
    reason: str | None
    note: str | None
    plate_text: str | None
    decided_at: datetime
    prev_hash: str
    entry_hash: str


# -- users --------------------------------------------------------------------------------


def check_user_name(name: str) -> str:
    """`name` if it is a usable user name, else `ReviewError` saying what is allowed."""
    if not (0 < len(name) <= ID_LENGTH) or not _USER_NAME.fullmatch(name):
        raise ReviewError(
            f"user name {name!r} is not allowed: use 1-{ID_LENGTH} letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return name


def add_user(db: Database, name: str, password_hash: str, role: UserRole | str = UserRole.REVIEWER) -> UserRecord:
    """Add a user; the caller hashes the password (argon2, `review.auth`).

    Raises:
        ReviewError: the name is not allowed or already taken, or the role is unknown.
    """
    check_user_name(name)
    try:
        role = UserRole(role)
    except ValueError:
        raise ReviewError(f"role must be one of {[r.value for r in UserRole]}, got {role!r}") from None
    try:
        with db.session() as s:
            row = UserRow(name=name, password_hash=password_hash, role=role, disabled=False, created_at=utc_now())
            s.add(row)
            s.flush()
            return _user_record(row)
    except IntegrityError:
        raise ReviewError(f"user {name!r} already exists; pick another name or disable the old one") from None


def get_user(db: Database, name: str) -> UserRecord | None:
    """The user called `name`, or None."""
    login = get_login(db, name)
    return login[0] if login is not None else None


def get_login(db: Database, name: str) -> tuple[UserRecord, str] | None:
    """The user called `name` and their password hash, for checking a login; or None."""
    if not _USER_NAME.fullmatch(name) or len(name) > ID_LENGTH:
        return None  # no such name can exist (and PostgreSQL refuses some characters, e.g. NUL)
    with db.session() as s:
        row = s.scalars(select(UserRow).where(UserRow.name == name)).one_or_none()
        return (_user_record(row), row.password_hash) if row is not None else None


def list_users(db: Database) -> list[UserRecord]:
    """Every user, by name."""
    with db.session() as s:
        return [_user_record(r) for r in s.scalars(select(UserRow).order_by(UserRow.name))]


def set_user_disabled(db: Database, name: str, disabled: bool) -> UserRecord:
    """Disable (or enable again) a user; disabling ends their sessions in the same transaction.

    Raises:
        ReviewError: no such user.
    """
    with db.session() as s:
        row = _user_row(s, name)
        row.disabled = disabled
        if disabled:
            end_sessions_of(s, row.id, "disabled")
        return _user_record(row)


def set_password_hash(db: Database, name: str, password_hash: str) -> None:
    """Replace a user's password hash with a stronger re-hash of the same password (sessions stay)."""
    with db.session() as s:
        _user_row(s, name).password_hash = password_hash


def change_password(db: Database, name: str, password_hash: str) -> int:
    """Give a user a new password and end every session they have (a thief's too); how many ended.

    Raises:
        ReviewError: no such user.
    """
    with db.session() as s:
        row = _user_row(s, name)
        row.password_hash = password_hash
        return end_sessions_of(s, row.id, "password")


def end_sessions_of(s: Session, user_id: int, reason: str) -> int:
    """End the user's open sessions inside the caller's transaction; how many were open."""
    stmt = update(SessionRow).where(SessionRow.user_id == user_id, SessionRow.ended_at.is_(None))
    result = s.execute(stmt.values(ended_at=utc_now(), end_reason=reason))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _user_row(s: Session, name: str) -> UserRow:
    valid = _USER_NAME.fullmatch(name) and len(name) <= ID_LENGTH
    row = s.scalars(select(UserRow).where(UserRow.name == name)).one_or_none() if valid else None
    if row is None:
        raise ReviewError(f"no user called {name!r}; `trafficcam users list` shows who exists")
    return row


def _user_record(row: UserRow) -> UserRecord:
    return UserRecord(row.id, row.name, UserRole(row.role), bool(row.disabled), row.created_at)


# -- decisions ----------------------------------------------------------------------------


def normalise_plate(plate: str | None) -> str | None:
    """A plate number in capitals with single spaces, or None when empty.

    Raises:
        ReviewError: too long, or characters other than letters, digits, '.', '-' and spaces.
    """
    if plate is None or not plate.strip():
        return None
    text = " ".join(plate.upper().split())
    if len(text) > PLATE_LENGTH or not _PLATE.fullmatch(text):
        raise ReviewError(
            f"plate {plate!r} is not a plate number: use at most {PLATE_LENGTH} letters, digits, '.', '-' and spaces"
        )
    return text


def decide(
    db: Database,
    public_id: str,
    *,
    reviewer: str,
    decision: ReviewDecision | str,
    expected_last_review_id: int | None,
    reason: RejectReason | str | None = None,
    note: str | None = None,
    plate_text: str | None = None,
    decided_at: datetime | None = None,
    plate_rule: UnreadablePlate | str | None = None,
    plate_unreadable: bool = False,
) -> ReviewRecord:
    """Append a decision to the review log and set the violation's status, in one transaction.

    Args:
        public_id: the violation.
        reviewer: an enabled user's name.
        decision: confirm, reject (with `reason`) or correct_plate (with `plate_text`).
        expected_last_review_id: id of the latest log entry of this violation that the
            reviewer saw (None: they saw it undecided). If another entry came since, nothing
            is written and `AlreadyDecidedError` says who decided.
        reason: a `RejectReason` (required for reject; `other` needs a `note`).
        note: free text, kept with the entry.
        plate_text: the corrected plate number, for confirm or correct_plate.
        decided_at: UTC-aware time; now when None.
        plate_rule: when given (the review app and CLI give it), a confirmation needs a plate in
            a Vietnamese format, or `plate_unreadable`, which parks or rejects as the rule says.
            None keeps the plate optional and free-form (scripts that predate plate reading).
        plate_unreadable: the reviewer says the plate cannot be read.

    Raises:
        ReviewError: unknown violation or user, a disabled user, or a bad reason / plate.
        AlreadyDecidedError: the violation was decided by someone else meanwhile.
    """
    if plate_rule is not None:
        decision, reason, plate_text = plate_checked(decision, reason, plate_text, plate_rule, plate_unreadable)
    entry = _checked_entry(decision, reason, note, plate_text)
    when = require_aware(decided_at or utc_now(), "decided_at").astimezone(UTC)
    key = load_signing_key(db.data_dir)
    for attempt in range(_CHAIN_RETRIES):
        try:
            with db.session() as s:
                if s.get_bind().dialect.name == "postgresql":
                    # one appender at a time: racing for the chain's end would make all but one retry
                    s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})
                record = _append(s, public_id, reviewer, entry, when, expected_last_review_id)
            checkpoint(db, key, "reviews", record.id, record.entry_hash)
            return record
        except IntegrityError:
            # Another decision took the same place in the chain (PostgreSQL); read the new end, retry.
            if attempt == _CHAIN_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def plate_checked(
    decision: ReviewDecision | str, reason: str | None, plate: str | None, rule: UnreadablePlate | str, unreadable: bool
) -> tuple[ReviewDecision | str, str | None, str | None]:
    """A confirmation (or plate correction) with its plate in canonical form, or turned into a
    park / reject when the plate is unreadable.

    Raises:
        ReviewError: no plate, or one in no Vietnamese format, and not marked unreadable.
    """
    if decision not in (ReviewDecision.CONFIRM, ReviewDecision.CORRECT_PLATE):
        return decision, reason, plate
    if unreadable and decision == ReviewDecision.CONFIRM:
        then = ReviewDecision.PARK if UnreadablePlate(rule) is UnreadablePlate.PARK else ReviewDecision.REJECT
        return then, RejectReason.PLATE_UNREADABLE.value, None
    typed = normalise_vn_plate(plate or "")
    if not typed.valid:
        shown = f"{plate!r} is not" if plate and plate.strip() else "no plate is"
        raise ReviewError(
            f"{shown} a plate number in a Vietnamese format (30K-559.78, 29A-1234, 29-B1 123.45); "
            "enter the plate, or mark it 'plate unreadable'"
        )
    return decision, reason, typed.text


@dataclass(frozen=True, slots=True)
class _Entry:
    decision: ReviewDecision
    reason: str | None
    note: str | None
    plate_text: str | None


def _checked_entry(decision: ReviewDecision | str, reason: str | None, note: str | None, plate: str | None) -> _Entry:
    try:
        decision = ReviewDecision(decision)
    except ValueError:
        raise ReviewError(f"decision must be one of {[d.value for d in ReviewDecision]}, got {decision!r}") from None
    note = note.strip() if note and note.strip() else None
    plate = normalise_plate(plate)
    if decision is ReviewDecision.REJECT:
        try:
            reason = RejectReason(reason or "")
        except ValueError:
            raise ReviewError(f"a rejection needs a reason, one of {[r.value for r in RejectReason]}") from None
        if reason is RejectReason.OTHER and note is None:
            raise ReviewError("reason 'other' needs a note saying what is wrong")
        return _Entry(decision, reason.value, note, None)
    if decision is ReviewDecision.PARK:
        if reason != RejectReason.PLATE_UNREADABLE.value:
            raise ReviewError("a violation is parked only because its plate is unreadable")
        return _Entry(decision, reason, note, None)
    if reason:
        raise ReviewError(f"a reason goes only with a rejection, not with {decision.value}")
    if decision is ReviewDecision.CORRECT_PLATE and plate is None:
        raise ReviewError("correct_plate needs the plate number")
    return _Entry(decision, None, note, plate)


def _append(
    s: Session, public_id: str, reviewer: str, entry: _Entry, when: datetime, expected: int | None
) -> ReviewRecord:
    values: dict[str, object] = {}
    if entry.decision is ReviewDecision.CONFIRM:
        values["status"] = ViolationStatus.CONFIRMED
    elif entry.decision is ReviewDecision.REJECT:
        values["status"] = ViolationStatus.REJECTED
    elif entry.decision is ReviewDecision.PARK:
        values["status"] = ViolationStatus.PENDING  # parked: back in the queue, flagged
    if entry.plate_text is not None:
        values["plate_text"] = entry.plate_text
    # The UPDATE comes first: it locks the violation row (PostgreSQL) or the database (SQLite),
    # so the look at the latest entry below cannot be overtaken by another reviewer's decision.
    stmt = update(ViolationRow).where(ViolationRow.public_id == public_id)
    locked = s.execute(stmt.values(**values) if values else stmt.values(public_id=public_id))
    if locked.rowcount != 1:  # type: ignore[attr-defined]
        raise UnknownViolationError(f"no violation {public_id!r}; `trafficcam review list` shows them")
    user = s.scalars(select(UserRow).where(UserRow.name == reviewer)).one_or_none()
    if user is None or user.disabled:
        raise ReviewError(f"{reviewer!r} is not an enabled user; add one with `trafficcam users add`")
    violation_id, time_source = s.execute(
        select(ViolationRow.id, ViolationRow.time_source).where(ViolationRow.public_id == public_id)
    ).one()
    if entry.decision is ReviewDecision.CONFIRM and time_source not in CONFIRMABLE_TIME_SOURCES:
        raise ReviewError(
            f"violation {public_id} cannot be confirmed: the time of the offence is unknown (source {time_source!r}); "
            "process the video again with --recorded-at, or reject it"
        )
    latest = s.scalars(
        select(ReviewRow).where(ReviewRow.violation_id == violation_id).order_by(ReviewRow.id.desc()).limit(1)
    ).first()
    if (latest.id if latest is not None else None) != expected:
        if latest is None:
            raise ReviewError(f"review #{expected} is not the latest entry of violation {public_id}; reload it")
        raise AlreadyDecidedError(public_id, review_record(latest, public_id))
    prev = s.scalars(select(ReviewRow.entry_hash).order_by(ReviewRow.id.desc()).limit(1)).first() or GENESIS_HASH
    row = ReviewRow(
        violation_id=violation_id,
        reviewer=reviewer,
        decision=entry.decision,
        reason=entry.reason,
        note=entry.note,
        plate_text=entry.plate_text,
        decided_at=when,
        prev_hash=prev,
    )
    row.entry_hash = entry_hash(row, public_id)
    s.add(row)
    s.flush()
    outbox.add_review_event(s, row, public_id)  # same transaction as the decision
    return review_record(row, public_id)


def entry_hash(row: ReviewRow, public_id: str) -> str:
    """SHA-256 over a review entry's content (canonical JSON) and its `prev_hash`."""
    content = {
        "violation_id": row.violation_id,
        "violation": public_id,
        "reviewer": row.reviewer,
        "decision": ReviewDecision(row.decision).value,
        "reason": row.reason,
        "note": row.note,
        "plate_text": row.plate_text,
        "decided_at": row.decided_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "prev_hash": row.prev_hash,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def reviews_of(db: Database, public_id: str) -> list[ReviewRecord]:
    """The review log entries of one violation, oldest first."""
    query = (
        select(ReviewRow)
        .join(ViolationRow, ViolationRow.id == ReviewRow.violation_id)
        .where(ViolationRow.public_id == public_id)
        .order_by(ReviewRow.id)
    )
    with db.session() as s:
        return [review_record(r, public_id) for r in s.scalars(query)]


def review_log(db: Database, *, before_id: int | None = None, limit: int = 100) -> list[ReviewRecord]:
    """The latest `limit` entries of the whole log (older than `before_id`), newest first."""
    query = select(ReviewRow, ViolationRow.public_id).join(ViolationRow, ViolationRow.id == ReviewRow.violation_id)
    if before_id is not None:
        query = query.where(ReviewRow.id < before_id)
    with db.session() as s:
        rows = s.execute(query.order_by(ReviewRow.id.desc()).limit(limit)).tuples()
        return [review_record(r, pid) for r, pid in rows]


def review_record(row: ReviewRow, public_id: str) -> ReviewRecord:
    """The plain record of a review row (for the other review modules of this package)."""
    return ReviewRecord(
        id=row.id,
        violation_id=row.violation_id,
        public_id=public_id,
        reviewer=row.reviewer,
        decision=ReviewDecision(row.decision),
        reason=row.reason,
        note=row.note,
        plate_text=row.plate_text,
        decided_at=row.decided_at,
        prev_hash=row.prev_hash,
        entry_hash=row.entry_hash,
    )
