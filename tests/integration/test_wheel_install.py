"""The wheel the Dockerfile installs: built from this checkout, installed into a clean venv (its
dependencies from the package index, as in the image), and `runofshow --help` runs from it, with
the team-mode commands the container uses."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(1200)
def test_the_wheel_installs_into_a_clean_venv_and_runs(tmp_path: Path) -> None:
    # not this checkout's sources: with them on PYTHONPATH pip would find runofshow installed already
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(dist), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("runofshow-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    pip = subprocess.run([str(env_dir / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                          str(wheel)], capture_output=True, text=True, timeout=1100, env=env)
    assert pip.returncode == 0, pip.stderr[-4000:]
    exe = env_dir / "bin" / "runofshow"
    helped = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path, env=env)
    assert helped.returncode == 0, helped.stderr
    for command in ("worker", "submit", "serve", "worker-alive"):
        assert command in helped.stdout
    alive = subprocess.run([str(exe), "worker-alive", str(tmp_path / "none.alive")], capture_output=True,
                           text=True, timeout=120, cwd=tmp_path, env=env)
    assert alive.returncode == 1 and "worker not alive" in alive.stderr
    # the installed package is the wheel's, not this checkout's
    where = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import runofshow; print(runofshow.__file__)"],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert str(env_dir) in where.stdout
