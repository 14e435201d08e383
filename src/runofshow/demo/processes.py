"""The demo's processes: free loopback ports, and service binaries (Prometheus, Alertmanager) that
die with the demo.

Each `Process` runs in a process group of its own (so the terminal's Ctrl-C reaches the demo, which
stops them in order, and `stop()` signals the whole group) and, on Linux, with
`prctl(PR_SET_PDEATHSIG, SIGTERM)`: when the demo dies, even by SIGKILL, the kernel sends them
SIGTERM. The signal comes when the *thread* that started the child ends, so start them from a
thread that lives as long as the demo (the demo starts them from its main thread).

As a second line, every child is listed in the work folder's pid file (`demo.pids`, one JSON line
per child: name, pid, argv). A demo that starts in that folder runs `stop_stale` first: it stops
each listed process whose `/proc/<pid>/cmdline` is still exactly the recorded argv, and leaves a pid
that now belongs to anything else alone.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runofshow.errors import RunOfShowError
from runofshow.loopback import LOOPBACK, free_port

PID_FILE = "demo.pids"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
log = logging.getLogger(__name__)


def port_of(url_or_listen: str) -> int:
    return int(url_or_listen.rstrip("/").rsplit(":", 1)[1].split("/")[0])


def prometheus_binaries() -> tuple[str, str] | None:
    """(prometheus, alertmanager) when both are on PATH."""
    prom = shutil.which("prometheus")
    am = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    return (prom, am) if prom and am else None


# --------------------------------------------------------------------------- dying with the demo


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that asks the kernel for SIGTERM when the parent dies (Linux), or None.

    libc is looked up here, before the fork: the child then only makes two system calls."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the demo died between fork and prctl
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def cmdline(pid: int) -> tuple[str, ...] | None:
    """The argv of a running process, or None (gone, a zombie, or not ours to read)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if not raw:  # a zombie, or a kernel thread
        return None
    raw = raw[:-1] if raw.endswith(b"\0") else raw
    return tuple(arg.decode(errors="surrogateescape") for arg in raw.split(b"\0"))


@dataclass(frozen=True)
class Child:
    """One line of the pid file."""

    name: str
    pid: int
    argv: tuple[str, ...]


class PidFile:
    """The children a demo started in `work`: `demo.pids`, one JSON line per child."""

    def __init__(self, work: Path) -> None:
        self.path = work / PID_FILE

    def children(self) -> list[Child]:
        try:
            lines = self.path.read_text().splitlines()
        except OSError:
            return []
        out = []
        for line in lines:
            try:
                entry = json.loads(line)
                out.append(Child(str(entry["name"]), int(entry["pid"]), tuple(str(a) for a in entry["argv"])))
            except (ValueError, TypeError, KeyError):
                continue  # a line cut short by the kill: nothing to check it against
        return out

    def add(self, child: Child) -> None:
        self._write([*self.children(), child])

    def remove(self, pid: int) -> None:
        self._write([c for c in self.children() if c.pid != pid])

    def _write(self, children: list[Child]) -> None:
        if not children:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(json.dumps({"name": c.name, "pid": c.pid, "argv": list(c.argv)}) + "\n"
                               for c in children))
        tmp.replace(self.path)


class Process:
    """A service binary in a process group of its own that dies with the demo, its output in a log
    file, listed in the log folder's pid file while it runs; stop() = TERM to the group, then KILL."""

    def __init__(self, name: str, argv: list[str], log_path: Path) -> None:
        self.name, self.log_path, self.argv = name, log_path, list(argv)
        self.pid_file = PidFile(log_path.parent)
        self._log = open(log_path, "ab")  # closed in stop()
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, process_group=0,
                                     preexec_fn=_die_with_parent())  # prctl + getppid in the child
        self.pid_file.add(Child(name, self.proc.pid, tuple(argv)))

    def wait_ready(self, url: str, timeout_s: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-800:]
                raise RunOfShowError(f"{self.name} exited with {self.proc.returncode}: {tail}")
            try:
                if httpx.get(url, timeout=1.0).is_success:
                    return
            except httpx.HTTPError as err:
                log.debug("%s not answering yet: %s", self.name, err)
            time.sleep(0.1)
        raise RunOfShowError(f"{self.name} was not ready at {url} within {timeout_s:g} s")

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(timeout_s)
        self._log.close()
        self.pid_file.remove(self.proc.pid)

    def _signal(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.proc.pid, sig)  # the group's id is the child's pid (process_group=0)
        except ProcessLookupError:
            pass


def stop_stale(work: Path, timeout_s: float = 10.0) -> list[int]:
    """Stop what an earlier demo in `work` left running (it was killed before it could): each
    process in the pid file whose command line is still the recorded one (TERM, then KILL after
    `timeout_s`). A pid that now runs something else is left alone. Returns the pids stopped."""
    pid_file = PidFile(work)
    stopped = []
    for child in pid_file.children():
        if cmdline(child.pid) != child.argv:
            continue
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(child.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + timeout_s
            while cmdline(child.pid) == child.argv and time.monotonic() < deadline:
                time.sleep(0.05)
            if cmdline(child.pid) != child.argv:
                break
        stopped.append(child.pid)
    pid_file.path.unlink(missing_ok=True)
    return stopped


__all__ = ["LOOPBACK", "PID_FILE", "Child", "PidFile", "Process", "cmdline", "free_port", "port_of",
           "prometheus_binaries", "stop_stale"]
