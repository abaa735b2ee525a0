"""Audit: is the review log intact, does every violation's status follow from it, and is every
evidence file still the one that was recorded?

Each finding names the row or file and says what changed, so an auditor can go straight to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from detector.hashing import sha256_file
from pipeline.store.db import Database, integrity_problems
from pipeline.store.models import EvidenceRow, ReviewRow, ViolationRow
from pipeline.store.records import EvidenceKind, ReviewDecision, ViolationStatus
from pipeline.store.review_repo import GENESIS_HASH, entry_hash

_BATCH = 1000


@dataclass(frozen=True, slots=True)
class AuditProblem:
    """One thing found altered: `subject` names the row or file, `detail` what is wrong with it."""

    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.detail}"


@dataclass
class AuditReport:
    """What `audit` checked and everything it found."""

    reviews: int = 0
    violations: int = 0
    evidence_files: int = 0
    evidence_skipped: int = 0
    seals: int = 0
    unsealed: int = 0
    checkpoints: int = 0
    integrity: str = "not checked"
    problems: list[AuditProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was found altered."""
        return not self.problems


def audit(
    db: Database,
    *,
    check_files: bool = True,
    progress: Callable[[int], None] | None = None,
    trusted_keys: Path | None = None,
) -> AuditReport:
    """Check the database's integrity (SQLite), the review log's hash chain, each violation's
    status against the log, every violation's seal and the checkpoint file (`seal_audit`), and
    (with `check_files`) every evidence file's SHA-256. `progress` is called with each file count;
    `trusted_keys` is a folder of public keys kept elsewhere, trusted beside the data dir's."""
    from pipeline.store import seal_audit

    report = AuditReport()
    broken = integrity_problems(db)  # SQLite: PRAGMA integrity_check; PostgreSQL: every table read
    report.integrity = "damaged" if broken else "ok"
    report.problems += [AuditProblem("database", p) for p in broken]
    if broken:
        return report  # nothing read from a damaged database proves anything
    implied = _check_chain(db, report)
    _check_statuses(db, implied, report)
    keys = seal_audit.public_keys(db.data_dir, trusted_keys)
    seal_audit.check_seals(db, report, {vid: plate for vid, (_, plate) in implied.items()}, keys)
    seal_audit.check_checkpoints(db, report, keys)
    if check_files:
        _check_evidence(db, report, progress)
    return report


def _short(h: str) -> str:
    return h[:12] + "…"


def _check_chain(db: Database, report: AuditReport) -> dict[int, tuple[ViolationStatus, str | None]]:
    """Walk the log oldest first; return the status (and plate) each violation's entries imply."""
    implied: dict[int, tuple[ViolationStatus, str | None]] = {}
    expected_prev, prev_id, last_id = GENESIS_HASH, None, 0
    while True:
        with db.session() as s:
            query = (
                select(ReviewRow, ViolationRow.public_id)
                .join(ViolationRow, ViolationRow.id == ReviewRow.violation_id, isouter=True)
                .where(ReviewRow.id > last_id)
                .order_by(ReviewRow.id)
                .limit(_BATCH)
            )
            rows = [(r, pid) for r, pid in s.execute(query).tuples()]
            s.expunge_all()  # keep the rows readable after the session ends
        if not rows:
            return implied
        for row, public_id in rows:
            report.reviews += 1
            subject = f"review #{row.id} (violation {public_id or row.violation_id}, by {row.reviewer})"
            if public_id is None:
                report.problems.append(AuditProblem(subject, "its violation no longer exists"))
            elif entry_hash(row, public_id) != row.entry_hash:
                report.problems.append(
                    AuditProblem(
                        subject,
                        f"edited after it was written: its content ({_describe(row)}) no longer matches "
                        f"its entry hash {_short(row.entry_hash)}",
                    )
                )
            if row.prev_hash != expected_prev:
                before = f"review #{prev_id}" if prev_id is not None else "the start of the log"
                report.problems.append(
                    AuditProblem(
                        subject,
                        f"chain broken: it follows hash {_short(row.prev_hash)} but {before} has "
                        f"{_short(expected_prev)}; an entry between them was removed or inserted, "
                        "or an entry hash was rewritten",
                    )
                )
            expected_prev, prev_id = row.entry_hash, row.id
            status, plate = implied.get(row.violation_id, (ViolationStatus.PENDING, None))
            decision = ReviewDecision(row.decision)
            if decision is ReviewDecision.CONFIRM:
                status = ViolationStatus.CONFIRMED
            elif decision is ReviewDecision.REJECT:
                status = ViolationStatus.REJECTED
            implied[row.violation_id] = (status, row.plate_text or plate)
        last_id = rows[-1][0].id


