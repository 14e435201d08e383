"""Team mode's router fence and database outages with in-process workers on real PostgreSQL.

- worker A is frozen right after it recorded a traffic intent and before it called the router
  (its renewals frozen too, as a SIGSTOP would), past its lease; worker B takes the run over and
  drives it; A wakes: its lease check refuses the router call, A moves no traffic, says
  `lease_lost`, and the run is promoted with each weight set once, in order;
- every PostgreSQL connection is killed (`pg_terminate_backend`) again and again under a worker
  driving two runs: the worker carries on, every run is promoted, every chain verifies.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from runofshow.adapters.lease_sql import SqlLeases
from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.app.bootstrap import build_router
from runofshow.app.plan_file import load_plan
from runofshow.app.steps.preflight import Override
from runofshow.app.team.submit import Submission, submit
from runofshow.app.team.worker import Worker, WorkerSettings
from runofshow.ports import Lease, LedgerEvent
from tests.e2e.test_team_workers import FINAL, RUN_WALL_S, SPEED, STAGES, Release, check_promoted
from tests.helpers import fresh_postgres_database

pytestmark = pytest.mark.e2e

TTL_S = 3.0
OVERRIDE = Override("ic-on-call", "fence drill: nothing to check at T-10")


@pytest.fixture
def pg() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


class Freezer:
    """Freezes one worker at the first intent for `weight` (and its renewals) until `thaw`."""

    def __init__(self, weight: float) -> None:
        self.weight = weight
        self.frozen = threading.Event()
        self.thawed = threading.Event()

    def hold(self) -> None:
        if self.frozen.is_set():
            self.thawed.wait(120)


class FreezingLedger:
    def __init__(self, inner: Any, freezer: Freezer) -> None:
        self.inner, self.freezer = inner, freezer

    def append(self, run_id: str, kind: str, payload: Mapping[str, Any], at: datetime) -> LedgerEvent:
        self.freezer.hold()
        event: LedgerEvent = self.inner.append(run_id, kind, payload, at)
        if kind == "weight_intent" and payload.get("weight") == self.freezer.weight \
                and not self.freezer.frozen.is_set():
            self.freezer.frozen.set()  # recorded the intent; the router call comes next
            self.freezer.hold()
        return event

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class FreezingLeases:
    def __init__(self, inner: SqlLeases, freezer: Freezer) -> None:
        self.inner, self.freezer = inner, freezer

    def renew(self, lease: Lease, ttl_s: float) -> datetime:
        self.freezer.hold()
        return self.inner.renew(lease, ttl_s)

    def renew_many(self, held: list[Lease], ttl_s: float) -> set[tuple[str, int]]:
        self.freezer.hold()
        return self.inner.renew_many(held, ttl_s)

    def claim(self, *args: Any, **kwargs: Any) -> Lease | None:
        self.freezer.hold()
        return self.inner.claim(*args, **kwargs)

    def fenced(self, lease: Lease) -> Any:
        return FreezingLedger(self.inner.fenced(lease), self.freezer)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class CountingRouter:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sets: list[float] = []

    def set_weight(self, weight: float) -> None:
        self.sets.append(weight)
        self.inner.set_weight(weight)

    def current_weight(self) -> float:
        return float(self.inner.current_weight())

    def close(self) -> None:
        self.inner.close()


def queue(release: Release, pg: str) -> str:
    with SqlLedger(pg) as ledger:
        release.run_id = submit(load_plan(release.plan), SqlLeases(ledger),
                                Submission(speed=SPEED, check_windows=False, override=OVERRIDE))
    return release.run_id


def serve(worker: Worker) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=worker.serve, args=(stop,), daemon=True)
    thread.start()
    return thread, stop


def wait_until(cond: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def ended(pg: str, run_ids: list[str], timeout: float) -> bool:
    with SqlLedger(pg) as ledger:
        return wait_until(lambda: all(ledger.run(r).status in FINAL for r in run_ids), timeout)


def events_json(pg: str, run_id: str) -> list[dict[str, Any]]:
    with SqlLedger(pg) as ledger:
        return [{"kind": e.kind, "payload": e.payload} for e in ledger.events(run_id)]


def view(pg: str, run_id: str) -> dict[str, Any]:
    with SqlLedger(pg) as ledger:
        return {"status": ledger.run(run_id).status, "chain_ok": ledger.verify_chain(run_id) == []}


def test_a_frozen_worker_that_lost_its_lease_moves_no_traffic(tmp_path: Path, pg: str) -> None:
    release = Release(tmp_path, 0)
    freezer = Freezer(weight=5.0)
    a_lines: list[str] = []
    b_lines: list[str] = []
    la, lb = SqlLedger(pg), SqlLedger(pg)
    plan = load_plan(release.plan)
    router_a = CountingRouter(build_router(plan, {}))
    a = Worker(WorkerSettings(name="wa", state_url=pg, lease_ttl_s=TTL_S), la,
               FreezingLeases(SqlLeases(la), freezer), say=a_lines.append, router=router_a)
    b = Worker(WorkerSettings(name="wb", state_url=pg, lease_ttl_s=TTL_S), lb, SqlLeases(lb), say=b_lines.append)
    ta = sa = tb = sb = None
    try:
        rid = queue(release, pg)
        ta, sa = serve(a)
        assert freezer.frozen.wait(60), a_lines  # A recorded the 5 % intent and froze
        sets_before = list(router_a.sets)
        tb, sb = serve(b)
        assert wait_until(lambda: any(f"claimed {rid}" in x for x in b_lines), TTL_S + 10), b_lines
        assert wait_until(lambda: 5.0 in release.proxy.log, 60), (b_lines, release.proxy.log)
        freezer.thawed.set()  # A wakes up, believing it still drives the run
        assert wait_until(lambda: any("lease_lost" in x for x in a_lines), 30), a_lines
        assert router_a.sets == sets_before  # A's router call was refused by its lease check
        assert ended(pg, [rid], RUN_WALL_S * 3 + 60)
        evs = events_json(pg, rid)
        check_promoted(release, view(pg, rid), evs)
        assert release.proxy.log == STAGES
        takeovers = [e["payload"] for e in evs if e["kind"] == "takeover"]
        assert [(t["old_owner"], t["new_owner"]) for t in takeovers] == [("wa", "wb")]
    finally:
        freezer.thawed.set()
        for stop in (sa, sb):
            if stop is not None:
                stop.set()
        for t in (ta, tb):
            if t is not None:
                t.join(60)
        la.close()
        lb.close()
        release.close()


def test_a_worker_survives_killed_connections(tmp_path: Path, pg: str) -> None:
    releases = [Release(tmp_path, n) for n in range(2)]
    lines: list[str] = []
    ledger = SqlLedger(pg)
    w = Worker(WorkerSettings(name="w1", state_url=pg, lease_ttl_s=TTL_S), ledger, SqlLeases(ledger),
               say=lines.append)
    thread = stop = None
    admin = create_engine(pg)
    kills = 0
    try:
        ids = [queue(r, pg) for r in releases]
        thread, stop = serve(w)
        deadline = time.monotonic() + RUN_WALL_S * 4 + 60
        with SqlLedger(pg) as watcher:
            while time.monotonic() < deadline:
                if all(watcher.run(r).status in FINAL for r in ids):
                    break
                time.sleep(1.5)
                with admin.begin() as conn:
                    killed = conn.execute(text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
                kills += int(killed or 0)
        assert kills >= 5
        for release in releases:
            check_promoted(release, view(pg, release.run_id), events_json(pg, release.run_id))
        assert not any("lease_lost" in x for x in lines), lines
        print(f"{kills} connections killed; worker lines: {len(lines)}")
    finally:
        if stop is not None:
            stop.set()
        if thread is not None:
            thread.join(60)
        admin.dispose()
        ledger.close()
        for r in releases:
            r.close()
