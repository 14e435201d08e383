"""The demo's processes: free loopback ports, and service binaries (Prometheus, Alertmanager) run in
their own session with their output in a log and their pid in a file, so that a demo killed with
SIGKILL can be cleaned up by the next one (`stop_stale`)."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from runofshow.errors import RunOfShowError
from runofshow.loopback import LOOPBACK, free_port

log = logging.getLogger(__name__)


def port_of(url_or_listen: str) -> int:
    return int(url_or_listen.rstrip("/").rsplit(":", 1)[1].split("/")[0])


def prometheus_binaries() -> tuple[str, str] | None:
    """(prometheus, alertmanager) when both are on PATH."""
    prom = shutil.which("prometheus")
    am = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    return (prom, am) if prom and am else None


class Process:
    """A service binary in its own session, its output in a log file, its pid in `<name>.pid`
    beside the log (so a demo killed with SIGKILL can be cleaned up); stop() = TERM, then KILL."""

    def __init__(self, name: str, argv: list[str], log_path: Path) -> None:
        self.name, self.log_path = name, log_path
        self.pid_path = log_path.with_name(f"{name}.pid")
        self._log = open(log_path, "ab")  # closed in stop()
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid_path.write_text(str(self.proc.pid))

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
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout_s)
        self._log.close()
        self.pid_path.unlink(missing_ok=True)


def stop_stale(work: Path, timeout_s: float = 10.0) -> None:
    """Stop what an earlier demo in `work` left running (it was killed before it could): each
    `*.pid` there whose process still runs with `work` on its command line."""
    for pid_file in work.glob("*.pid"):
        try:
            pid = int(pid_file.read_text())
            alive = str(work).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        except (ValueError, OSError):
            alive = False
        if alive:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        pid_file.unlink(missing_ok=True)


__all__ = ["LOOPBACK", "Process", "free_port", "port_of", "prometheus_binaries", "stop_stale"]