def _describe(row: ReviewRow) -> str:
    parts = [f"decision={ReviewDecision(row.decision).value}", f"reason={row.reason}", f"note={row.note!r}"]
    parts += [f"plate={row.plate_text}", f"at={row.decided_at.isoformat()}"]
    return ", ".join(parts)


def _check_statuses(db: Database, implied: dict[int, tuple[ViolationStatus, str | None]], report: AuditReport) -> None:
    last_id = 0
    while True:
        with db.session() as s:
            query = (
                select(ViolationRow.id, ViolationRow.public_id, ViolationRow.status, ViolationRow.plate_text)
                .where(ViolationRow.id > last_id)
                .order_by(ViolationRow.id)
                .limit(_BATCH)
            )
            rows = list(s.execute(query).tuples())
        if not rows:
            return
        for vid, public_id, status, plate in rows:
            report.violations += 1
            logged, logged_plate = implied.get(vid, (ViolationStatus.PENDING, None))
            if ViolationStatus(status) is not logged:
                report.problems.append(
                    AuditProblem(
                        f"violation {public_id}",
                        f"status is {ViolationStatus(status).value!r} but the review log says {logged.value!r}",
                    )
                )
            if logged_plate is not None and plate != logged_plate:
                report.problems.append(
                    AuditProblem(
                        f"violation {public_id}", f"plate is {plate!r} but the review log says {logged_plate!r}"
                    )
                )
        last_id = rows[-1][0]


def _check_evidence(db: Database, report: AuditReport, progress: Callable[[int], None] | None) -> None:
    root = db.data_dir.resolve()
    last_id = 0
    while True:
        with db.session() as s:
            query = (
                select(EvidenceRow, ViolationRow.public_id, ViolationRow.evidence_removed_at)
                .join(ViolationRow, ViolationRow.id == EvidenceRow.violation_id)
                .where(EvidenceRow.id > last_id)
                .order_by(EvidenceRow.id)
                .limit(_BATCH)
            )
            rows = list(s.execute(query).tuples())
            s.expunge_all()
        if not rows:
            return
        for ev, public_id, removed_at in rows:
            if removed_at is not None:
                report.evidence_skipped += 1
                continue
            report.evidence_files += 1
            subject = f"evidence #{ev.id} ({EvidenceKind(ev.kind).value} of violation {public_id}, {ev.path})"
            detail = check_evidence_file(root, ev.path, ev.sha256, ev.bytes)
            if detail is not None:
                report.problems.append(AuditProblem(subject, detail))
            if progress is not None:
                progress(report.evidence_files)
        last_id = rows[-1][0].id


def evidence_problems(data_dir: Path, evidence: Mapping[str, Any]) -> dict[str, str]:
    """What is wrong with each evidence file of one violation (kind -> problem); empty when all
    are intact. `evidence` maps kinds to items with ``path``, ``sha256`` and ``bytes``."""
    root = Path(data_dir).resolve()
    found = {kind: check_evidence_file(root, e.path, e.sha256, e.bytes) for kind, e in evidence.items()}
    return {kind: problem for kind, problem in found.items() if problem is not None}


def check_evidence_file(root: Path, relative: str, sha256: str, size: int) -> str | None:
    """What is wrong with one evidence file under data dir `root`, or None when it is intact."""
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        return "its recorded path points outside the data dir"
    if not path.is_file():
        return "file missing"
    actual = sha256_file(path)
    if actual != sha256:
        now = path.stat().st_size
        return f"file altered: SHA-256 is {_short(actual)}, recorded {_short(sha256)} ({now} bytes, recorded {size})"
    return None

