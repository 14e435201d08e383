"""Team mode on real PostgreSQL: the lease check before every traffic change (the router fence),
the global and per-service caps with `waiting`, and a connection killed under the ledger.

Each test gets a fresh database; a missing PostgreSQL fails, never skips.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, text

from runofshow.adapters.lease_sql import SqlLeases
from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.adapters.memory import InMemoryRouter
from runofshow.app.team.guard import CallTimeout, GuardedRouter
from runofshow.errors import LeaseLostError, LedgerError
from runofshow.ports import Caps, Lease
from tests.contract.test_lease_contract import T0, _run


def _sql(url: str, statement: str, **params: object) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(statement), params)
    engine.dispose()


def _fenced_router(leases: SqlLeases, lease: Lease, router: InMemoryRouter, margin_s: float = 0.0
                   ) -> GuardedRouter:
    return GuardedRouter(router, fence=lambda: leases.check(lease, margin_s), calls=CallTimeout(5))


def test_a_taken_over_worker_cannot_move_traffic(pg_url: str, two: tuple[SqlLeases, SqlLeases]) -> None:
    a, b = two
    a.submit(_run("r1"), {})
    old = a.claim("w-a", 15)
    assert old is not None
    router = InMemoryRouter()
    stale = _fenced_router(a, old, router)
    stale.set_weight(1)  # while it holds the lease
    _sql(pg_url, "UPDATE leases SET expires_at = now() - interval '1 second' WHERE run_id = 'r1'")
    with pytest.raises(LeaseLostError, match="expires in less than"):
        stale.set_weight(5)  # expired, nobody took it yet: still no traffic change
    new = b.claim("w-b", 15)
    assert new is not None
    with pytest.raises(LeaseLostError, match="epoch 2 held by w-b"):
        stale.set_weight(5)
    assert stale.current_weight() == 1  # reads are harmless and allowed
    _fenced_router(b, new, router).set_weight(5)
    assert router.sets == [1.0, 5.0]


def test_the_fence_wants_the_lease_to_hold_for_the_margin(two: tuple[SqlLeases, SqlLeases]) -> None:
    a, _ = two
    a.submit(_run("r1"), {})
    lease = a.claim("w-a", 2)
    assert lease is not None
    router = InMemoryRouter()
    _fenced_router(a, lease, router, margin_s=0.5).set_weight(1)
    with pytest.raises(LeaseLostError, match="less than 5 s"):
        _fenced_router(a, lease, router, margin_s=5).set_weight(5)
    assert router.sets == [1.0]


def test_per_service_cap_holds_a_second_canary_of_one_service(two: tuple[SqlLeases, SqlLeases]) -> None:
    a, b = two
    caps = Caps(per_service=1)
    a.submit(_run("r1", "trading"), {})
    a.submit(_run("r2", "trading"), {})
    a.submit(_run("r3", "pricing"), {})
    first = a.claim("w-a", 15, caps=caps)
    assert first is not None and first.run_id == "r1"
    second = b.claim("w-b", 15, caps=caps)
    assert second is not None and second.run_id == "r3"  # r2 waits: trading has its canary
    assert b.claim("w-b", 15, caps=caps) is None
    held = {x.run_id: x for x in a.all()}
    assert held["r2"].status == "queued"
    assert held["r2"].waiting == "per-service cap 1 for trading reached (1 running)"
    assert held["r1"].waiting is None and held["r3"].waiting is None
    a.release(first, done=True)
    third = b.claim("w-b", 15, caps=caps)
    assert third is not None and third.run_id == "r2" and third.waiting is None
    current = a.current("r2")
    assert current is not None and current.waiting is None


def test_global_cap_counts_every_worker_and_a_takeover_is_no_new_run(
    pg_url: str, two: tuple[SqlLeases, SqlLeases],
) -> None:
    a, b = two
    caps = Caps(total=2)
    for i in range(4):
        a.submit(_run(f"r{i}", f"svc{i}"), {})
    assert a.claim("w-a", 15, caps=caps) is not None
    assert b.claim("w-b", 15, caps=caps) is not None
    assert a.claim("w-a", 15, caps=caps) is None
    assert {x.run_id: x.waiting for x in b.all()} == {
        "r0": None, "r1": None, "r2": "global cap 2 reached (2 running)",
        "r3": "global cap 2 reached (2 running)"}
    _sql(pg_url, "UPDATE leases SET expires_at = now() - interval '1 second' WHERE run_id = 'r0'")
    taken = b.claim("w-b", 15, caps=caps)  # the orphan, not a queued run
    assert taken is not None and (taken.run_id, taken.epoch) == ("r0", 2)


def test_concurrent_capped_claims_never_pass_the_cap(pg_url: str) -> None:
    got = claims_at_once(pg_url, options={}, caps=Caps(per_service=2))
    assert len(got) == 4 and len({x.run_id for x in got}) == 4


def claims_at_once(pg_url: str, options: dict[str, object], caps: Caps | None) -> list[Lease]:
    """Twelve runs of two services submitted with `options`, then four workers (own connections)
    claiming five times each at once under `caps`: the leases they got."""
    ledgers = [SqlLedger(pg_url) for _ in range(4)]
    leases = [SqlLeases(x) for x in ledgers]
    for i in range(12):
        leases[0].submit(_run(f"r{i}", "trading" if i % 2 else "pricing"), options)
    got: list[Lease] = []
    lock = threading.Lock()

    def take(mine: SqlLeases, name: str) -> None:
        for _ in range(5):
            lease = mine.claim(name, 15, caps=caps)
            if lease is not None:
                with lock:
                    got.append(lease)

    threads = [threading.Thread(target=take, args=(x, f"w{i}")) for i, x in enumerate(leases)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for x in ledgers:
        x.close()
    return got


def test_a_killed_connection_is_reconnected_and_the_chain_holds(pg_url: str) -> None:
    """pg_terminate_backend on every connection of the ledger: the next call reconnects (pre-ping),
    a write cut in flight fails cleanly (no half append), and the hash chain verifies."""
    with SqlLedger(pg_url) as ledger:
        leases = SqlLeases(ledger)
        leases.submit(_run("r1"), {})
        lease = leases.claim("w-a", 15)
        assert lease is not None
        fenced = leases.fenced(lease)
        fenced.append("r1", "run_started", {"n": 0}, T0)
        kill = ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        for n in range(1, 6):
            _sql(pg_url, kill)
            try:
                fenced.append("r1", "tick", {"n": n}, T0)
            except LedgerError:  # a connection cut mid-statement: the caller retries
                fenced.append("r1", "tick", {"n": n}, T0)
            leases.renew(lease, 15)
        assert [e.payload.get("n") for e in ledger.events("r1")] == [0, 1, 2, 3, 4, 5]
        assert ledger.verify_chain("r1") == []


def test_many_submits_in_one_second_get_distinct_ids(two: tuple[SqlLeases, SqlLeases]) -> None:
    from runofshow.app.team.submit import Submission, submit
    from runofshow.domain.plan import Plan

    a, _ = two
    assert a.submit(_run("r1"), {}) is True
    assert a.submit(_run("r1"), {}) is False  # taken: nothing written
    ids = {submit(Plan(), a, Submission(check_windows=False), now=T0) for _ in range(400)}
    assert len(ids) == 400 and len(a.all()) == 401


def test_one_statement_renews_every_lease_still_held(pg_url: str, two: tuple[SqlLeases, SqlLeases]) -> None:
    a, b = two
    for i in range(3):
        a.submit(_run(f"r{i}"), {})
    held = [x for x in (a.claim("w-a", 15) for _ in range(3)) if x is not None]
    assert len(held) == 3
    _sql(pg_url, "UPDATE leases SET expires_at = now() - interval '1 second' WHERE run_id = 'r1'")
    taken = b.claim("w-b", 15)
    assert taken is not None and taken.run_id == "r1"
    assert a.renew_many(held, 15) == {("r0", 1), ("r2", 1)}  # r1 is w-b's now
    assert a.renew_many([], 15) == set()
