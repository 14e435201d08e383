"""Team mode end to end: `runofshow submit` + `runofshow worker` processes on a fresh PostgreSQL
database, each run's traffic router (a local proxy) and metrics endpoint in this test process so
that they outlive the workers, as they do in production.

- two workers share three submitted runs: all promoted, each router's weight changed exactly
  once per stage, in order;
- a worker is SIGKILLed (or SIGSTOPped past its lease, then SIGCONTed) mid-run: the other takes
  the run over within the TTL, the run is promoted with no duplicate weight change, and the
  stopped worker is refused by the database and says `lease_lost`;
- each run's evidence folder (`--evidence-root DIR`: DIR/RUN_ID) is written as the run goes and
  its bundle built at the end, also after a takeover (same folder, same disk): `runofshow evidence
  verify` exits 0 on it, against the ledger too, and on a bundle rebuilt from PostgreSQL alone;
- bad input: a plan that does not validate, SQLite, an unreachable database (exit 2, one line).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runofshow.adapters.lease_sql import SqlLeases
from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.adapters.local_proxy import LocalProxy
from tests.e2e.test_crash_resume import (
    LOOPBACK,
    OVERRIDE,
    SEED,
    MetricsEndpoint,
    cli,
    start,
    wait_for_line,
    write_plan,
)
from tests.helpers import fresh_postgres_database

pytestmark = pytest.mark.e2e

SPEED = 200.0
TTL_S = 3.0
STAGES = [1.0, 5.0, 25.0, 50.0, 100.0]
FINAL = {"promoted", "rolled_back", "halted"}
RUN_WALL_S = (3 + 15 + 30) * 60 / SPEED  # T-3 .. T+15 min, then a 30 min first night


class RecordingProxy(LocalProxy):
    """The local proxy, keeping its own change log: every weight it was actually moved to."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9", "http://127.0.0.1:9", host=LOOPBACK, port=0)
        self.log: list[float] = []

    def set_weight(self, weight: float) -> bool:
        changed = super().set_weight(weight)
        if changed:
            self.log.append(weight)
        return changed


class Release:
    def __init__(self, tmp: Path, n: int) -> None:
        self.proxy = RecordingProxy().start()
        self.metrics = MetricsEndpoint(self.proxy)
        folder = tmp / f"release{n}"
        folder.mkdir()
        self.plan = write_plan(folder / "plan.yaml", self.proxy, self.metrics.url)
        self.run_id = ""

    def close(self) -> None:
        self.metrics.close()
        self.proxy.stop()


@pytest.fixture
def pg() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


