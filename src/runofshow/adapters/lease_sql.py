"""The `Leases` port on PostgreSQL: plain lease rows claimed with `SELECT ... FOR UPDATE SKIP LOCKED`.

One row per submitted run in the ledger's `leases` table (migration 4 of `ledger_schema`). A claim
takes the oldest queued row, or a running row whose `expires_at` has passed (its worker died or
stalled); under caps -- the worker's flags and the plan's `team` caps recorded at submit, the
stricter of each -- only a queued row whose service and the whole database are under them. It
locks the lease row -- the lock a fenced append shares (`ledger_fenced`) -- then the run's `runs`
row -- the lock an unfenced append and a runs update take first -- and raises the epoch by one,
all in one transaction; expiry is computed with the database's clock (`now()`), so the workers'
clocks do not matter. `fenced(lease)` is the ledger as that lease's holder writes it: each append
and runs update carries the epoch and the database refuses it once a newer claim took the run over
(`ledger_sql.holds_epoch`).

Why not a job queue (procrastinate, pgqueuer): a run is held for hours by one worker and every
ledger append must check, in the same statement, that the worker still holds it. A job queue's
unit is a short job whose liveness is a heartbeat outside the application's own transactions; it
has no fencing token that our INSERT could test. Lease rows in the ledger's own database give both.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    Interval,
    Text,
    any_,
    bindparam,
    create_engine,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import SQLAlchemyError

from runofshow.adapters.ledger_schema import events, leases, runs
from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.errors import InputError, LeaseLostError
from runofshow.ledger_chain import normalise_payload, utc
from runofshow.ports import Caps, Lease, LedgerEvent, RunRecord

QUEUED, RUNNING, DONE = "queued", "running", "done"
#: migration 5's column (the `leases` Table keeps migration 4's shape)
WAITING = literal_column("leases.waiting", Text).label("waiting")
#: the advisory lock that makes capped claims one at a time (the counts they read stay true)
CLAIM_LOCK = 0x72756E6F66  # "runof"
SET_WAITING = text("UPDATE leases SET waiting = :waiting WHERE run_id = :run_id").bindparams(
    bindparam("waiting", type_=Text), bindparam("run_id"))
#: the plan's caps, recorded at submit in the lease's options (`caps`: per_service, total)
PLAN_CAPS = "(leases.options::jsonb -> 'caps')"
NO_PLAN_CAPS = text(f"{PLAN_CAPS} IS NULL")
#: a queued run held back by the plan's caps, if any: only a capped claim may start it
QUEUED_WITH_PLAN_CAPS = text(
    f"SELECT 1 FROM leases WHERE status = 'queued' AND {PLAN_CAPS} IS NOT NULL LIMIT 1")
#: each queued run, why it waits under the worker's caps (:total, :per_service) and its plan's, the
#: stricter of each pair (NULL: it may start now); a takeover is no new run and is never held back
WHY_WAITING = text(f"""
WITH running AS (
    SELECT r.release, count(*) AS n FROM leases l JOIN runs r ON r.run_id = l.run_id
    WHERE l.status = 'running' GROUP BY r.release),
queued AS (
    SELECT leases.run_id, leases.waiting, r.release, coalesce(s.n, 0) AS n,
           (SELECT coalesce(sum(n), 0) FROM running) AS total,
           ({PLAN_CAPS} ->> 'per_service')::integer AS plan_service,
           ({PLAN_CAPS} ->> 'total')::integer AS plan_total
    FROM leases JOIN runs r ON r.run_id = leases.run_id LEFT JOIN running s ON s.release = r.release
    WHERE leases.status = 'queued'),
capped AS (
    SELECT *, least(CAST(:total AS integer), plan_total) AS cap_total,
           least(CAST(:per_service AS integer), plan_service) AS cap_service FROM queued)
SELECT run_id, waiting, CASE
    WHEN total >= cap_total THEN 'global cap ' || cap_total || ' reached (' || total || ' running' ||
        CASE WHEN cap_total IS DISTINCT FROM CAST(:total AS integer)
             THEN '; the plan''s team.max_canaries_total' ELSE '' END || ')'
    WHEN n >= cap_service THEN 'per-service cap ' || cap_service || ' for ' || release || ' reached (' ||
        n || ' running' || CASE WHEN cap_service IS DISTINCT FROM CAST(:per_service AS integer)
             THEN '; the plan''s team.max_canaries_per_service' ELSE '' END || ')'
    END AS reason
