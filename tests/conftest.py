from __future__ import annotations

import os
from pathlib import Path

import pytest

from detector.types import Box, Colour, LightState, Observation, Track

os.environ.setdefault("YOLO_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TRAFFICCAM_SHARED", REPO.parent / "shared"))
COCO_WEIGHTS = SHARED / "models" / "yolov8n_int8.onnx"
os.environ.setdefault("TRAFFICCAM_MODEL_PATH", str(SHARED / "models"))  # manifest weights live there


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database", choices=("sqlite", "postgresql"), default=os.environ.get("TRAFFICCAM_TEST_DATABASE", "sqlite"),
        help="Run the tests that store records on SQLite (default) or on the PostgreSQL server of "
        "TRAFFICCAM_TEST_POSTGRES_URL (one throwaway schema per data dir). Env: TRAFFICCAM_TEST_DATABASE.",
    )  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    os.environ["TRAFFICCAM_TEST_DATABASE"] = config.getoption("--database")


def pytest_report_header(config: pytest.Config) -> str:
    from tests.databases import POSTGRES_URL, on_postgresql

    return f"database: {'PostgreSQL ' + POSTGRES_URL if on_postgresql() else 'SQLite'}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests.databases import drop_schemas

    drop_schemas()


@pytest.fixture(autouse=True)
def _no_database_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A TRAFFICCAM_DATABASE_URL of the shell must not leak into tests: they choose with --database."""
    monkeypatch.delenv("TRAFFICCAM_DATABASE_URL", raising=False)


def need_shared(*parts: str) -> Path:
    """A path under ../shared, or skip the test saying what is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the shared test data beside the repository)")
    return path


def make_track(
    boxes: list[tuple[float, float, float, float]], fps: float = 10.0, label: str = "car", track_id: int = 1,
    start_frame: int = 0,
) -> Track:
    """A track from a list of boxes, one per analysed frame."""
    obs = tuple(
        Observation(start_frame + i, (start_frame + i) / fps, Box(*b), 0.9, label) for i, b in enumerate(boxes)
    )
    return Track(track_id, label, obs)


def moving(x: float, ys: list[float], w: float = 20, h: float = 40) -> list[tuple[float, float, float, float]]:
    """Boxes whose bottom-centre is at (x, y) for each y."""
    return [(x - w / 2, y - h, x + w / 2, y) for y in ys]


class FixedBoard:
    """A signal board from a list of (since_seconds, colour) changes."""

    def __init__(self, changes: list[tuple[float, Colour]], signal_id: str = "main", fps: float = 10.0):
        self.signal_id = signal_id
        self.states = [LightState(signal_id, c, 1.0, t, int(round(t * fps))) for t, c in changes]

    def state_at(self, signal_id: str, timestamp: float) -> LightState | None:
        if signal_id != self.signal_id:
            return None
        current = None
        for s in self.states:
            if s.since <= timestamp:
                current = s
        return current
