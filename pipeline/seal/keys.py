"""The service's Ed25519 signing key and the public keys that verify its signatures.

The private key lives in one file that only the service's user may read (mode 0600), by default
`<data dir>/audit/signing-key.pem`, or where `TRAFFICCAM_SIGNING_KEY` says. It is made on first use.
Every public key ever used is kept in `<data dir>/audit/public-keys/<key id>.pub`, so seals signed
before a rotation still verify; copy that folder off the machine too, since whoever can write the
data dir could replace it. `rotate` makes a new key and keeps the old public key.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pipeline.errors import StorageError

KEY_ENV = "TRAFFICCAM_SIGNING_KEY"
_lock = threading.Lock()
_cache: dict[Path, SigningKey] = {}


def audit_dir(data_dir: Path) -> Path:
    """Where the public keys and the checkpoint file live."""
    return Path(data_dir) / "audit"


def key_path(data_dir: Path) -> Path:
    """The private key file: `TRAFFICCAM_SIGNING_KEY`, else `<data dir>/audit/signing-key.pem`."""
    configured = os.environ.get(KEY_ENV)
    return Path(configured) if configured else audit_dir(data_dir) / "signing-key.pem"


def key_id(public: Ed25519PublicKey) -> str:
    """A short, stable name of a public key: the first 16 hex digits of the SHA-256 of its bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKey:
    """The private key and its id; signs text."""

    private: Ed25519PrivateKey
    id: str

    def sign(self, text: str) -> str:
        """The hex Ed25519 signature of `text` (UTF-8)."""
        return self.private.sign(text.encode()).hex()


def load_signing_key(data_dir: Path) -> SigningKey:
    """The service's signing key, made (0600) with its public key on first use.

    Raises:
        StorageError: the key file cannot be read or written, or is not an Ed25519 key.
    """
    path = key_path(data_dir).resolve()
    with _lock:
        if path in _cache:
            return _cache[path]
        try:
            key = _read(path) if path.exists() else _create(path)
            _keep_public(audit_dir(data_dir), key.private.public_key())
        except (OSError, ValueError, TypeError) as exc:
            raise StorageError(f"signing key {path}: {exc}") from None
        _cache[path] = key
        return key


def rotate(data_dir: Path) -> tuple[str, str]:
    """Replace the signing key with a new one; the old public key stays to verify old seals.

    The old private key is renamed to `<key>.retired-<UTC time>` (0600): destroy it once its public
    key is kept safely elsewhere. Returns (old key id, new key id).
    """
    path = key_path(data_dir).resolve()
    with _lock:
        old = _read(path) if path.exists() else None
        if old is not None:
            _keep_public(audit_dir(data_dir), old.private.public_key())
            path.rename(path.with_name(f"{path.name}.retired-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"))
        new = _create(path)
        _keep_public(audit_dir(data_dir), new.private.public_key())
        _cache[path] = new
    return (old.id if old else ""), new.id


def trusted_public_keys(data_dir: Path, extra: Path | None = None) -> dict[str, Ed25519PublicKey]:
    """Every kept public key by id (from the data dir's `audit/public-keys`, and `extra` if given)."""
    keys: dict[str, Ed25519PublicKey] = {}
    for folder in (audit_dir(data_dir) / "public-keys", extra):
        if folder is None or not folder.is_dir():
            continue
        for file in sorted(folder.glob("*.pub")):
            public = serialization.load_pem_public_key(file.read_bytes())
            if isinstance(public, Ed25519PublicKey):
                keys[key_id(public)] = public
    return keys


def verify(keys: dict[str, Ed25519PublicKey], kid: str, text: str, signature: str) -> str | None:
    """None when `signature` is a valid signature of `text` by key `kid`, else what is wrong."""
    public = keys.get(kid)
    if public is None:
        return f"signed by key {kid}, which is not among the kept public keys"
    try:
        public.verify(bytes.fromhex(signature), text.encode())
    except (InvalidSignature, ValueError):
        return f"signature does not verify with key {kid}"
    return None


def _read(path: Path) -> SigningKey:
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return SigningKey(private, key_id(private.public_key()))


def _create(path: Path) -> SigningKey:
    path.parent.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:  # 0600 from the start: never readable by others, not even briefly
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it a moment ago
        time.sleep(0.2)
        return _read(path)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return SigningKey(private, key_id(private.public_key()))


def _keep_public(folder: Path, public: Ed25519PublicKey) -> None:
    target = folder / "public-keys" / f"{key_id(public)}.pub"
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
