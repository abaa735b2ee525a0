"""Camera leases: several `trafficcam watch` instances share one camera list through the database.

Each camera has at most one row in ``camera_leases``; the instance named there processes it
until ``expires_at``, and renews the lease by heartbeat. A lease that expired (its holder died
or stalled) can be taken by any instance in one atomic upsert, which raises its ``generation``.
Every live instance also refreshes its row in ``instances``; from the live ones each computes
the same fair share (`fair_share`), so an instance that joins or comes back gets cameras
released to it, and one that dies leaves its cameras to the others once its leases expire.

Times come from the database server on PostgreSQL (hosts may disagree on the clock), from this
host on SQLite (one host).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pipeline.errors import LeaseLostError
from pipeline.store.columns import utc_now
from pipeline.store.db import Database
from pipeline.store.models import CameraLeaseRow, InstanceRow

FORGET_INSTANCES_AFTER = timedelta(days=1)
"""Rows of instances silent this long are removed (their leases expired long before)."""


@dataclass(frozen=True, slots=True)
class Lease:
    """A camera held by an instance; `generation` changes whenever another instance takes it."""

    camera_id: str
    instance: str
    generation: int
    expires_at: datetime


@cache
def instance_id() -> str:
    """This process's name in the lease tables and the coverage ledger: ``host:pid:token``.

    The random token keeps a restarted process that got the same pid (pid 1 in a container)
    from passing for the one that died."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def db_now(s: Session) -> datetime:
    """The current time by the database server's clock (PostgreSQL), else by this host's."""
    if s.get_bind().dialect.name == "postgresql":
        now = s.scalar(select(func.clock_timestamp()))
        assert isinstance(now, datetime)
        return now
    return utc_now()


def heartbeat(db: Database, instance: str, *, http: str | None = None) -> None:
    """Instance `instance` is alive now (its row is added on the first beat)."""
    with db.session() as s:
        now = db_now(s)
        row = s.get(InstanceRow, instance)
        if row is None:
            host, _, rest = instance.partition(":")
            pid = rest.split(":", 1)[0]
            s.add(InstanceRow(id=instance, host=host, pid=int(pid) if pid.isdigit() else 0, started_at=now,
                              heartbeat_at=now, http=http))  # fmt: skip
        else:
            row.heartbeat_at = now
            row.http = http


def live_instances(db: Database, ttl_s: float) -> dict[str, float]:
    """The instances that beat within the last `ttl_s` seconds, by name (sorted), with the
    seconds since their last beat."""
    with db.session() as s:
        now = db_now(s)
        rows = s.execute(
            select(InstanceRow.id, InstanceRow.heartbeat_at).where(
                InstanceRow.heartbeat_at >= now - timedelta(seconds=ttl_s)
            )
        )
        return {r.id: max(0.0, (now - r.heartbeat_at).total_seconds()) for r in sorted(rows)}


def forget_instance(db: Database, instance: str) -> None:
    """Remove `instance` and release every lease it holds (a clean shutdown)."""
    with db.session() as s:
        s.execute(delete(CameraLeaseRow).where(CameraLeaseRow.instance == instance))
        s.execute(delete(InstanceRow).where(InstanceRow.id == instance))


def forget_silent_instances(db: Database) -> int:
    """Remove the rows of instances silent for `FORGET_INSTANCES_AFTER`; return how many."""
    with db.session() as s:
        before = db_now(s) - FORGET_INSTANCES_AFTER
        result = s.execute(delete(InstanceRow).where(InstanceRow.heartbeat_at < before))
        return int(getattr(result, "rowcount", 0) or 0)


def fair_share(n_cameras: int, live: Sequence[str], instance: str) -> int:
    """How many of `n_cameras` `instance` should hold when the instances `live` share them.

    Every instance computes the same split from the same sorted list: ``n // k`` each, one
    more for the first ``n % k``, so the shares add up to exactly `n_cameras`."""
    others = sorted(set(live) | {instance})
    k = len(others)
    return n_cameras // k + (1 if others.index(instance) < n_cameras % k else 0)