FROM capped""").bindparams(bindparam("total", type_=Integer), bindparam("per_service", type_=Integer))

#: the runs of a worker's whose ledger grew past what their runners know (its watcher, every half
#: second): ids and known seqs as two array parameters, so the statement is the same for any number
#: of runs (an IN list of a thousand ids was parsed anew by the driver each time), and only the runs
#: that changed come back (a thousand rows every half second were a tenth of the worker's CPU)
GROWN = text(
    "SELECT known.run_id, max(events.seq) AS seq FROM unnest(:ids, :seqs) AS known(run_id, seq) "
    "JOIN events ON events.run_id = known.run_id AND events.seq > known.seq GROUP BY known.run_id"
).bindparams(bindparam("ids", type_=ARRAY(Text)), bindparam("seqs", type_=ARRAY(Integer)))

#: every lease a worker holds renewed in one statement, the pairs as two array parameters (a tuple IN
#: list of a thousand pairs was parsed anew by the driver at every renewal)
RENEW_MANY = text(
    "UPDATE leases SET expires_at = now() + :ttl FROM unnest(:ids, :epochs) AS held(run_id, epoch) "
    "WHERE leases.status = 'running' AND leases.run_id = held.run_id AND leases.epoch = held.epoch "
    "RETURNING leases.run_id, leases.epoch").bindparams(
    bindparam("ids", type_=ARRAY(Text)), bindparam("epochs", type_=ARRAY(Integer)),
    bindparam("ttl", type_=Interval))


def _lease(row: Any, previous_owner: str | None = None) -> Lease:
    return Lease(run_id=row.run_id, status=row.status, owner=row.owner, epoch=row.epoch,
                 expires_at=row.expires_at, options=json.loads(row.options), previous_owner=previous_owner,
                 waiting=getattr(row, "waiting", None))


def _startable(conn: Connection, caps: Caps) -> list[str]:
    """Under the worker's `caps` and each queued run's plan caps (the advisory lock held): the
    queued runs that may start now; every queued run's `waiting` says why it is held back (or nothing)."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CLAIM_LOCK})
    rows = conn.execute(WHY_WAITING, {"total": caps.total, "per_service": caps.per_service}).all()
    for row in rows:
        if row.reason != row.waiting:
            conn.execute(SET_WAITING, {"waiting": row.reason, "run_id": row.run_id})
    return [str(row.run_id) for row in rows if row.reason is None]


class FencedLedger:
    """The `Ledger` port for one lease's holder: writes to its run carry the lease's epoch."""

    def __init__(self, ledger: SqlLedger, lease: Lease) -> None:
        self._ledger, self._lease = ledger, lease
        self.name = ledger.name

    def _epoch(self, run_id: str) -> int | None:
        return self._lease.epoch if run_id == self._lease.run_id else None

    def create_run(self, run: RunRecord) -> None:
        self._ledger.create_run(run)

    def append(self, run_id: str, kind: str, payload: Mapping[str, Any], at: datetime) -> LedgerEvent:
        return self._ledger.append(run_id, kind, payload, at, epoch=self._epoch(run_id))

    def events(self, run_id: str, after_seq: int = 0) -> list[LedgerEvent]:
        return self._ledger.events(run_id, after_seq)

    def update_run(self, run_id: str, *, status: str | None = None, stage: int | None = None,
                   weight: float | None = None) -> None:
        self._ledger.update_run(run_id, status=status, stage=stage, weight=weight, epoch=self._epoch(run_id))

    def run(self, run_id: str) -> RunRecord:
        return self._ledger.run(run_id)

    def runs(self) -> list[RunRecord]:
        return self._ledger.runs()

    def verify_chain(self, run_id: str) -> list[str]:
        return self._ledger.verify_chain(run_id)


