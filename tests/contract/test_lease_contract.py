"""Team mode's leases on real PostgreSQL: claims, takeovers, and fencing done by the database.

Each test gets a fresh database (CREATE DATABASE with a random name, dropped after). A missing
PostgreSQL fails the test, never skips it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from runofshow.adapters.lease_sql import FencedLedger, SqlLeases
from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.errors import InputError, LeaseLostError
from runofshow.ports import Leases, RunRecord

T0 = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)


def _run(run_id: str, release: str = "spark-trading") -> RunRecord:
    return RunRecord(run_id=run_id, release=release, version="v1.4.0", status="queued",
                     stage=None, weight=None, started_at=T0, plan={"stages": [1, 5]})


def _started(leases: SqlLeases, n: int = 0) -> FencedLedger:
    """Run r1 submitted, claimed by w-a and started through its fenced ledger: that ledger."""
    leases.submit(_run("r1"), {})
    lease = leases.claim("w-a", 15)
    assert lease is not None
    fenced = leases.fenced(lease)
    fenced.append("r1", "run_started", {"n": n}, T0)
    return fenced


def _expire(url: str, run_id: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE leases SET expires_at = now() - interval '1 second' WHERE run_id = :r"),
                     {"r": run_id})
    engine.dispose()


def test_is_a_leases_port(two: tuple[SqlLeases, SqlLeases]) -> None:
    assert isinstance(two[0], Leases)


def test_submit_then_claim_once_then_nothing_left(two: tuple[SqlLeases, SqlLeases]) -> None:
    a, b = two
    a.submit(_run("r1"), {"speed": 100})
    assert a.ledger.run("r1").status == "queued"
    got = a.claim("w-a", 15)
    assert got is not None and (got.run_id, got.owner, got.epoch, got.previous_owner) == ("r1", "w-a", 1, None)
    assert got.options == {"speed": 100} and got.expires_at is not None
    assert b.claim("w-b", 15) is None  # running and not expired: nobody else gets it
    current = b.current("r1")
    assert current is not None and (current.status, current.owner, current.epoch) == ("running", "w-a", 1)


def test_concurrent_claims_never_hand_one_run_to_two_workers(two: tuple[SqlLeases, SqlLeases]) -> None:
    a, b = two
    for i in range(6):
        a.submit(_run(f"r{i}"), {})
    got: list[str] = []
    lock = threading.Lock()

    def take(leases: SqlLeases, name: str) -> None:
        while (lease := leases.claim(name, 15)) is not None:
            with lock:
                got.append(lease.run_id)

    threads = [threading.Thread(target=take, args=(x, n)) for x, n in ((a, "w-a"), (b, "w-b"), (a, "w-c"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(got) == [f"r{i}" for i in range(6)]


def test_an_expired_lease_is_taken_over_one_epoch_up(pg_url: str, two: tuple[SqlLeases, SqlLeases]) -> None:
    a, b = two
    a.submit(_run("r1"), {})
    old = a.claim("w-a", 15)
    assert old is not None
    _expire(pg_url, "r1")
    new = b.claim("w-b", 15)
    assert new is not None and (new.epoch, new.owner, new.previous_owner) == (2, "w-b", "w-a")
    with pytest.raises(LeaseLostError, match="lease_lost.*epoch 2 held by w-b"):
        a.renew(old, 15)
    assert b.renew(new, 15) > datetime.now(UTC)
    a.release(old, done=True)  # a stale release changes nothing
    current = a.current("r1")
    assert current is not None and (current.status, current.epoch) == ("running", 2)
    b.release(new, done=False)
    again = a.claim("w-a", 15)
    assert again is not None and (again.epoch, again.previous_owner) == (3, "w-b")


def test_the_database_refuses_a_stale_writers_append(pg_url: str, two: tuple[SqlLeases, SqlLeases]) -> None:
    a, b = two
    a.submit(_run("r1"), {})
    old = a.claim("w-a", 15)
    assert old is not None
    stale = a.fenced(old)
    stale.append("r1", "run_started", {"n": 1}, T0)
    _expire(pg_url, "r1")
    new = b.claim("w-b", 15)
    assert new is not None
    with pytest.raises(LeaseLostError, match="lease_lost"):
        stale.append("r1", "weight_intent", {"weight": 5}, T0)
    with pytest.raises(LeaseLostError):
        stale.update_run("r1", status="running", weight=5.0)
    b.fenced(new).append("r1", "takeover", {"epoch": 2}, T0)
    evs = b.ledger.events("r1")
    assert [e.kind for e in evs] == ["run_started", "takeover"]
    assert b.ledger.verify_chain("r1") == []
    assert b.ledger.run("r1").weight is None
    # an unfenced append (the incident commander's `decide`) is never blocked by a lease
    a.ledger.append("r1", "ic_decision", {"action": "rollback"}, T0)


def test_fencing_is_decided_by_the_insert_after_the_lease_lock(
    pg_url: str, two: tuple[SqlLeases, SqlLeases],
) -> None:
    """The stale writer's append is already past any Python code (its INSERT blocked on the lease
    row, which a claim locks first) when the takeover commits; the INSERT itself must then refuse it."""
    a, b = two
    a.submit(_run("r1"), {})
    old = a.claim("w-a", 15)
    assert old is not None
    fenced = a.fenced(old)
    fenced.append("r1", "run_started", {"n": 0}, T0)  # the writer knows the chain's head
    engine = create_engine(pg_url)
    outcome: list[BaseException | None] = []
    with engine.connect() as conn:
        tx = conn.begin()  # what a claim does, in its order: the lease row, then the run's row
        conn.execute(text("SELECT run_id FROM leases WHERE run_id = 'r1' FOR UPDATE"))
        conn.execute(text("SELECT run_id FROM runs WHERE run_id = 'r1' FOR UPDATE"))

        def write() -> None:
            try:
                fenced.append("r1", "weight_intent", {"weight": 25}, T0)
                outcome.append(None)
            except BaseException as err:  # what the stale writer gets
                outcome.append(err)

        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.5)
        assert writer.is_alive()  # waiting for the lease row
        conn.execute(text("UPDATE leases SET epoch = epoch + 1, owner = 'w-b' WHERE run_id = 'r1'"))
        tx.commit()
        writer.join(10)
    engine.dispose()
    assert len(outcome) == 1 and isinstance(outcome[0], LeaseLostError)
    assert [e.kind for e in a.ledger.events("r1")] == ["run_started"]


def test_a_claim_skips_a_run_whose_append_is_in_flight_and_takes_it_after(
    pg_url: str, two: tuple[SqlLeases, SqlLeases],
) -> None:
    """An append holds the lease row (shared) for its one statement: a claim then looks past the run
    (SKIP LOCKED) and takes it at its next look, after the append, which the new owner reads."""
    a, b = two
    a.submit(_run("r1"), {})
    old = a.claim("w-a", 15)
    assert old is not None
    _expire(pg_url, "r1")  # the owner stalled: its lease is free to take
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        tx = conn.begin()  # an append in flight: the lease row held as the fenced INSERT holds it
        conn.execute(text("SELECT run_id FROM leases WHERE run_id = 'r1' AND epoch = :e FOR SHARE"),
                     {"e": old.epoch})
        assert b.claim("w-b", 15) is None  # skipped, not waited for
        tx.commit()
    engine.dispose()
    a.fenced(old).append("r1", "weight_intent", {"weight": 5}, T0)  # still its epoch: taken
    new = b.claim("w-b", 15)
    assert new is not None and new.epoch == old.epoch + 1
    assert [e.kind for e in b.ledger.events("r1")] == ["weight_intent"]
    with pytest.raises(LeaseLostError):
        a.fenced(old).append("r1", "weight_set", {"weight": 5}, T0)


def test_a_writer_whose_chain_head_is_stale_appends_after_the_other_process(
    two: tuple[SqlLeases, SqlLeases],
) -> None:
    """The worker remembers the run's last event; an incident commander's `decide` (another process,
    unfenced) appends in between: the database refuses the remembered seq, the worker reads the head
    again, and the chain stays one line."""
    a, b = two
    worker = _started(a, n=1)
    b.ledger.append("r1", "ic_decision", {"action": "hold"}, T0)
    b.ledger.append("r1", "note", {"text": "watching"}, T0)
    got = worker.append("r1", "decision", {"n": 2}, T0)
    assert got.seq == 4
    evs = a.ledger.events("r1")
    assert [e.kind for e in evs] == ["run_started", "ic_decision", "note", "decision"]
    assert got.prev_hash == evs[2].hash and a.ledger.verify_chain("r1") == []


def test_sqlite_is_refused_for_team_mode(tmp_path: Path) -> None:
    ledger = SqlLedger(f"sqlite:///{tmp_path / 'runofshow.db'}")
    leases = SqlLeases(ledger)
    with pytest.raises(InputError, match="team mode needs PostgreSQL"):
        leases.claim("w", 15)
    with pytest.raises(InputError, match="team mode needs PostgreSQL"):
        leases.submit(_run("r1"), {})
    assert leases.all() == []
    ledger.create_run(_run("r2"))  # single-process mode writes as before
    ledger.append("r2", "run_started", {}, T0)
    assert ledger.verify_chain("r2") == []
    ledger.close()


def test_grown_answers_for_the_runs_whose_ledger_passed_what_the_caller_knows(
    two: tuple[SqlLeases, SqlLeases],
) -> None:
    a, _ = two
    for rid in ("r1", "r2", "r3"):
        a.submit(_run(rid), {})
    for rid, n in (("r1", 3), ("r2", 1)):
        for i in range(n):
            a.ledger.append(rid, "note", {"i": i}, T0)
    assert a.grown({}) == {}
    assert a.grown({"r1": 0, "r2": 0, "r3": 0, "unknown": 0}) == {"r1": 3, "r2": 1}
    assert a.grown({"r1": 3, "r2": 0, "r3": 0}) == {"r2": 1}  # r1 is known up to its last event
    assert a.grown({"r1": 2, "r2": 1}) == {"r1": 3}


@pytest.mark.parametrize("committed", [True, False])
def test_an_append_whose_connection_breaks_is_neither_lost_nor_doubled(pg_url: str, committed: bool) -> None:
    """The connection breaks after the INSERT was sent: whether it committed (answer lost) or not,
    the append is retried once its outcome is read back (seq and hash), and lands exactly once."""
    import psycopg

    from runofshow.adapters.ledger_fenced import INSERT_HOLDING_LEASE

    with SqlLedger(pg_url) as ledger:
        fenced = _started(SqlLeases(ledger))
        appender = ledger._fenced
        assert appender is not None
        real = appender._engine.raw_connection
        cuts: list[str] = []

        class Cut:  # the driver's cursor, whose connection dies around the first fenced INSERT
            def __init__(self, conn: object, cur: object) -> None:
                self.conn, self.cur = conn, cur

            def __enter__(self) -> Cut:
                return self

            def __exit__(self, *exc: object) -> None:
                self.cur.close()  # type: ignore[attr-defined]

            def execute(self, sql: str, params: object) -> None:
                if sql == INSERT_HOLDING_LEASE and not cuts:
                    cuts.append(sql)
                    if committed:
                        self.cur.execute(sql, params)  # type: ignore[attr-defined]
                    self.conn.dbapi_connection.close()  # type: ignore[attr-defined]
                    raise psycopg.OperationalError("server closed the connection unexpectedly")
                self.cur.execute(sql, params)  # type: ignore[attr-defined]

            def fetchone(self) -> object:
                return self.cur.fetchone()  # type: ignore[attr-defined]

        class Conn:
            def __init__(self) -> None:
                self.fairy = real()

            def cursor(self) -> Cut:
                return Cut(self.fairy, self.fairy.cursor())

            def __getattr__(self, name: str) -> object:
                return getattr(self.fairy, name)

        appender._engine.raw_connection = Conn  # type: ignore[method-assign,assignment]
        got = fenced.append("r1", "weight_intent", {"weight": 5}, T0)
        appender._engine.raw_connection = real  # type: ignore[method-assign]
        assert cuts and got.seq == 2
        fenced.append("r1", "weight_set", {"weight": 5}, T0)
        assert [e.kind for e in ledger.events("r1")] == ["run_started", "weight_intent", "weight_set"]
        assert ledger.verify_chain("r1") == []


def test_after_every_pooled_connection_is_killed_the_next_fenced_appends_reconnect(pg_url: str) -> None:
    """A PostgreSQL restart kills every connection a worker pooled for its appends: an append that
    finds one dead invalidates it and tries the next, so no append fails on dead pooled ones."""
    with SqlLedger(pg_url) as ledger:
        leases = SqlLeases(ledger)
        writers = []
        for i in range(8):
            leases.submit(_run(f"r{i}"), {})
            lease = leases.claim("w-a", 15, run_id=f"r{i}")
            assert lease is not None
            writers.append(leases.fenced(lease))
        gate = threading.Barrier(len(writers))

        def write(i: int) -> None:  # at once: the pool holds several connections afterwards
            gate.wait(10)
            for n in range(20):
                writers[i].append(f"r{i}", "tick", {"n": n}, T0)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(len(writers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert ledger._fenced is not None and ledger._fenced._engine.pool.checkedin() > 2  # type: ignore[attr-defined]
        engine = create_engine(pg_url)
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        engine.dispose()
        for i, writer in enumerate(writers):
            assert writer.append(f"r{i}", "tick", {"n": 99}, T0).seq == 21
        assert all(ledger.verify_chain(f"r{i}") == [] for i in range(len(writers)))
