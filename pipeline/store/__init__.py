"""Storage: cameras, runs, violations, their evidence files and the review log.

Only this package imports sqlalchemy. Callers open a `Database` with `open_database` and use
the repository functions, which take and return plain records, never ORM rows.
"""

from __future__ import annotations

from pipeline.store.db import Database, open_database
from pipeline.store.records import (
    EvidenceFile,
    EvidenceKind,
    EvidenceRef,
    ReviewDecision,
    RunRecord,
    RunStatus,
    UserRole,
    ViolationRecord,
    ViolationStatus,
)
from pipeline.store.repository import (
    count_violations,
    count_violations_by_rule,
    ensure_camera,
    find_violation,
    finish_run,
    get_run,
    get_violation,
    list_violations,
    record_violation,
    start_run,
)

__all__ = [
    "Database",
    "EvidenceFile",
    "EvidenceKind",
    "EvidenceRef",
    "ReviewDecision",
    "RunRecord",
    "RunStatus",
    "UserRole",
    "ViolationRecord",
    "ViolationStatus",
    "count_violations",
    "count_violations_by_rule",
    "ensure_camera",
    "find_violation",
    "finish_run",
    "get_run",
    "get_violation",
    "list_violations",
    "open_database",
    "record_violation",
    "start_run",
]
