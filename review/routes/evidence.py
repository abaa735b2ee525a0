"""Evidence files, served by their id in the database and only to logged-in users.

The request names an evidence id (digits) and nothing else: the file's path comes from the
database row, and is served only if it resolves inside the data dir.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from pipeline.store.review_queries import EvidenceItem, get_evidence
from review.auth import CurrentUser, database
from review.params import BadParameter, parse_id

router = APIRouter()
MEDIA_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "video/mp4": ".mp4"}


@router.get("/evidence/{evidence_id}")
def evidence_file(request: Request, evidence_id: str, user: CurrentUser) -> FileResponse:
    """The file of evidence row `evidence_id` (images inline, clips with range requests)."""
    try:
        number = parse_id(evidence_id, "evidence id")
    except BadParameter:
        raise HTTPException(404, "No such evidence.") from None  # digits 0-9 only: '１' or '²' is no id
    db = database(request)
    item = get_evidence(db, number) if number is not None else None
    path = resolve_evidence(db.data_dir, item) if item is not None else None
    if item is None or path is None:
        raise HTTPException(404, "No such evidence, or its file is gone.")
    ext = MEDIA_TYPES.get(item.mime)
    media_type = item.mime if ext else "application/octet-stream"
    return FileResponse(
        path,
        media_type=media_type,
        filename=f"{item.public_id}-{item.kind}{ext or '.bin'}",
        content_disposition_type="inline" if ext else "attachment",
        headers={"Cache-Control": "private, max-age=300"},  # nosniff etc.: review.app.SecurityHeaders
    )


def resolve_evidence(data_dir: Path, item: EvidenceItem) -> Path | None:
    """The file of `item` when it exists inside `data_dir`, else None (a tampered row cannot
    point the server at another file)."""
    root = Path(data_dir).resolve()
    path = (root / item.path).resolve()
    if not path.is_relative_to(root / "evidence") or not path.is_file():
        return None
    return path
