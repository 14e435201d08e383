"""Fenced appends on PostgreSQL in one round trip (team mode: a worker's every ledger write).

    appender = FencedAppender(url, refused, error)    # refused(run_id, epoch) raises LeaseLostError
    event = appender.append(run_id, kind, text, normalised, at, epoch)

One autocommit statement per append, sent on the driver's cursor (psycopg prepares it) from a pool
of its own (no pre-ping):

    INSERT INTO events (...) SELECT :run_id, :seq, ..., :epoch FROM leases
    WHERE leases.run_id = :run_id AND leases.epoch = :epoch FOR SHARE OF leases RETURNING seq

**The fence stays in the database.** The statement locks the run's lease row (`FOR SHARE`) and
inserts only while that row is at the writer's epoch. A claim locks the same row `FOR UPDATE` and
raises the epoch: an append that comes while a claim is in flight waits for it and then reads the
committed row (PostgreSQL re-checks a locked row's condition on its newest version), so it inserts
nothing and the writer gets `LeaseLostError`; a claim that comes while an append is in flight skips
the row (`SKIP LOCKED`) and takes it at its next look, after the append committed. Appends of one
lease share the lock (they do not wait on each other); a renewal waits at most one statement.

**The chain head is remembered, checked by the database.** The process remembers each run's last
(seq, hash) it wrote or read; events are immutable and dense, so that pair stays true, and the
`(run_id, seq)` unique constraint refuses the insert if another process (an IC's `decide`, a note)
appended in between: the head is read again and the append retried. A connection lost with the
statement's answer (a PostgreSQL restart, a killed backend) is retried once its outcome is read
back: the event at the seq sent has the hash sent (it committed: done) or not (sent again).

Before: pool ping, BEGIN, run row lock, last event, fenced INSERT, COMMIT -- six round trips and
about 0.9 ms of the worker's CPU per append; now one, and about 0.2-0.3 ms (issue 13).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine

from runofshow.errors import LedgerError
from runofshow.ledger_chain import GENESIS, text_event_hash
from runofshow.ports import LedgerEvent

#: the fenced append: one statement, the epoch checked on the lease row it locks. Sent through the
#: driver's cursor (prepared by psycopg after a few uses): SQLAlchemy's execution layer was half
#: of an append's CPU once the round trips were gone
INSERT_HOLDING_LEASE = (
    "INSERT INTO events (run_id, seq, at, kind, payload, prev_hash, hash, epoch) "
    "SELECT %(run_id)s::varchar, %(seq)s::integer, %(at)s::timestamptz, %(kind)s::varchar, "
    "%(payload)s::text, %(prev_hash)s::varchar, %(hash)s::varchar, %(epoch)s::integer FROM leases "
    "WHERE leases.run_id = %(run_id)s::varchar AND leases.epoch = %(epoch)s::integer "
    "FOR SHARE OF leases RETURNING seq")
EVENT_HASH = "SELECT hash FROM events WHERE run_id = %(run_id)s::varchar AND seq = %(seq)s::integer"
LAST_EVENT = "SELECT seq, hash FROM events WHERE run_id = %(run_id)s::varchar ORDER BY seq DESC LIMIT 1"

#: runs whose chain head is remembered; past it the memory is cleared (it is a cache)
HEADS_KEPT = 20_000
#: SQLSTATEs worth another try: unique violation (another process took the seq: the head is read
#: again), deadlock, serialisation failure
RACED = ("23505", "40P01", "40001")
#: the appends' own pool: connections kept, and opened beyond them at a burst
POOL_SIZE, MAX_OVERFLOW = 5, 5
#: a lost connection's append is retried this many times (each after reading its outcome): enough to
#: pass every pooled connection a PostgreSQL restart killed, each invalidated (reopened at its next
#: use) as it is found dead. Not `engine.dispose()`: connections other appends had checked out would
#: go back to the dropped pool and be garbage-collected unclosed
RECONNECTS = POOL_SIZE + MAX_OVERFLOW + 1

#: raises the right error once the insert found no lease at the epoch (lost, or no such run)
LostOrUnknown = Callable[[str, int], None]


def _committed(cur: Any, run_id: str, sent: tuple[int, str, str]) -> bool:
    """Whether the event sent (seq, hash) is in the ledger: its seq holds that very hash."""
    cur.execute(EVENT_HASH, {"run_id": run_id, "seq": sent[0]})
    there = cur.fetchone()
    return there is not None and there[0] == sent[1]


class FencedAppender:
    """Fenced appends in one autocommit statement each; the runs' chain heads remembered."""

    def __init__(self, url: Any, lost_or_unknown: LostOrUnknown, error: Callable[[str, BaseException],
                 LedgerError], *, retries: int = 20) -> None:
        # autocommit: the statement is its own transaction (no BEGIN, no COMMIT round trip); no
        # pre-ping: a lost connection is retried below once its append's outcome is read back
        self._engine: Engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_size=POOL_SIZE,
                                             max_overflow=MAX_OVERFLOW)
        self._lost_or_unknown, self._error, self._retries = lost_or_unknown, error, retries
        self._heads: dict[str, tuple[int, str]] = {}

    def close(self) -> None:
        self._engine.dispose()

    def append(self, run_id: str, kind: str, text: str, normalised: dict[str, Any], at: datetime,
               epoch: int) -> LedgerEvent:
        sent: tuple[int, str, str] | None = None  # (seq, hash, prev) of an insert whose outcome was lost
        reconnects = 0
        doing = f"append {kind} to run {run_id}"
        for attempt in range(self._retries):
            head = self._heads.pop(run_id, None)  # remembered again only once an append succeeded
            try:
                conn = self._engine.raw_connection()
            except Exception as exc:  # the database is away
                raise self._error(doing, exc) from exc
            inserted: Any = None
            try:
                with conn.cursor() as cur:
                    if sent is not None and _committed(cur, run_id, sent):  # before the connection broke
                        seq, digest, prev = sent
                        inserted = (seq,)
                    else:
                        if head is None:
                            cur.execute(LAST_EVENT, {"run_id": run_id})
                            last = cur.fetchone()
                            head = (int(last[0]), str(last[1])) if last else (0, GENESIS)
                        seq, prev = head[0] + 1, head[1]
                        digest = text_event_hash(prev, seq, at, kind, text)
                        sent = (seq, digest, prev)  # until the database answered
                        cur.execute(INSERT_HOLDING_LEASE, {
                            "run_id": run_id, "seq": seq, "at": at, "kind": kind, "payload": text,
                            "prev_hash": prev, "hash": digest, "epoch": epoch})
                        inserted = cur.fetchone()
                    sent = None
            except psycopg.Error as exc:
                if exc.sqlstate in RACED:  # another process appended this seq first (or a lock clash)
                    sent = None
                    conn.close()
                    time.sleep(min(0.2, 0.002 * 2 ** attempt) * random.random())
                    continue
                driver = conn.dbapi_connection
                broken = driver is None or driver.closed or bool(getattr(driver, "broken", False))
                if broken:  # the server restarted or killed it: closed, reopened at its next use
                    conn.invalidate(exc)
                else:
                    sent = None
                    conn.close()
                if broken and reconnects < RECONNECTS:
                    reconnects += 1
                    continue
                raise self._error(doing, exc) from exc
            except BaseException:
                conn.invalidate()  # its state is unknown: never handed to another append
                raise
            conn.close()
            if inserted is None:
                self._lost_or_unknown(run_id, epoch)
                raise AssertionError("unreachable")  # pragma: no cover
            return self._done(run_id, kind, normalised, at, prev, (seq, digest))
        raise self._error(doing, RuntimeError(f"{self._retries} tries lost to concurrent appenders"))

    def _done(self, run_id: str, kind: str, normalised: dict[str, Any], at: datetime, prev: str,
              head: tuple[int, str]) -> LedgerEvent:
        if len(self._heads) >= HEADS_KEPT:
            self._heads.clear()
        self._heads[run_id] = head
        return LedgerEvent(run_id=run_id, seq=head[0], at=at, kind=kind, payload=normalised,
                           prev_hash=prev, hash=head[1])
