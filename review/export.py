"""Exporting violations: CSV or JSON rows, and a zip of their evidence with checksums.

Shared by `trafficcam export` and the admins' download buttons.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

from pipeline.store.db import Database
from pipeline.store.records import EvidenceKind
from pipeline.store.review_audit import check_evidence_file
from pipeline.store.review_export import EXPORT_FIELDS, export_rows
from pipeline.store.review_queries import QueueFilter, evidence_of

FORMATS = ("csv", "json", "zip")
CSV_FIELDS = [f for f in EXPORT_FIELDS if f != "evidence_sha256"] + [f"sha256_{k.value}" for k in EvidenceKind]
_EXT = {"image/jpeg": ".jpg", "image/png": ".png", "video/mp4": ".mp4"}


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula (it starts with =, +, -, @, a tab or a
    carriage return), made plain text with a leading apostrophe; other values unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    if isinstance(value, list):
        return neutralise(" ".join(str(v) for v in value))
    return value


def csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """CSV text, header first, one chunk per row (evidence hashes as ``sha256_<kind>`` columns);
    cells that would start a formula are neutralised (`neutralise`)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        flat = dict(row)
        for kind, sha in (flat.pop("evidence_sha256", None) or {}).items():
            flat[f"sha256_{kind}"] = sha
        writer.writerow({k: neutralise(v) for k, v in flat.items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def json_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A JSON array of the rows, written a row at a time."""
    yield "["
    for i, row in enumerate(rows):
        yield ("," if i else "") + "\n  " + json.dumps(row, ensure_ascii=False, sort_keys=False)
    yield "\n]\n"


def write_rows(
    db: Database,
    flt: QueueFilter,
    fmt: str,
    out: IO[str],
    public_ids: Sequence[str] | None = None,
    offence_codes: Mapping[str, str] | None = None,
) -> int:
    """Write the matching violations to `out` as ``csv`` or ``json``; return how many rows (offences)."""
    count = 0

    def counted() -> Iterator[dict[str, Any]]:
        nonlocal count
        for row in export_rows(db, flt, public_ids, offence_codes=offence_codes):
            count += 1
            yield row

    chunks = csv_lines(counted()) if fmt == "csv" else json_chunks(counted())
    for chunk in chunks:
        out.write(chunk)
    return count


def write_zip(
    db: Database,
    flt: QueueFilter,
    out: IO[bytes],
    public_ids: Sequence[str] | None = None,
    offence_codes: Mapping[str, str] | None = None,
) -> list[str]:
    """A zip of the matching violations: ``violations.csv``, ``violations.json``, each evidence
    file as ``<public id>/<kind>.<ext>`` and ``SHA256SUMS`` (``sha256sum -c`` checks it).

    Files missing or altered since they were recorded are left out and listed in
    ``PROBLEMS.txt``; the returned list says the same.
    """
    rows = export_rows(db, flt, public_ids, offence_codes=offence_codes)
    root = db.data_dir.resolve()
    sums, problems = [], []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:  # JPEG / H.264 do not compress
        zf.writestr("violations.csv", "".join(csv_lines(rows)))
        zf.writestr("violations.json", "".join(json_chunks(rows)))
        for item in evidence_of(db, [r["public_id"] for r in rows]):
            name = f"{item.public_id}/{item.kind}{_EXT.get(item.mime, '.bin')}"
            problem = check_evidence_file(root, item.path, item.sha256, item.bytes)
            if problem is not None:
                problems.append(f"{name}: {problem}")
                continue
            zf.write(root / item.path, name)
            sums.append(f"{item.sha256}  {name}\n")
        zf.writestr("SHA256SUMS", "".join(sums))
        if problems:
            zf.writestr("PROBLEMS.txt", "".join(p + "\n" for p in problems))
    return problems
