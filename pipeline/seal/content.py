"""The sealed content of a violation and its hash.

The content is canonical JSON (sorted keys, no spaces, UTC times with microseconds), so the same
fields always give the same hash on SQLite and PostgreSQL. The hash covers the previous seal's hash
too, which makes the seals one chain: changing, removing or re-ordering one breaks the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

GENESIS = "0" * 64
"""The `prev_hash` of the first seal."""

SEALED_FIELDS = (
    "violation", "dedup_key", "camera", "run", "rule", "where", "track", "label", "frame", "time_s",
    "occurred_at", "time_source", "recorded_at", "signal_id", "signal_colour", "seconds_into_colour",
    "colour_onset_seen", "box", "confidence", "plate_text", "model_sha256", "scene_sha256", "settings_hash",
    "source_sha256", "evidence",
)  # fmt: skip
"""What a seal covers: the violation's time and its source, place, rule, signal state, vehicle,
what produced it (model, scene, settings, source file) and the SHA-256 of each evidence file."""


def canonical(content: Mapping[str, Any]) -> str:
    """`content` as canonical JSON text."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def seal_hash(content_json: str, prev_hash: str) -> str:
    """SHA-256 over the previous seal's hash and this seal's canonical content."""
    return hashlib.sha256(f"{prev_hash}\n{content_json}".encode()).hexdigest()


def changed_fields(sealed: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """What differs between the sealed content and the content rebuilt from the rows today:
    ``"rule: sealed 'red_light', now 'wrong_way'"`` per field (evidence per kind)."""
    out: list[str] = []
    for key in sorted(set(sealed) | set(now)):
        before, after = sealed.get(key), now.get(key)
        if key == "evidence" and isinstance(before, dict) and isinstance(after, dict):
            for kind in sorted(set(before) | set(after)):
                if before.get(kind) != after.get(kind):
                    was, now_ = _short(before.get(kind)), _short(after.get(kind))
                    out.append(f"evidence {kind} SHA-256: sealed {was}, now {now_}")
        elif before != after:
            out.append(f"{key}: sealed {before!r}, now {after!r}")
    return out


def _short(value: Any) -> str:
    return f"{value[:12]}…" if isinstance(value, str) else repr(value)