def acquire(db: Database, camera_id: str, instance: str, ttl_s: float) -> Lease | None:
    """Take the lease of `camera_id` when nobody holds it or its lease expired; None when held."""
    with db.session() as s:
        now = db_now(s)
        expires = now + timedelta(seconds=ttl_s)
        dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
        insert = dialect.insert(CameraLeaseRow).values(
            camera_id=camera_id, instance=instance, generation=1, acquired_at=now, renewed_at=now, expires_at=expires
        )
        stmt = insert.on_conflict_do_update(
            index_elements=[CameraLeaseRow.camera_id],
            set_={"instance": instance, "generation": CameraLeaseRow.generation + 1, "acquired_at": now,
                  "renewed_at": now, "expires_at": expires},
            where=CameraLeaseRow.expires_at < now,
        ).returning(CameraLeaseRow.generation)  # fmt: skip
        generation = s.execute(stmt).scalar_one_or_none()
        return None if generation is None else Lease(camera_id, instance, generation, expires)


def renew(db: Database, leases: Sequence[Lease], ttl_s: float) -> tuple[list[Lease], list[Lease]]:
    """Extend `leases`; return (renewed, lost). A lease is lost when another instance took it."""
    renewed: list[Lease] = []
    lost: list[Lease] = []
    if not leases:
        return renewed, lost
    with db.session() as s:
        now = db_now(s)
        expires = now + timedelta(seconds=ttl_s)
        for lease in leases:
            result = s.execute(
                update(CameraLeaseRow)
                .where(CameraLeaseRow.camera_id == lease.camera_id, CameraLeaseRow.instance == lease.instance,
                       CameraLeaseRow.generation == lease.generation)
                .values(renewed_at=now, expires_at=expires)
            )  # fmt: skip
            if getattr(result, "rowcount", 0):
                renewed.append(Lease(lease.camera_id, lease.instance, lease.generation, expires))
            else:
                lost.append(lease)
    return renewed, lost


def release(db: Database, leases: Sequence[Lease]) -> None:
    """Give up `leases` (those still ours), so another instance may take the cameras at once."""
    with db.session() as s:
        for lease in leases:
            s.execute(
                delete(CameraLeaseRow).where(CameraLeaseRow.camera_id == lease.camera_id,
                                             CameraLeaseRow.instance == lease.instance,
                                             CameraLeaseRow.generation == lease.generation)
            )  # fmt: skip


def list_leases(db: Database) -> list[tuple[Lease, bool]]:
    """Every lease with whether it is still valid, by camera."""
    with db.session() as s:
        now = db_now(s)
        rows = s.scalars(select(CameraLeaseRow).order_by(CameraLeaseRow.camera_id)).all()
        return [(Lease(r.camera_id, r.instance, r.generation, r.expires_at), r.expires_at >= now) for r in rows]


def list_instances(db: Database) -> list[tuple[str, datetime]]:
    """Every instance with its last heartbeat, newest first."""
    with db.session() as s:
        rows = s.execute(select(InstanceRow.id, InstanceRow.heartbeat_at).order_by(InstanceRow.heartbeat_at.desc()))
        return [(r.id, r.heartbeat_at) for r in rows]


def check_held(s: Session, lease: Lease) -> None:
    """Inside a write transaction: raise `LeaseLostError` unless `lease` is still ours.

    On PostgreSQL the lease row is locked FOR SHARE until the transaction ends, so a takeover
    waits for this write instead of interleaving with it."""
    query = select(CameraLeaseRow.instance, CameraLeaseRow.generation).where(
        CameraLeaseRow.camera_id == lease.camera_id
    )
    if s.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    holder = s.execute(query).one_or_none()
    if holder is None or (holder.instance, holder.generation) != (lease.instance, lease.generation):
        now_held_by = holder.instance if holder is not None else "nobody"
        raise LeaseLostError(
            f"camera {lease.camera_id}: this instance ({lease.instance}) no longer holds its lease "
            f"(now held by {now_held_by}); not writing"
        )


class LeasedDatabase(Database):
    """The database as a camera worker sees it: every transaction first checks the lease.

    A worker that stalled past its lease and was taken over fails its next write with
    `LeaseLostError` instead of recording beside the new holder."""

    def __init__(self, db: Database, lease: Lease) -> None:
        super().__init__(db.engine, db.data_dir)
        self.lease = lease

    @contextmanager
    def session(self) -> Iterator[Session]:
        with super().session() as s:
            check_held(s, self.lease)
            yield s

    def close(self) -> None:
        """The engine belongs to the daemon's database: nothing to close here."""
