"""The ledger in SQLite or PostgreSQL, through one SQLAlchemy Core code path.

Tables: `runs`, `events` (hash-chained, unique per run_id + seq), `api_tokens` (the web app's token
hashes: the `TokenStore` port), `leases` (team mode: who drives a run, under which epoch;
`runofshow.adapters.lease_sql`) and `schema_version`. The database under it -- engine,
transactions, retries, numbered migrations applied when the ledger opens, SQLite in WAL mode with
`synchronous=FULL` -- is `runofshow.adapters.ledger_database`'s (`SqlLedger.db`). Appends lock the
run's row (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite transactions start with `BEGIN
IMMEDIATE`), so seq stays dense and unique under concurrent appenders; a unique violation that
slips through is retried.

Fencing (team mode): an append or a runs-row update made with `epoch=N` is one conditional
statement that the database refuses (`LeaseLostError`) once a newer claim took the run over,
whatever the writer believes. On PostgreSQL an append is `INSERT ... SELECT ... FROM leases WHERE
epoch = N FOR SHARE` on the lease row a takeover locks and updates, in one round trip
(`ledger_fenced`); a runs update, and a fenced append on SQLite, run `... WHERE EXISTS (lease of the
run with epoch N)` after the run's row lock, which a takeover takes too. `epoch=None` (a single
`runofshow run`, `runofshow decide`) writes as before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Integer, bindparam, delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from runofshow.adapters.ledger_database import LedgerDatabase
from runofshow.adapters.ledger_fenced import FencedAppender
from runofshow.adapters.ledger_schema import api_tokens, events, events_epoch, leases, runs, seen_requests
from runofshow.errors import LeaseLostError, LedgerError, RunNotFoundError
from runofshow.ledger_chain import GENESIS, chain_problems, normalise_payload, text_event_hash, utc
from runofshow.ports import ApiToken, LedgerEvent, RunRecord


def holds_epoch(run_id: str, epoch: int) -> Any:
    """SQL: the run's lease is at `epoch` (no newer claim took it over)."""
    return exists(select(leases.c.run_id).where(leases.c.run_id == run_id, leases.c.epoch == epoch))


# An append's and a read's statements, built once with bound parameters: building them anew at every
# call (and computing their cache keys) was a third of an append's CPU in a worker driving a
# thousand runs; the SQL sent is the same.
_RUN_ID = bindparam("run_id")
_LOCK_RUN = select(runs.c.run_id).where(runs.c.run_id == _RUN_ID).with_for_update()
_FIND_RUN = select(runs.c.run_id).where(runs.c.run_id == _RUN_ID)
_LAST_EVENT = (select(events.c.seq, events.c.hash).where(events.c.run_id == _RUN_ID)
               .order_by(events.c.seq.desc()).limit(1))
_INSERT_EVENT = insert(events)
_EVENT_COLS = ("run_id", "seq", "at", "kind", "payload", "prev_hash", "hash")
_INSERT_FENCED = insert(events_epoch).from_select(
    [*_EVENT_COLS, "epoch"],
    select(*(bindparam(k, type_=events_epoch.c[k].type) for k in _EVENT_COLS),
           bindparam("epoch", type_=Integer()))
    .where(exists(select(leases.c.run_id).where(leases.c.run_id == bindparam("run_id"),
                                                leases.c.epoch == bindparam("epoch"))))
).returning(events_epoch.c.seq)
_EVENTS_AFTER = (select(events).where(events.c.run_id == _RUN_ID, events.c.seq > bindparam("after_seq"))
                 .order_by(events.c.seq))


try:
    import orjson as _orjson
except ImportError:  # a dependency; without it, the standard library reads (slower)
    _orjson = None  # type: ignore[assignment]


def _loads(text: str) -> Any:
    """A payload as JSON: orjson when installed (2-3x faster: a run page reads thousands of payloads);
    what it does not take (NaN, ints past 64 bits) the standard library does."""
    if _orjson is not None:
        try:
            return _orjson.loads(text)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(text)


#: how long a signed request's key is kept (Slack refuses timestamps older than 5 minutes)
SEEN_KEEP_S = 600.0


