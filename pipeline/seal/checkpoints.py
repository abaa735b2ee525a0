"""An append-only file of signed chain heads: `<data dir>/audit/checkpoints.jsonl`.

After each sealed violation and each review decision, one line records which entry is then the
head of its chain (``seals`` or ``reviews``: its id and hash), links to the line before it by that
line's SHA-256 and is signed with the service key. A database edited afterwards, with its tail
deleted or its chains recomputed, no longer matches the lines. Make the file append-only for the
service user (`chattr +a`) and copy it off the machine now and then: it anchors the database only
as long as it is itself out of the attacker's reach.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from pipeline.seal.content import GENESIS
from pipeline.seal.keys import SigningKey, audit_dir, verify

FILE_NAME = "checkpoints.jsonl"


def checkpoint_path(data_dir: Path) -> Path:
    return audit_dir(data_dir) / FILE_NAME


@dataclass(frozen=True)
class Checkpoint:
    """One verified line: the head of `chain` was entry `id` with hash `hash` at `at`."""

    line: int
    chain: str
    id: int
    hash: str
    at: str


def append(data_dir: Path, key: SigningKey, chain: str, entry_id: int, entry_hash: str) -> None:
    """Append one signed line saying that entry `entry_id` (`entry_hash`) heads `chain` now."""
    path = checkpoint_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
    with os.fdopen(fd, "r+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # one writer at a time, so each line links to the real last one
        try:
            prev = hashlib.sha256(_last_line(f)).hexdigest() if f.seek(0, os.SEEK_END) else GENESIS
            body = {"at": datetime.now(UTC).isoformat(timespec="microseconds"), "chain": chain,
                    "hash": entry_hash, "id": entry_id, "key": key.id, "prev": prev}  # fmt: skip
            text = json.dumps(body, sort_keys=True, separators=(",", ":"))
            line = json.dumps({**body, "sig": key.sign(text)}, sort_keys=True, separators=(",", ":"))
            f.write(line.encode() + b"\n")
            f.flush()
            os.fsync(f.fileno())
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def read(data_dir: Path, keys: dict[str, Ed25519PublicKey]) -> tuple[list[Checkpoint], list[str]]:
    """Every line that verifies, and what is wrong with the others (bad signature, broken link)."""
    path = checkpoint_path(data_dir)
    good: list[Checkpoint] = []
    problems: list[str] = []
    if not path.exists():
        return good, problems
    prev = GENESIS
    for n, raw in _lines(path):
        try:
            line = json.loads(raw)
            sig = line.pop("sig")
            text = json.dumps(line, sort_keys=True, separators=(",", ":"))
            bad = verify(keys, str(line["key"]), text, str(sig))
            entry = Checkpoint(n, str(line["chain"]), int(line["id"]), str(line["hash"]), str(line["at"]))
        except (ValueError, KeyError, TypeError):
            problems.append(f"line {n}: not a checkpoint line (edited or truncated)")
            prev = hashlib.sha256(raw).hexdigest()
            continue
        if bad is not None:
            problems.append(f"line {n}: {bad}: written or edited without the service key")
        elif line["prev"] != prev:
            problems.append(f"line {n}: does not follow the line before it: lines were removed or inserted there")
            good.append(entry)
        else:
            good.append(entry)
        prev = hashlib.sha256(raw).hexdigest()
    return good, problems


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            raw = raw.rstrip(b"\n")
            if raw:
                yield n, raw


def _last_line(f: BinaryIO) -> bytes:
    """The last complete line of an open file (read backwards in blocks)."""
    end = f.seek(0, os.SEEK_END)
    block, data = 4096, b""
    pos = end
    while pos > 0:
        pos = max(0, pos - block)
        f.seek(pos)
        data = f.read(end - pos)
        if data.rstrip(b"\n").count(b"\n") >= 1 or pos == 0:
            break
    return data.rstrip(b"\n").rsplit(b"\n", 1)[-1]