def submit(release: Release, state: str) -> str:
    out = subprocess.run(cli("submit", str(release.plan), "--state", state, "--speed", f"{SPEED:g}",
                             "--no-window-check", *OVERRIDE), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    release.run_id = out.stdout.strip()
    return release.run_id


def worker(state: str, name: str, log: Path, evidence: Path | None = None) -> subprocess.Popen[bytes]:
    where = () if evidence is None else ("--evidence-root", str(evidence))
    return start(cli("worker", "--state", state, "--name", name, "--lease-ttl", f"{TTL_S:g}", *where), log)


def check_evidence(state: str, root: Path, run_id: str, logs: list[Path], tmp: Path) -> None:
    """The run's folder under `root` holds its bundle (the worker that ended it said so), which
    verifies alone and against the ledger; a bundle rebuilt from the ledger alone verifies too."""
    folder = root / run_id
    assert wait_for_any(logs, f"[{run_id}] evidence: "), "\n".join(p.read_text() for p in logs)
    for extra in ((), ("--state", state)):
        out = subprocess.run(cli("evidence", "verify", str(folder), *extra), capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
    assert (folder / "warroom_log.txt").read_text().count("\n") > 5
    assert (folder / "preflight.txt").is_file() and list(folder.glob("summary_stage_*.txt"))
    rebuilt = tmp / f"rebuilt-{run_id}"
    out = subprocess.run(cli("evidence", "build", run_id, "--state", state, "--out", str(rebuilt)),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    out = subprocess.run(cli("evidence", "verify", str(rebuilt), "--state", state), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def wait_for_any(logs: list[Path], marker: str, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(marker in p.read_text() for p in logs if p.exists()):
            return True
        time.sleep(0.2)
    return False


def status(state: str, run_id: str) -> dict[str, Any]:
    out = subprocess.run(cli("status", run_id, "--state", state, "--json"), capture_output=True, text=True,
                         check=True)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def events(state: str, run_id: str) -> list[dict[str, Any]]:
    out = subprocess.run(cli("events", run_id, "--state", state, "--json"), capture_output=True, text=True,
                         check=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


def wait_ended(state: str, run_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Each run's `status --json` once every run is promoted, rolled back or halted (or at timeout)."""
    deadline = time.monotonic() + timeout
    with SqlLedger(state) as ledger:
        while time.monotonic() < deadline:
            if all(ledger.run(rid).status in FINAL for rid in run_ids):
                break
            time.sleep(0.5)
    return {rid: status(state, rid) for rid in run_ids}


def stop_all(*procs: subprocess.Popen[bytes]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGCONT)
            p.terminate()
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()


def check_promoted(release: Release, view: dict[str, Any], evs: list[dict[str, Any]]) -> None:
    assert view["status"] == "promoted" and view["chain_ok"] is True, view
    assert release.proxy.log == STAGES  # the router's own log: no duplicate, none out of order
    started = [e["payload"]["stage"] for e in evs if e["kind"] == "step_started"
               and e["payload"]["kind"] == "stage"]
    assert started == [0, 1, 2, 3, 4]
    intents = [e["payload"]["id"] for e in evs if e["kind"] == "weight_intent"]
    outcomes = [e["payload"]["id"] for e in evs if e["kind"] == "weight_outcome"]
    assert sorted(intents) == sorted(outcomes) and len(set(outcomes)) == len(outcomes)
    assert sum(e["kind"] == "run_started" for e in evs) == 1
    assert sum(e["kind"] == "run_ended" for e in evs) == 1


def test_two_workers_share_submitted_runs(tmp_path: Path, pg: str) -> None:
    releases = [Release(tmp_path, n) for n in range(3)]
    w1 = w2 = None
    try:
        ids = [submit(r, pg) for r in releases]
        queued = json.loads(subprocess.run(cli("runs", "--state", pg, "--json"), capture_output=True, text=True,
                                           check=True).stdout)
        assert {r["run_id"]: (r["status"], r["owner"], r["epoch"]) for r in queued} == {
            rid: ("queued", None, 0) for rid in ids}
        waiting = status(pg, ids[0])
        assert (waiting["status"], waiting["owner"], waiting["epoch"]) == ("queued", None, 0)
        root = tmp_path / "evidence"
        w1 = worker(pg, "w1", tmp_path / "w1.log", root)
        w2 = worker(pg, "w2", tmp_path / "w2.log", root)
        assert wait_for_any([tmp_path / "w1.log", tmp_path / "w2.log"], "Stage 1 (1%)")
        assert any((root / rid / "warroom_log.txt").is_file() for rid in ids)  # written as the run goes
        views = wait_ended(pg, ids, RUN_WALL_S * 3 + 60)
        for release in releases:
            check_promoted(release, views[release.run_id], events(pg, release.run_id))
            assert views[release.run_id]["owner"] in ("w1", "w2") and views[release.run_id]["epoch"] == 1
        logs = (tmp_path / "w1.log").read_text() + (tmp_path / "w2.log").read_text()
        assert all(logs.count(f"claimed {rid}") == 1 for rid in ids), logs
        for rid in ids:
            check_evidence(pg, root, rid, [tmp_path / "w1.log", tmp_path / "w2.log"], tmp_path)
    finally:
        stop_all(*[p for p in (w1, w2) if p is not None])
        for r in releases:
            r.close()


@pytest.mark.parametrize("how", ["kill", "stop"])
def test_a_dead_or_stalled_worker_is_taken_over_and_fenced(tmp_path: Path, pg: str, how: str) -> None:
    release = Release(tmp_path, 0)
    a_log, b_log = tmp_path / "a.log", tmp_path / "b.log"
    a = b = None
    try:
        rid = submit(release, pg)
        root = tmp_path / "evidence"
        a = worker(pg, "wa", a_log, root)
        assert wait_for_line(a_log, f"claimed {rid}", timeout=30), a_log.read_text()
        b = worker(pg, "wb", b_log, root)
        assert wait_for_line(b_log, "serving", timeout=30), b_log.read_text()
        assert wait_for_line(a_log, "Stage 2 (5%)", timeout=60), a_log.read_text()  # mid-run
        stopped_at = time.monotonic()
        a.send_signal(signal.SIGKILL if how == "kill" else signal.SIGSTOP)
        assert wait_for_line(b_log, f"claimed {rid}", timeout=TTL_S + 10), b_log.read_text()
        takeover_s = time.monotonic() - stopped_at
        print(f"takeover after {how}: {takeover_s:.2f} s (TTL {TTL_S:g} s)")
        assert takeover_s <= TTL_S + 2.0, takeover_s
        if how == "stop":
            assert wait_for_line(b_log, "Taken over by worker wb", timeout=30), b_log.read_text()
            a.send_signal(signal.SIGCONT)
            assert wait_for_line(a_log, "lease_lost", timeout=30), a_log.read_text()
        view = wait_ended(pg, [rid], RUN_WALL_S * 3 + 60)[rid]
        evs = events(pg, rid)
        check_promoted(release, view, evs)
        takeovers = [e["payload"] for e in evs if e["kind"] == "takeover"]
        assert [(t["old_owner"], t["new_owner"], t["epoch"]) for t in takeovers] == [("wa", "wb", 2)]
        assert (view["owner"], view["epoch"]) == ("wb", 2)
        assert any("Taken over by worker wb from wa (epoch 2)" in e["payload"].get("observation", "")
                   for e in evs if e["kind"] == "war_room")
        assert "lease_lost" not in b_log.read_text()
        check_evidence(pg, root, rid, [b_log], tmp_path)  # the taker ended it, in the same folder
        assert "Taken over by worker wb" in (root / rid / "warroom_log.txt").read_text()
    finally:
        stop_all(*[p for p in (a, b) if p is not None])
        release.close()


def test_bad_input_is_refused_with_one_line(tmp_path: Path, pg: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages: [{weight: 500}]\n")
    out = subprocess.run(cli("submit", str(bad), "--state", pg), capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stdout == "" and out.stderr.strip(), out
    runs = subprocess.run(cli("runs", "--state", pg, "--json"), capture_output=True, text=True, check=True)
    assert json.loads(runs.stdout) == []
    sqlite = f"sqlite:///{tmp_path / 'runofshow.db'}"
    for argv in (("worker", "--state", sqlite), ("worker", "--state", "postgresql://postgres@127.0.0.1:1/x")):
        out = subprocess.run(cli(*argv), capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, out
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "team mode needs PostgreSQL" in subprocess.run(cli("worker", "--state", sqlite), capture_output=True,
                                                          text=True, timeout=60).stderr


KILLS = 10


@pytest.mark.timeout(900)
def test_three_workers_ten_runs_ten_kills(tmp_path: Path, pg: str) -> None:
    """SIGKILL the worker that owns runs at seeded random moments (10 kills), starting a new worker
    after each: every run is still promoted, each router moved once per stage, in order."""
    rng = random.Random(SEED)
    releases = [Release(tmp_path, n) for n in range(10)]
    procs: dict[str, subprocess.Popen[bytes]] = {}
    started = 0

    def spawn() -> None:
        nonlocal started
        name = f"w{started}"
        started += 1
        procs[name] = start(cli("worker", "--state", pg, "--name", name, "--lease-ttl", f"{TTL_S:g}",
                                "--max-runs", "4"), tmp_path / f"{name}.log")

    try:
        ids = [submit(r, pg) for r in releases]
        for _ in range(3):
            spawn()
        kills = 0
        with SqlLedger(pg) as ledger:
            leases = SqlLeases(ledger)
            deadline = time.monotonic() + 600
            while kills < KILLS and time.monotonic() < deadline:
                time.sleep(rng.uniform(1.0, 3.0))
                owners = {x.owner for x in leases.all() if x.status == "running"} & {
                    n for n, p in procs.items() if p.poll() is None}
                if not owners:
                    if all(ledger.run(rid).status in FINAL for rid in ids):
                        break
                    continue
                victim = rng.choice(sorted(owners))
                procs[victim].send_signal(signal.SIGKILL)
                procs[victim].wait(10)
                kills += 1
                spawn()
        views = wait_ended(pg, ids, 600)
        assert kills >= KILLS, f"only {kills} kills before every run ended"
        takeovers = 0
        for release in releases:
            evs = events(pg, release.run_id)
            check_promoted(release, views[release.run_id], evs)
            epochs = [e["payload"]["epoch"] for e in evs if e["kind"] == "takeover"]
            assert epochs == sorted(set(epochs)) and views[release.run_id]["epoch"] >= len(epochs) + 1
            takeovers += len(epochs)
        assert takeovers >= 1
        print(f"{kills} kills, {takeovers} takeovers over {len(ids)} runs")
    finally:
        stop_all(*procs.values())
        for r in releases:
            r.close()


def test_a_per_service_cap_holds_a_second_canary_waiting(tmp_path: Path, pg: str) -> None:
    """Two runs of one service, a worker with `--max-per-service 1`: the second waits (`runs` and
    `status` say so, with the cap) until the first has ended, then it is driven and promoted."""
    releases = [Release(tmp_path, n) for n in range(2)]
    w = None
    try:
        first, second = (submit(r, pg) for r in releases)
        w = start(cli("worker", "--state", pg, "--name", "w1", "--lease-ttl", f"{TTL_S:g}",
                      "--max-per-service", "1"), tmp_path / "w1.log")
        assert wait_for_line(tmp_path / "w1.log", f"claimed {first}", timeout=30)
        waiting = None
        for _ in range(100):
            waiting = status(pg, second)
            if waiting["status"] == "waiting":
                break
            time.sleep(0.1)
        assert waiting is not None and waiting["status"] == "waiting", waiting
        assert waiting["waiting"].startswith("per-service cap 1 for ") and waiting["owner"] is None
        listed = json.loads(subprocess.run(cli("runs", "--state", pg, "--json"), capture_output=True, text=True,
                                           check=True).stdout)
        assert {r["run_id"]: r["status"] for r in listed}[second] == "waiting"
        table = subprocess.run(cli("runs", "--state", pg), capture_output=True, text=True, check=True,
                               env={**os.environ, "COLUMNS": "400"}).stdout
        assert "per-service cap 1" in table
        views = wait_ended(pg, [first, second], RUN_WALL_S * 3 + 60)
        for release in releases:
            check_promoted(release, views[release.run_id], events(pg, release.run_id))
        with SqlLedger(pg) as ledger:
            one, two = (ledger.events(rid) for rid in (first, second))
        assert one[-1].at <= two[0].at  # never two canaries of the service at once
    finally:
        stop_all(*[p for p in (w,) if p is not None])
        for r in releases:
            r.close()