class SqlLedger:
    """The `Ledger` port on SQLAlchemy Core. `url` is any SQLAlchemy URL (sqlite:///..., postgresql+psycopg://...)."""

    def __init__(self, url: str, *, retries: int = 20) -> None:
        self.db = LedgerDatabase(url, retries=retries)  # opened and migrated
        self.name = self.db.name
        self._fenced: FencedAppender | None = None  # PostgreSQL's one-statement fenced appends

    def close(self) -> None:
        if self._fenced is not None:
            self._fenced.close()
        self.db.dispose()

    def __enter__(self) -> SqlLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_versions(self) -> list[int]:
        return self.db.schema_versions()

    def migrate(self) -> list[int]:
        """Apply pending migrations in order; return the versions this call applied."""
        return self.db.migrate()

    # ------------------------------------------------------------------ runs

    @staticmethod
    def _record(row: Any) -> RunRecord:
        return RunRecord(
            run_id=row.run_id, release=row.release, version=row.version, status=row.status,
            stage=row.stage, weight=row.weight, started_at=row.started_at, plan=json.loads(row.plan),
        )

    def create_run(self, run: RunRecord) -> None:
        plan_text, _ = normalise_payload(run.plan, self.name)
        utc(run.started_at)
        try:
            with self.db.tx(f"create run {run.run_id}") as conn:
                conn.execute(insert(runs).values(
                    run_id=run.run_id, release=run.release, version=run.version, status=run.status,
                    stage=run.stage, weight=run.weight, started_at=run.started_at, plan=plan_text))
        except LedgerError as err:
            if isinstance(err.__cause__, IntegrityError):
                raise LedgerError(f"ledger {self.name}: run {run.run_id} already exists",
                                  adapter="ledger_sql", target=self.name) from None
            raise

    def _unknown(self, run_id: str) -> RunNotFoundError:
        return RunNotFoundError(f"ledger {self.name}: no run {run_id}", adapter="ledger_sql",
                                target=self.name)

    def run(self, run_id: str) -> RunRecord:
        with self.db.tx(f"read run {run_id}", read_only=True) as conn:
            row = conn.execute(select(runs).where(runs.c.run_id == run_id)).first()
        if row is None:
            raise self._unknown(run_id)
        return self._record(row)

    def runs(self) -> list[RunRecord]:
        with self.db.tx("list runs", read_only=True) as conn:
            rows = conn.execute(select(runs).order_by(runs.c.started_at, runs.c.run_id)).all()
        return [self._record(r) for r in rows]

    def update_run(
        self, run_id: str, *, status: str | None = None, stage: int | None = None,
        weight: float | None = None, epoch: int | None = None,
    ) -> None:
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = status
        if stage is not None:
            values["stage"] = stage
        if weight is not None:
            values["weight"] = weight
        with self.db.tx(f"update run {run_id}") as conn:
            if values and epoch is not None:  # after the row lock, as an append: a fresh snapshot
                conn.execute(select(runs.c.run_id).where(runs.c.run_id == run_id).with_for_update())
                if conn.execute(update(runs).where(runs.c.run_id == run_id, holds_epoch(run_id, epoch))
                                .values(**values)).rowcount == 0:
                    self._lost_or_unknown(conn, run_id, epoch)
                found = True
            elif values:
                changed = conn.execute(update(runs).where(runs.c.run_id == run_id).values(**values))
                found = changed.rowcount > 0
            else:
                found = conn.execute(select(runs.c.run_id).where(runs.c.run_id == run_id)).first() is not None
        if not found:
            raise self._unknown(run_id)

    # ------------------------------------------------------------------ events

    def _lost_or_unknown(self, conn: Connection, run_id: str, epoch: int) -> None:
        if conn.execute(select(runs.c.run_id).where(runs.c.run_id == run_id)).first() is None:
            raise self._unknown(run_id)
        now = conn.execute(select(leases.c.epoch, leases.c.owner).where(leases.c.run_id == run_id)).first()
        held = "no lease" if now is None else f"epoch {now.epoch} held by {now.owner}"
        raise LeaseLostError(f"ledger {self.name}: run {run_id}: lease_lost: epoch {epoch} is stale ({held})",
                             adapter="ledger_sql", target=self.name)

    def _refused(self, run_id: str, epoch: int) -> None:
        """Why a fenced append inserted nothing: `LeaseLostError`, or no such run."""
        with self.db.tx(f"read the lease of run {run_id}", read_only=True) as conn:
            self._lost_or_unknown(conn, run_id, epoch)

    def append(self, run_id: str, kind: str, payload: Mapping[str, Any], at: datetime,
               *, epoch: int | None = None) -> LedgerEvent:
        """Append one event. With `epoch`, the database refuses it (`LeaseLostError`) unless the
        run's lease is still at that epoch: the check is part of the INSERT, after the row lock."""
        at_utc = utc(at)
        text, normalised = normalise_payload(payload, self.name)
        if epoch is not None and self.db.dialect == "postgresql":
            if self._fenced is None:
                self._fenced = FencedAppender(self.db.engine.url, self._refused, self.db.error,
                                              retries=self.db.retries)
            return self._fenced.append(run_id, kind, text, normalised, at_utc, epoch)

        def once() -> LedgerEvent:
            with self.db.tx(f"append {kind} to run {run_id}") as conn:
                key = {"run_id": run_id}
                if conn.execute(_LOCK_RUN, key).first() is None:
                    raise self._unknown(run_id)
                last = conn.execute(_LAST_EVENT, key).first()
                seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
                digest = text_event_hash(prev, seq, at_utc, kind, text)
                row = {"run_id": run_id, "seq": seq, "at": at_utc, "kind": kind, "payload": text,
                       "prev_hash": prev, "hash": digest}
                if epoch is None:
                    conn.execute(_INSERT_EVENT, row)
                elif conn.execute(_INSERT_FENCED, {**row, "epoch": epoch}).first() is None:
                    self._lost_or_unknown(conn, run_id, epoch)
            return LedgerEvent(run_id=run_id, seq=seq, at=at_utc, kind=kind, payload=normalised,
                               prev_hash=prev, hash=digest)

        result: LedgerEvent = self.db.retrying(once)
        return result

    def events(self, run_id: str, after_seq: int = 0) -> list[LedgerEvent]:
        with self.db.tx(f"read events of run {run_id}", read_only=True) as conn:
            rows = conn.execute(_EVENTS_AFTER, {"run_id": run_id, "after_seq": after_seq}).all()
            if not rows and conn.execute(_FIND_RUN, {"run_id": run_id}).first() is None:
                raise self._unknown(run_id)
        return [
            LedgerEvent(run_id=r.run_id, seq=r.seq, at=r.at, kind=r.kind, payload=_loads(r.payload),
                        prev_hash=r.prev_hash, hash=r.hash)
            for r in rows
        ]

    def verify_chain(self, run_id: str) -> list[str]:
        """One line per broken link of the run's hash chain; an empty list when it verifies."""
        return chain_problems(self.events(run_id))

    # ------------------------------------------------------------------ API tokens (the TokenStore port)

    @staticmethod
    def _token(row: Any) -> ApiToken:
        return ApiToken(token_id=row.token_id, name=row.name, role=row.role, token_hash=row.token_hash,
                        created_at=row.created_at, revoked_at=row.revoked_at)

    def add_token(self, token: ApiToken) -> None:
        with self.db.tx(f"add token {token.token_id}") as conn:
            conn.execute(insert(api_tokens).values(
                token_id=token.token_id, name=token.name, role=token.role, token_hash=token.token_hash,
                created_at=token.created_at, revoked_at=token.revoked_at))

    def token_by_hash(self, token_hash: str) -> ApiToken | None:
        with self.db.tx("find token", read_only=True) as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.token_hash == token_hash)).first()
        return None if row is None else self._token(row)

    def tokens(self) -> list[ApiToken]:
        with self.db.tx("list tokens", read_only=True) as conn:
            t = api_tokens.c
            rows = conn.execute(select(api_tokens).order_by(t.created_at, t.token_id)).all()
        return [self._token(r) for r in rows]

    def revoke_token(self, token_id: str, at: datetime) -> bool:
        with self.db.tx(f"revoke token {token_id}") as conn:
            t = api_tokens.c
            found = conn.execute(update(api_tokens).where(t.token_id == token_id, t.revoked_at.is_(None))
                                 .values(revoked_at=utc(at)))
        return bool(found.rowcount)

    # ------------------------------------------------------------------ seen requests (the SeenRequests port)

    def first_time(self, key: str, at: datetime) -> bool:
        """Remember `key` in the database, so every `serve` replica refuses its replay; keys older
        than SEEN_KEEP_S are forgotten (a request that old is refused as stale anyway)."""
        at = utc(at)
        dialect = self.db.dialect
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
        with self.db.tx("remember a signed request") as conn:
            forgotten = at - timedelta(seconds=SEEN_KEEP_S)
            conn.execute(delete(seen_requests).where(seen_requests.c.seen_at < forgotten))
            taken = conn.execute(upsert(seen_requests).values(key=key, seen_at=at).on_conflict_do_nothing()
                                 .returning(seen_requests.c.key)).first()
        return taken is not None

