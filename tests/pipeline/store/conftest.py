"""Fixtures for the storage tests: a fresh SQLite database per test, and value factories."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from detector.types import Box, Colour
from pipeline.rules.base import Violation
from pipeline.store import Database, EvidenceFile, start_run
from tests.databases import open_test_database

MIME = {
    "before": "image/jpeg",
    "during": "image/jpeg",
    "after": "image/jpeg",
    "vehicle": "image/jpeg",
    "clip": "video/mp4",
}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """An empty SQLite database under a fresh data dir."""
    database = open_test_database(tmp_path / "data")
    yield database
    database.close()


@pytest.fixture
def run_id(db: Database) -> int:
    """A running run of camera ``cam-1``."""
    return start_run(
        db,
        camera_id="cam-1",
        source="/clips/junction.mp4",
        source_sha256="a" * 64,
        model_name="coco-n",
        model_sha256="b" * 64,
        scene_sha256="c" * 64,
        settings_json='{"analysis_fps": 10}',
        settings_hash="d" * 64,
        software_version="0.1.0",
        frames_expected=383,
    )


@pytest.fixture
def make_violation() -> Callable[..., Violation]:
    """`make_violation(track_id=8, rule="solid_line")`: a red-light violation with changes."""
    base = Violation(
        rule="red_light",
        where="southbound",
        track_id=7,
        label="motorcycle",
        frame_index=57,
        timestamp=9.5,
        box=Box(100.0, 200.0, 140.5, 260.25),
        confidence=0.81,
        signal_id="main",
        signal_colour=Colour.RED,
        seconds_into_colour=3.2,
        details={"crossing_px": 12.5},
    )
    return lambda **changes: replace(base, **changes)


@pytest.fixture
def make_evidence() -> Callable[..., list[EvidenceFile]]:
    """`make_evidence(public_id, kinds)`: evidence files as the evidence writer reports them."""

    def make(public_id: str, kinds: tuple[str, ...] = ("before", "during", "after", "vehicle", "clip")):
        ext = {"clip": "mp4"}
        return [
            EvidenceFile(
                kind=kind,
                path=f"evidence/cam-1/2024-05-01/{public_id}/{kind}.{ext.get(kind, 'jpg')}",
                sha256=hashlib.sha256(f"{public_id}/{kind}".encode()).hexdigest(),
                bytes=1000 + i,
                mime=MIME[kind],
            )
            for i, kind in enumerate(kinds)
        ]

    return make
