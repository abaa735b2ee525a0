"""The signing key: made 0600 on first use, rotated with the old public key kept, and the
checkpoint file's lines linked and signed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pipeline.seal import checkpoints
from pipeline.seal.keys import key_path, load_signing_key, rotate, trusted_public_keys, verify


@pytest.fixture(autouse=True)
def _no_configured_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAFFICCAM_SIGNING_KEY", raising=False)


def test_key_made_on_first_use_readable_only_by_its_owner(tmp_path: Path) -> None:
    key = load_signing_key(tmp_path)
    path = key_path(tmp_path)
    assert path == tmp_path / "audit" / "signing-key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (tmp_path / "audit" / "public-keys" / f"{key.id}.pub").is_file()
    assert verify(trusted_public_keys(tmp_path), key.id, "seal", key.sign("seal")) is None
    assert verify(trusted_public_keys(tmp_path), key.id, "seal!", key.sign("seal")) is not None


def test_configured_key_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "secrets" / "trafficcam.pem"
    monkeypatch.setenv("TRAFFICCAM_SIGNING_KEY", str(elsewhere))
    load_signing_key(tmp_path / "data")
    assert elsewhere.is_file() and not (tmp_path / "data" / "audit" / "signing-key.pem").exists()


def test_rotation_keeps_old_signatures_verifiable(tmp_path: Path) -> None:
    old = load_signing_key(tmp_path)
    old_sig = old.sign("old seal")
    old_id, new_id = rotate(tmp_path)
    assert old_id == old.id and new_id != old.id
    new = load_signing_key(tmp_path)
    assert new.id == new_id
    keys = trusted_public_keys(tmp_path)
    assert set(keys) == {old_id, new_id}
    assert verify(keys, old_id, "old seal", old_sig) is None
    retired = list((tmp_path / "audit").glob("signing-key.pem.retired-*"))
    assert len(retired) == 1 and stat.S_IMODE(retired[0].stat().st_mode) == 0o600


def test_checkpoint_lines_are_linked_and_signed(tmp_path: Path) -> None:
    key = load_signing_key(tmp_path)
    for n in (1, 2, 3):
        checkpoints.append(tmp_path, key, "reviews", n, f"{n}" * 64)
    keys = trusted_public_keys(tmp_path)
    good, bad = checkpoints.read(tmp_path, keys)
    assert [c.id for c in good] == [1, 2, 3] and bad == []
    path = checkpoints.checkpoint_path(tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[2]]) + "\n")  # a line removed in the middle
    good, bad = checkpoints.read(tmp_path, keys)
    assert bad == ["line 2: does not follow the line before it: lines were removed or inserted there"]
    path.write_text(lines[0].replace('"id":1', '"id":7') + "\n")  # a line edited
    good, bad = checkpoints.read(tmp_path, keys)
    assert good == [] and "signature does not verify" in bad[0]
