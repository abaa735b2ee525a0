"""Three `trafficcam watch` processes share three cameras through PostgreSQL; one is killed.

Real processes, real MJPEG streams on 127.0.0.1 (the Hanoi clip, red light with runners), the
PostgreSQL on 127.0.0.1:5432 whatever --database chose (leases across processes are what
PostgreSQL is for here). The killed instance gets SIGKILL: no clean-up of any kind.

It runs in the ``--database postgresql`` pass only: it uses PostgreSQL in either pass, and it is
the slowest test there is (three detectors on two cores).
"""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from pipeline.store import list_violations, open_database
from pipeline.store.coverage import list_coverage
from pipeline.store.leases import list_leases
from tests.conftest import need_shared
from tests.daemon.conftest import HANOI_SCENE, free_port, wait_for, watch_process, write_cameras
from tests.databases import on_postgresql, postgres_url

pytestmark = pytest.mark.slow

CAMERAS = ["north", "south", "east"]
TAKEOVER_BOUND_S = 30.0
START_FRAME = 110  # a few seconds before the first red-light runner


class Instance:
    def __init__(self, name: str, cameras: Path, data: Path, url: str, tmp: Path):
        self.name, self.port = name, free_port()
        self.proc = watch_process(cameras, data, self.port, "--db", url, "--min-free-mb", "0",
                                  "--pid-file", str(tmp / f"{name}.pid"), "--stop-timeout", "40")  # fmt: skip
        self.lines: list[str] = []
        stdout = self.proc.stdout
        assert stdout is not None
        self.reader = threading.Thread(target=lambda: self.lines.extend(iter(stdout.readline, "")), daemon=True)
        self.reader.start()

    def health(self) -> dict | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5) as r:
                return json.loads(r.read())
        except OSError:
            return None

    def held(self) -> set[str]:
        h = self.health()
        return set(h["held"]) if h else set()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        return f"--- {self.name} ---\n" + "".join(self.lines[-60:])


def _held_by_exactly_one(instances: list[Instance]) -> dict[str, str] | None:
    """camera -> instance when the live instances' /health between them hold every camera once."""
    owners: dict[str, list[str]] = {c: [] for c in CAMERAS}
    for inst in instances:
        if not inst.alive:
            continue
        health = inst.health()
        if health is None:
            return None
        for cam in health["held"]:
            owners[cam].append(inst.name)
    if all(len(o) == 1 for o in owners.values()):
        return {c: o[0] for c, o in owners.items()}
    return None


def _balanced(instances: list[Instance], shares: list[int]) -> dict[str, str] | None:
    owners = _held_by_exactly_one(instances)
    return owners if owners and sorted(Counter(owners.values()).values()) == shares else None


@pytest.mark.skipif(not on_postgresql(), reason="runs in the --database postgresql pass (it uses PostgreSQL anyway)")
def test_cameras_move_to_the_survivors_when_an_instance_is_killed(tmp_path, mjpeg_camera):
    need_shared("models", "yolov8n_int8.onnx")
    data = tmp_path / "data"
    url = postgres_url(data)
    open_database(url, data).close()  # schema once, before three processes race for it
    stream = mjpeg_camera(fps=6.0, start_frame=START_FRAME, count=110)
    cameras = write_cameras(tmp_path / "cameras.yaml", [
        {"id": cam, "source": f"{stream.url}?camera={cam}", "scene": HANOI_SCENE, "min_fps": 0.5}
        for cam in CAMERAS
    ])  # fmt: skip
    instances = [Instance(f"i{n}", cameras, data, url, tmp_path) for n in range(3)]
    try:
        # every camera held by exactly one instance; the first to start takes all, then hands over to 1 / 1 / 1
        owners = wait_for(lambda: _balanced(instances, [1, 1, 1]), 180, "the three instances to share the cameras")
        db = open_database(url, data)
        wait_for(lambda: list_violations(db), 240, "violations from the streams", every=1)

        # kill the instance that holds the camera with the first violation, with no chance to release anything
        victim = next(i for i in instances if i.name == owners[list_violations(db)[0].camera_id])
        survivors = [i for i in instances if i is not victim]
        orphaned = {c for c, o in owners.items() if o == victim.name}
        victim_id = victim.health()["instance"]
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait(10)
        killed_at = time.monotonic()
        owners = wait_for(lambda: _held_by_exactly_one(survivors), TAKEOVER_BOUND_S + 30, "the takeover", every=0.5)
        takeover_s = time.monotonic() - killed_at
        print(f"takeover: every camera held again {takeover_s:.1f} s after SIGKILL")
        assert takeover_s <= TAKEOVER_BOUND_S, f"took {takeover_s:.1f} s"
        assert sorted(Counter(owners.values()).values()) == [1, 2], owners
        assert all(lease.instance != victim_id for lease, _ in list_leases(db))

        # the taken-over cameras record again under their new holder
        before = {v.public_id for v in list_violations(db)}
        wait_for(lambda: [v for v in list_violations(db) if v.public_id not in before and v.camera_id in orphaned],
                 240, "a violation on a taken-over camera", every=1)  # fmt: skip

        # an instance that comes back gets its fair share again: 1 / 1 / 1
        back = Instance("back", cameras, data, url, tmp_path)
        instances.append(back)
        survivors.append(back)
        wait_for(lambda: _balanced(survivors, [1, 1, 1]), 120, "the returning instance to get its share", every=0.5)
        for inst in survivors:
            inst.proc.send_signal(signal.SIGTERM)
        for inst in survivors:
            assert inst.proc.wait(90) == 0, inst.log()
    except BaseException:
        for inst in instances:
            print(inst.log())
        raise
    finally:
        for inst in instances:
            if inst.alive:
                inst.proc.kill()
                inst.proc.wait()

    # no duplicates: one stream, one holder at a time, so one record per runner per pass of the clip
    violations = list_violations(db)
    assert violations
    for cam in CAMERAS:
        events = sorted((v.occurred_at.timestamp(), v.rule, v.where, v.run_id)
                        for v in violations if v.camera_id == cam)  # fmt: skip
        for (t1, rule1, where1, run1), (t2, rule2, where2, run2) in zip(events, events[1:], strict=False):
            assert not (rule1 == rule2 and where1 == where2 and run1 != run2 and t2 - t1 < 1.0), (cam, events)

    # the ledger of each taken-over camera has no gap longer than the takeover
    for cam in CAMERAS:
        periods = list_coverage(db, cam)
        assert periods and all(p.ended_at is not None for p in periods), (cam, periods)  # every instance stopped
        for prev, nxt in zip(periods, periods[1:], strict=False):
            gap = (nxt.started_at - prev.ended_at).total_seconds()
            print(f"coverage {cam}: {prev.reason.value} by {prev.instance} -> {nxt.reason.value} by {nxt.instance}, "
                  f"gap {gap:.1f} s")  # fmt: skip
            assert gap <= TAKEOVER_BOUND_S, (cam, gap, prev, nxt)
    assert list_leases(db) == []  # the clean shutdowns gave everything back
    db.close()