class SqlLeases:
    """`Leases` in the ledger's database (PostgreSQL: SQLite has no SKIP LOCKED and one writer)."""

    def __init__(self, ledger: SqlLedger) -> None:
        self.ledger = ledger
        self.db = ledger.db  # the ledger's database: its transactions, retries and errors
        self.postgres = ledger.db.dialect == "postgresql"
        self._engine: Engine | None = None

    @contextmanager
    def _lease_tx(self, doing: str) -> Iterator[Connection]:
        """A transaction on a small pool of its own: renewals and the fence's checks never wait
        behind a thousand runs' appends for a connection (they would miss the TTL)."""
        if not self.postgres:
            with self.db.tx(doing) as conn:
                yield conn
            return
        if self._engine is None:
            self._engine = create_engine(self.db.engine.url, pool_size=2, max_overflow=4,
                                         pool_pre_ping=True)
            weakref.finalize(self, self._engine.dispose)
        try:
            with self._engine.connect() as conn, conn.begin():
                yield conn
        except SQLAlchemyError as exc:
            raise self.db.error(doing, exc) from exc

    def require_postgres(self) -> None:
        if not self.postgres:
            raise InputError(f"team mode needs PostgreSQL (--state postgresql://...); {self.ledger.name} "
                             "is SQLite: use `runofshow run` there")

    def submit(self, run: RunRecord, options: Mapping[str, Any]) -> bool:
        self.require_postgres()
        plan_text, _ = normalise_payload(run.plan, self.ledger.name)
        options_text, _ = normalise_payload(dict(options), self.ledger.name)
        with self.db.tx(f"submit run {run.run_id}") as conn:
            if conn.execute(select(runs.c.run_id).where(runs.c.run_id == run.run_id)).first() is not None:
                return False
            conn.execute(insert(runs).values(
                run_id=run.run_id, release=run.release, version=run.version, status=run.status,
                stage=run.stage, weight=run.weight, started_at=utc(run.started_at), plan=plan_text))
            conn.execute(insert(leases).values(
                run_id=run.run_id, status=QUEUED, owner=None, epoch=0, expires_at=None,
                submitted_at=utc(run.started_at), options=options_text))
        return True

    def claim(self, owner: str, ttl_s: float, run_id: str | None = None, caps: Caps | None = None
              ) -> Lease | None:
        self.require_postgres()

        def once() -> Lease | None:
            with self.db.tx("claim a run") as conn:
                orphaned = (leases.c.status == RUNNING) & (leases.c.expires_at < func.now())
                mine = caps or Caps()
                if mine.any or conn.execute(QUEUED_WITH_PLAN_CAPS).first() is not None:
                    startable = leases.c.run_id == any_(bindparam("startable", _startable(conn, mine),
                                                                  type_=ARRAY(Text)))
                    free = or_((leases.c.status == QUEUED) & startable, orphaned)
                else:  # no cap anywhere; a run submitted since with plan caps waits for a capped claim
                    free = or_((leases.c.status == QUEUED) & NO_PLAN_CAPS, orphaned)
                query = (select(leases).select_from(leases.join(runs, leases.c.run_id == runs.c.run_id))
                         .where(free))
                if run_id is not None:
                    query = query.where(leases.c.run_id == run_id)
                row = conn.execute(query.order_by(leases.c.submitted_at, leases.c.run_id).limit(1)
                                   .with_for_update(skip_locked=True, of=leases)).first()
                if row is None:
                    return None
                # the lease row is locked above (a fenced append shares that lock, so a takeover
                # waits for one in flight and the next sees the new epoch); the runs row is the lock
                # an unfenced append and a runs update take first. Always in this order: lease, runs
                conn.execute(select(runs.c.run_id).where(runs.c.run_id == row.run_id).with_for_update())
                new = conn.execute(
                    update(leases).where(leases.c.run_id == row.run_id)
                    .values(status=RUNNING, owner=owner, epoch=leases.c.epoch + 1,
                            expires_at=func.now() + timedelta(seconds=ttl_s))
                    .returning(*leases.c)).one()
                conn.execute(SET_WAITING, {"waiting": None, "run_id": row.run_id})
                return _lease(new, previous_owner=row.owner)

        result: Lease | None = self.db.retrying(once)
        return result

    def _lost(self, conn: Connection, lease: Lease) -> LeaseLostError:
        now = conn.execute(select(leases.c.epoch, leases.c.owner)
                           .where(leases.c.run_id == lease.run_id)).first()
        held = "no lease" if now is None else f"epoch {now.epoch} held by {now.owner}"
        return LeaseLostError(f"run {lease.run_id}: lease_lost: epoch {lease.epoch} of {lease.owner} is "
                              f"stale ({held})", adapter="lease_sql", target=self.ledger.name)

    def renew(self, lease: Lease, ttl_s: float) -> datetime:
        with self._lease_tx(f"renew the lease of run {lease.run_id}") as conn:
            row = conn.execute(
                update(leases).where(leases.c.run_id == lease.run_id, leases.c.epoch == lease.epoch,
                                     leases.c.status == RUNNING)
                .values(expires_at=func.now() + timedelta(seconds=ttl_s)).returning(leases.c.expires_at)
            ).first()
            if row is None:
                raise self._lost(conn, lease)
            expires: datetime = row.expires_at
            return expires

    def check(self, lease: Lease, margin_s: float = 0.0) -> None:
        with self._lease_tx(f"check the lease of run {lease.run_id}") as conn:
            live = leases.c.expires_at > func.now() + timedelta(seconds=margin_s)
            row = conn.execute(select(leases.c.epoch, leases.c.status, live.label("live"))
                               .where(leases.c.run_id == lease.run_id)).first()
            if row is None or row.epoch != lease.epoch or row.status != RUNNING:
                raise self._lost(conn, lease)
            if not row.live:
                raise LeaseLostError(
                    f"run {lease.run_id}: lease_lost: epoch {lease.epoch} of {lease.owner} expires in "
                    f"less than {margin_s:g} s (it was not renewed in time)",
                    adapter="lease_sql", target=self.ledger.name)

    def renew_many(self, held: list[Lease], ttl_s: float) -> set[tuple[str, int]]:
        if not held:
            return set()
        pairs = [(x.run_id, x.epoch) for x in held]
        with self._lease_tx(f"renew {len(held)} lease(s)") as conn:
            if self.postgres:  # two array parameters: the same statement for any number of leases
                ids, epochs = [p[0] for p in pairs], [p[1] for p in pairs]
                rows = conn.execute(RENEW_MANY, {"ids": ids, "epochs": epochs,
                                                 "ttl": timedelta(seconds=ttl_s)}).all()
                return {(str(r.run_id), int(r.epoch)) for r in rows}
            rows = conn.execute(
                update(leases)
                .where(leases.c.status == RUNNING, tuple_(leases.c.run_id, leases.c.epoch).in_(pairs))
                .values(expires_at=func.now() + timedelta(seconds=ttl_s))
                .returning(leases.c.run_id, leases.c.epoch)).all()
        return {(str(r.run_id), int(r.epoch)) for r in rows}

    def release(self, lease: Lease, *, done: bool) -> None:
        with self.db.tx(f"release the lease of run {lease.run_id}") as conn:
            conn.execute(update(leases).where(leases.c.run_id == lease.run_id, leases.c.epoch == lease.epoch)
                         .values(status=DONE if done else QUEUED, expires_at=None))

    def grown(self, known: Mapping[str, int]) -> dict[str, int]:
        if not known:
            return {}
        with self.db.tx("read the runs' last events", read_only=True) as conn:
            if self.postgres:
                rows = conn.execute(GROWN, {"ids": list(known), "seqs": list(known.values())}).all()
            else:
                rows = conn.execute(select(events.c.run_id, func.max(events.c.seq))
                                    .where(events.c.run_id.in_(list(known))).group_by(events.c.run_id)).all()
        return {str(rid): int(seq) for rid, seq in rows if int(seq) > known[str(rid)]}

    def current(self, run_id: str) -> Lease | None:
        with self.db.tx(f"read the lease of run {run_id}", read_only=True) as conn:
            row = conn.execute(select(leases, WAITING).where(leases.c.run_id == run_id)).first()
        return None if row is None else _lease(row)

    def all(self) -> list[Lease]:
        with self.db.tx("list leases", read_only=True) as conn:
            rows = conn.execute(select(leases, WAITING)
                                .order_by(leases.c.submitted_at, leases.c.run_id)).all()
        return [_lease(r) for r in rows]

    def fenced(self, lease: Lease) -> FencedLedger:
        return FencedLedger(self.ledger, lease)


__all__ = ["DONE", "QUEUED", "RUNNING", "FencedLedger", "SqlLeases"]
