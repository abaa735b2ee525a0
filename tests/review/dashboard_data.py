"""A database with a week of operations to draw: violations by camera, rule and hour, decisions,
coverage periods and daemon instances, relative to the current time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.store import Database
from pipeline.store.coverage import close_coverage, record_coverage
from pipeline.store.leases import acquire, heartbeat
from pipeline.store.review_repo import add_user, decide
from tests.review.conftest import add_violation, new_run


def seed_operations(db: Database, now: datetime | None = None) -> dict[str, list[str]]:
    """Violations over the last 9 days on two cameras, some decided; coverage of both cameras."""
    now = now or datetime.now(UTC)
    runs = {cam: new_run(db, cam) for cam in ("junction-north", "junction-south")}
    made: dict[str, list[str]] = {"pending": [], "confirmed": [], "rejected": []}
    plan = [  # (camera, rule, hours ago)
        *[("junction-north", "red_light", h) for h in (0.2, 0.5, 1.5, 3.2, 7.0, 30.0, 50.0, 100.0, 200.0)],
        *[("junction-north", "wrong_way", h) for h in (2.5, 26.0, 75.0)],
        *[("junction-south", "solid_line", h) for h in (0.1, 4.0, 4.5, 20.0, 140.0, 215.0)],
    ]
    for n, (camera, rule, hours) in enumerate(plan, start=1):
        made["pending"].append(add_violation(db, runs[camera], n, camera=camera, rule=rule,
                                             when=now - timedelta(hours=hours)))  # fmt: skip
    add_user(db, "olga", "x" * 20, "admin")
    for public_id in made["pending"][:4]:
        decide(db, public_id, reviewer="olga", decision="confirm", expected_last_review_id=None)
        made["confirmed"].append(public_id)
    for public_id, reason in zip(made["pending"][4:7], ("signal_misread", "signal_misread", "wrong_vehicle"),
                                 strict=True):  # fmt: skip
        decide(db, public_id, reviewer="olga", decision="reject", reason=reason, expected_last_review_id=None)
        made["rejected"].append(public_id)
    made["pending"] = made["pending"][7:]
    t = now - timedelta(days=3)
    record_coverage(db, "junction-north", "starting", t)
    record_coverage(db, "junction-north", "enforcing", t + timedelta(minutes=2))
    record_coverage(db, "junction-north", "stream_down", t + timedelta(days=1), detail="connection refused")
    record_coverage(db, "junction-north", "enforcing", t + timedelta(days=1, hours=6))
    record_coverage(db, "junction-south", "signal_unreadable", now - timedelta(days=2))
    record_coverage(db, "junction-south", "enforcing", now - timedelta(days=1))
    close_coverage(db, "junction-south", now - timedelta(hours=12))
    record_coverage(db, "junction-north", "enforcing", now)  # its daemon is alive: refreshes last_seen
    heartbeat(db, "ops-1:4242:abc123", http="127.0.0.1:9100")
    acquire(db, "junction-north", "ops-1:4242:abc123", ttl_s=60)
    return made
