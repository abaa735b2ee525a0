"""Domain exceptions. Each message says what was expected, what was found, what to do."""

from __future__ import annotations


class TrafficcamError(Exception):
    """Base class for errors the CLI turns into one clear line and a non-zero exit."""

    exit_code = 1


class SceneError(TrafficcamError):
    """A scene file that cannot be used; `errors` lists every problem found."""

    exit_code = 2

    def __init__(self, path: str, errors: list[str]):
        self.path = path
        self.errors = errors
        super().__init__(f"{path}: {len(errors)} error(s)\n" + "\n".join(f"  {e}" for e in errors))


class CamerasError(SceneError):
    """A cameras file that cannot be used; `errors` lists every problem found (exit 2)."""


class SourceError(TrafficcamError):
    """A video file or stream that cannot be read."""

    exit_code = 2


class ModelError(TrafficcamError):
    """Detector weights that cannot be found or loaded."""

    exit_code = 2


class StorageError(TrafficcamError):
    """The data directory or database cannot be written."""

    exit_code = 3


class SchemaError(StorageError):
    """The database's schema revision is not the one this code needs (older, newer, foreign)."""


class LeaseLostError(StorageError):
    """Another instance took over the camera this process was writing for."""
