"""Team mode under a real PostgreSQL restart: a private cluster (Debian's `initdb` and `postgres`,
in a temporary folder, on 127.0.0.1 and a free port; the machine's shared PostgreSQL is never
touched), two `runofshow worker` processes driving three submitted runs, and PostgreSQL stopped
with a fast shutdown mid-run, kept down past the lease TTL, then started again on the same port.

Asserted: the workers reconnect by themselves (each claims again after the restart), every run is
promoted, each router's own change log shows each stage's weight once and in order (no double
driver, nothing repeated or skipped), and every ledger's hash chain verifies. PostgreSQL refuses
to run as root: as root the cluster runs as the `postgres` user. A missing binary fails, never skips.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from runofshow.loopback import LOOPBACK, free_port
from tests.e2e.test_crash_resume import cli, start, wait_for_line
from tests.e2e.test_team_workers import (
    RUN_WALL_S,
    TTL_S,
    Release,
    check_promoted,
    events,
    stop_all,
    submit,
    wait_ended,
)
from tests.helpers import missing_service, wait_until

pytestmark = pytest.mark.e2e

DOWN_S = TTL_S + 1.0  # down past the lease TTL: every lease has lapsed when it is back


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own: `initdb` into a temporary folder, `postgres` on
    127.0.0.1:`port` in the foreground, stopped by its pid (SIGINT: a fast shutdown)."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                       key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
        if not found:
            missing_service("PostgreSQL's server binaries (/usr/lib/postgresql/*/bin/initdb, Debian's "
                            "postgresql package)")
        self.bin = Path(found[-1]).parent
        self.user: dict[str, Any] = {}
        self.folder = Path(tempfile.mkdtemp(prefix="runofshow-pg-"))
        if os.geteuid() == 0:  # postgres will not run as root
            try:
                who = pwd.getpwnam("postgres")
            except KeyError:
                missing_service("the 'postgres' user (to run a private PostgreSQL when the tests run as root)")
            self.user = {"user": who.pw_uid, "group": who.pw_gid, "extra_groups": []}
            os.chown(self.folder, who.pw_uid, who.pw_gid)
        self.data, self.log = self.folder / "data", self.folder / "postgres.log"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        subprocess.run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--no-sync"], check=True, capture_output=True, cwd=self.folder,
                       timeout=120, **self.user)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@{LOOPBACK}:{self.port}/{database}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                 "-c", f"listen_addresses={LOOPBACK}", "-c", f"unix_socket_directories={self.folder}",
                 "-c", "max_connections=100"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.folder, **self.user)
        wait_until(self.ready, timeout=60, what=f"the private PostgreSQL on port {self.port}")

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            pytest.fail(f"postgres exited ({self.proc.returncode}): {self.log.read_text()[-2000:]}")
        out = subprocess.run([str(self.bin / "pg_isready"), "-h", LOOPBACK, "-p", str(self.port)],
                             capture_output=True, timeout=10)
        return out.returncode == 0

    def stop(self) -> None:
        """A fast shutdown: open transactions rolled back, connections closed, a clean checkpoint."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        pg.start()
        engine = create_engine(pg.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("CREATE DATABASE runofshow"))
        engine.dispose()
        yield pg
    finally:
        pg.close()


@pytest.mark.timeout(600)
def test_workers_ride_out_a_postgresql_restart(tmp_path: Path, private_pg: PrivatePostgres) -> None:
    state = private_pg.url("runofshow")
    releases = [Release(tmp_path, n) for n in range(3)]
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        ids = [submit(r, state) for r in releases]
        for name, log in zip(("w1", "w2"), logs, strict=True):
            procs.append(start(cli("worker", "--state", state, "--name", name, "--lease-ttl", f"{TTL_S:g}",
                                   "--evidence-root", str(tmp_path / "evidence")), log))
        # mid-run: a run has moved traffic past its first stage
        wait_until(lambda: any("Stage 2 (5%)" in p.read_text() for p in logs if p.exists()), timeout=120,
                   what="a run at its second stage")
        sizes = [p.stat().st_size for p in logs]
        private_pg.stop()
        stopped = time.monotonic()
        wait_until(lambda: time.monotonic() - stopped >= DOWN_S, interval=0.2, what="PostgreSQL down")
        private_pg.start()
        print(f"PostgreSQL down {time.monotonic() - stopped:.1f} s")
        views = wait_ended(state, ids, RUN_WALL_S * 4 + 120)
        takeovers = 0
        for release in releases:
            evs = events(state, release.run_id)
            check_promoted(release, views[release.run_id], evs)  # the router's log: once per stage
            epochs = [e["payload"]["epoch"] for e in evs if e["kind"] == "takeover"]
            assert epochs == sorted(set(epochs)), epochs
            takeovers += len(epochs)
        assert takeovers >= 1  # the restart outlived the leases: runs were claimed anew, one epoch up
        after = [p.read_bytes()[n:].decode(errors="replace") for p, n in zip(logs, sizes, strict=True)]
        assert all(p.poll() is None for p in procs), "a worker died with the database"
        assert any("claimed" in text for text in after), after  # a worker claimed again: it reconnected
        print("after the restart:\n" + "".join(line + "\n" for text in after for line in text.splitlines()
                                              if "worker w" in line))
        for rid in ids:
            assert wait_for_line(logs[0], f"[{rid}] evidence: ", timeout=1) or wait_for_line(
                logs[1], f"[{rid}] evidence: ", timeout=60), rid
    finally:
        stop_all(*procs)
        for r in releases:
            r.close()
