"""A demo killed with SIGKILL leaves no Prometheus or Alertmanager behind, and a demo that starts
stops what a killed one left in its folder (pid file checked by command line), nothing else.

The demo runs as `runofshow demo` in a session of its own, as a person's `make demo` would; the
tests wait on conditions (children listed and Prometheus up; children gone), each bounded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runofshow.demo.processes import PID_FILE, Child, PidFile, cmdline
from tests.helpers import require_binary, wait_until

pytestmark = pytest.mark.e2e

STARTUP_S = 120.0  # services, Prometheus, Alertmanager, two scrapes of both tracks
GONE_S = 30.0


@pytest.fixture(autouse=True)
def _binaries() -> None:
    require_binary("prometheus")
    require_binary("prometheus-alertmanager")


class DemoProcess:
    """`runofshow demo --out OUT` in its own session, output in OUT/demo.out."""

    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.out, self.work = out, out / "prometheus"
        self.output = out / "demo.out"
        with open(self.output, "wb") as sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "runofshow.cli.main", "demo", "--out", str(out)],
                stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def children_up(self) -> list[Child]:
        """The demo's Prometheus and Alertmanager, once both run and Prometheus has scraped."""
        assert self.proc.poll() is None, f"the demo exited with {self.proc.returncode}: {self.text()[-2000:]}"
        if "metrics: Prometheus" not in self.text():
            return []
        children = [c for c in PidFile(self.work).children() if cmdline(c.pid) == c.argv]
        return children if {c.name for c in children} == {"prometheus", "alertmanager"} else []

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)


def running(children: list[Child]) -> list[Child]:
    return [c for c in children if cmdline(c.pid) == c.argv]


def processes_mentioning(folder: Path) -> list[tuple[int, tuple[str, ...]]]:
    """Every process on the machine whose command line names `folder`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            argv = cmdline(int(entry.name))
            if argv and any(str(folder) in arg for arg in argv):
                found.append((int(entry.name), argv))
    return found


@pytest.fixture
def demos(tmp_path: Path) -> Iterator[list[DemoProcess]]:
    """Demos started by a test; whatever is left (a failed test) is killed, children included."""
    started: list[DemoProcess] = []
    yield started
    for d in started:
        d.kill()
    for pid, _ in processes_mentioning(tmp_path):
        os.kill(pid, signal.SIGKILL)


def test_sigkill_of_the_demo_leaves_no_child_behind(tmp_path: Path, demos: list[DemoProcess]) -> None:
    demo = DemoProcess(tmp_path / "demo")
    demos.append(demo)
    children = wait_until(demo.children_up, timeout=STARTUP_S, what="the demo's Prometheus and Alertmanager")

    demo.kill()

    wait_until(lambda: not running(children), timeout=GONE_S,
               what=f"the children of the killed demo to end: {running(children)}")
    assert processes_mentioning(demo.out) == []


def test_a_demo_stops_what_a_killed_one_left_and_nothing_else(
    tmp_path: Path, demos: list[DemoProcess],
) -> None:
    out = tmp_path / "demo"
    work = out / "prometheus"
    work.mkdir(parents=True)
    # What a killed demo left: a process still running the command line its pid file recorded ...
    stale_argv = [sys.executable, "-c", "import time; time.sleep(600)", f"--config.file={work}/prometheus.yml"]
    stale = subprocess.Popen(stale_argv, start_new_session=True)
    # ... and a pid that now belongs to something unrelated (the recorded Alertmanager is long gone).
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    try:
        pid_file = PidFile(work)
        pid_file.add(Child("prometheus", stale.pid, tuple(stale_argv)))
        pid_file.add(Child("alertmanager", unrelated.pid,
                           ("/usr/bin/prometheus-alertmanager", f"--config.file={work}/alertmanager.yml")))
        assert (work / PID_FILE).is_file()

        demo = DemoProcess(out)
        demos.append(demo)
        children = wait_until(demo.children_up, timeout=STARTUP_S, what="the new demo's Prometheus and Alertmanager")

        assert stale.wait(GONE_S) == -signal.SIGTERM  # stopped by the new demo, with SIGTERM
        assert unrelated.poll() is None  # left alone
        assert {c.pid for c in children}.isdisjoint({stale.pid, unrelated.pid})
        assert {c.pid for c in PidFile(work).children()} == {c.pid for c in children}
        wait_until(lambda: f"pid {stale.pid}" in demo.text(), timeout=GONE_S,
                   what="the demo to say what it stopped")
        assert f"{unrelated.pid}" not in demo.text().split("left running:")[1].splitlines()[0]
    finally:
        for p in (stale, unrelated):
            if p.poll() is None:
                p.kill()
            p.wait(10)
