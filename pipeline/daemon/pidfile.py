"""One pid file per `watch` instance, so `cameras reload` reaches every instance of a data dir.

Several instances may share one data dir (one PostgreSQL database, cameras shared by lease).
The first takes ``watch.pid``; an instance that finds it held by a live process writes
``watch.<pid>.pid`` beside it instead of overwriting it. A pid file whose process is gone (a
crash) is taken over.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def claim(path: Path) -> Path:
    """Write this process's pid to `path`, or to ``<stem>.<pid><suffix>`` beside it when `path`
    belongs to another live process; the path written.

    Raises:
        OSError: the directory cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = os.getpid()
    for candidate in (path, path.with_name(f"{path.stem}.{mine}{path.suffix}")):
        for _ in range(2):
            try:
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                owner = read_pid(candidate)
                if owner is not None and owner != mine and alive(owner):
                    break  # another instance's: try the next name
                with contextlib.suppress(FileNotFoundError):
                    candidate.unlink()  # stale (its process is gone) or ours: take it
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(f"{mine}\n")
            return candidate
    raise OSError(f"cannot claim a pid file beside {path}")


def release(path: Path | None) -> None:
    """Remove `path` if it still names this process."""
    if path is not None and read_pid(path) == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    return True


def instances(data_dir: Path, name: str = "watch.pid") -> list[tuple[Path, int]]:
    """The live instances' pid files in `data_dir` (``watch.pid`` and ``watch.<pid>.pid``)."""
    stem, suffix = Path(name).stem, Path(name).suffix
    found = []
    for path in sorted(data_dir.glob(f"{stem}*{suffix}")):
        middle = path.name[len(stem) : len(path.name) - len(suffix)]
        if middle and not (middle.startswith(".") and middle[1:].isdigit()):
            continue
        pid = read_pid(path)
        if pid is not None and alive(pid):
            found.append((path, pid))
    return found
