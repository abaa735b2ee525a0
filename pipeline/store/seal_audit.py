"""Audit of what a fine rests on: the database's own integrity, every violation's seal (fields,
evidence hashes, chain, signature) and the checkpoint file that anchors both chains outside it.

`review_audit.audit` calls these after its review-log checks; each finding is an `AuditProblem`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select

from pipeline.seal import checkpoints
from pipeline.seal.content import GENESIS, changed_fields, seal_hash
from pipeline.seal.keys import trusted_public_keys, verify
from pipeline.store.db import Database
from pipeline.store.models import ReviewRow, SealRow, ViolationRow
from pipeline.store.seals import current_content, parse_content

if TYPE_CHECKING:
    from pipeline.store.review_audit import AuditProblem, AuditReport

_BATCH = 500


def _problem(subject: str, detail: str) -> AuditProblem:
    from pipeline.store.review_audit import AuditProblem

    return AuditProblem(subject, detail)


def check_seals(
    db: Database, report: AuditReport, logged_plates: dict[int, str | None], keys: dict[str, Ed25519PublicKey]
) -> None:
    """Every seal: its hash, its place in the chain, its signature, and its content against the rows
    today. A violation without a seal, made after sealing began, is reported too.

    `logged_plates`: the plate the review log gives each violation (a reviewer's plate may differ
    from the sealed one; the log, itself checked, says which is right).
    """
    expected_prev, last_id, first_sealed = GENESIS, 0, None
    while True:
        with db.session() as s:
            rows = list(s.scalars(select(SealRow).where(SealRow.id > last_id).order_by(SealRow.id).limit(_BATCH)))
            now = current_content(s, [r.violation_id for r in rows])
            s.expunge_all()
        if not rows:
            break
        for seal in rows:
            report.seals += 1
            first_sealed = first_sealed if first_sealed is not None else seal.violation_id
            sealed = parse_content(seal.content_json)
            subject = f"violation {sealed.get('violation', seal.violation_id)} (seal #{seal.id})"
            _check_one(report, seal, sealed, now.get(seal.violation_id), logged_plates, keys, expected_prev, subject)
            expected_prev = seal.seal_hash
        last_id = rows[-1].id
    _unsealed(db, report, first_sealed)


def _check_one(
    report: AuditReport,
    seal: SealRow,
    sealed: dict[str, Any],
    now: dict[str, Any] | None,
    logged_plates: dict[int, str | None],
    keys: dict[str, Ed25519PublicKey],
    expected_prev: str,
    subject: str,
) -> None:
    problems = report.problems
    if seal_hash(seal.content_json, seal.prev_hash) != seal.seal_hash:
        problems.append(_problem(subject, "the sealed content was edited: it no longer matches its seal hash"))
    if seal.prev_hash != expected_prev:
        problems.append(_problem(subject, "seal chain broken: a seal before it was removed, inserted or rewritten"))
    bad = verify(keys, seal.key_id, seal.seal_hash, seal.signature)
    if bad is not None:
        problems.append(_problem(subject, f"seal {bad}: the seal was recomputed without the service key"))
    if now is None:
        problems.append(_problem(subject, "the sealed violation no longer exists"))
        return
    plate_now, plate_sealed = now.pop("plate_text", None), sealed.get("plate_text")
    sealed = {k: v for k, v in sealed.items() if k != "plate_text"}
    for change in changed_fields(sealed, now):
        problems.append(_problem(subject, f"changed after it was sealed: {change}"))
    # a plate the review log gives is checked against the log (review_audit); else the sealed one holds
    if logged_plates.get(seal.violation_id) is None and plate_now != plate_sealed:
        problems.append(_problem(subject, f"plate_text is {plate_now!r}, but no review gave it and the seal says "
                                 f"{plate_sealed!r}"))  # fmt: skip


def _unsealed(db: Database, report: AuditReport, first_sealed: int | None) -> None:
    """Violations without a seal: before the first seal they predate sealing (not a finding)."""
    with db.session() as s:
        query = (
            select(ViolationRow.id, ViolationRow.public_id)
            .outerjoin(SealRow, SealRow.violation_id == ViolationRow.id)
            .where(SealRow.id.is_(None))
        )
        for vid, public_id in s.execute(query).tuples():
            if first_sealed is not None and vid > first_sealed:
                report.problems.append(_problem(f"violation {public_id}", "has no seal: it was added to the database "
                                                "directly, not by trafficcam"))  # fmt: skip
            else:
                report.unsealed += 1


def check_checkpoints(db: Database, report: AuditReport, keys: dict[str, Ed25519PublicKey]) -> None:
    """Each signed checkpoint line names a chain head that must still be in the database, unchanged."""
    lines, bad_lines = checkpoints.read(db.data_dir, keys)
    path = checkpoints.checkpoint_path(db.data_dir)
    report.problems.extend(_problem(f"checkpoint file {path}", p) for p in bad_lines)
    with db.session() as s:
        heads = {
            "reviews": dict(s.execute(select(ReviewRow.id, ReviewRow.entry_hash)).tuples().all()),
            "seals": dict(s.execute(select(SealRow.id, SealRow.seal_hash)).tuples().all()),
        }
        counts = {"reviews": s.scalar(select(func.count()).select_from(ReviewRow)) or 0,
                  "seals": s.scalar(select(func.count()).select_from(SealRow)) or 0}  # fmt: skip
    if not lines and (counts["seals"] or counts["reviews"]) and not path.exists():
        report.problems.append(_problem(f"checkpoint file {path}", "missing: the chains cannot be checked against it"))
    report.checkpoints = len(lines)
    what = {"reviews": "review", "seals": "seal"}
    for cp in lines:
        stored = heads.get(cp.chain, {}).get(cp.id)
        subject = f"{what.get(cp.chain, cp.chain)} #{cp.id}"
        if stored is None:
            report.problems.append(_problem(subject, f"deleted: checkpoint line {cp.line} ({cp.at}) recorded it "
                                            f"as the head of the {cp.chain} chain"))  # fmt: skip
        elif stored != cp.hash:
            report.problems.append(_problem(subject, f"rewritten: its hash is not the one checkpoint line {cp.line} "
                                            f"({cp.at}) recorded; the {cp.chain} chain was recomputed"))  # fmt: skip


def public_keys(data_dir: Path, extra: Path | None) -> dict[str, Ed25519PublicKey]:
    """The public keys the audit trusts."""
    return trusted_public_keys(data_dir, extra)
