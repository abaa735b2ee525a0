"""One pid file per `watch` instance: a second instance on a data dir does not overwrite the first's,
and `cameras reload` asks every live instance."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import typer
from typer.testing import CliRunner

from pipeline.cli.watch import register
from pipeline.daemon import pidfile

SLEEPER = (
    "import signal, sys, time, pathlib\n"
    "signal.signal(signal.SIGHUP, lambda *a: pathlib.Path(sys.argv[1]).write_text('hup'))\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def sleeper(flag: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", SLEEPER, str(flag)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout and proc.stdout.readline().strip() == "ready"
    return proc


def test_a_live_instances_pid_file_is_not_overwritten_and_a_dead_ones_is_taken(tmp_path):
    other = sleeper(tmp_path / "other-hup")
    try:
        (tmp_path / "watch.pid").write_text(f"{other.pid}\n")
        mine = pidfile.claim(tmp_path / "watch.pid")
        assert mine == tmp_path / f"watch.{os.getpid()}.pid"
        assert (tmp_path / "watch.pid").read_text().strip() == str(other.pid)
        assert {pid for _, pid in pidfile.instances(tmp_path)} == {other.pid, os.getpid()}
        pidfile.release(mine)
        assert not mine.exists()
    finally:
        other.kill()
        other.wait()
    # the other instance died without removing its file: the next one takes it
    assert pidfile.claim(tmp_path / "watch.pid") == tmp_path / "watch.pid"


def test_cameras_reload_asks_every_live_instance_of_the_data_dir(tmp_path):
    first, second = sleeper(tmp_path / "first-hup"), sleeper(tmp_path / "second-hup")
    try:
        (tmp_path / "watch.pid").write_text(f"{first.pid}\n")
        (tmp_path / f"watch.{second.pid}.pid").write_text(f"{second.pid}\n")
        (tmp_path / "watch.999999999.pid").write_text("999999999\n")  # a crashed instance's leftover
        cli = typer.Typer()
        cli.command("x")(lambda: None)
        register(cli)
        result = CliRunner().invoke(cli, ["cameras", "reload", "--data-dir", str(tmp_path)])
        assert result.exit_code == 0, result.output
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all((tmp_path / f).exists() for f in ("first-hup", "second-hup")):
            time.sleep(0.05)
        assert (tmp_path / "first-hup").exists() and (tmp_path / "second-hup").exists()
    finally:
        for proc in (first, second):
            proc.kill()
            proc.wait()
