"""The ledger's schema: its tables and the numbered migrations that make them (append only).
`runofshow.adapters.ledger_database` applies them; `runofshow.adapters.lease_sql` shares the tables."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    column,
    table,
    text,
)
from sqlalchemy.types import TypeDecorator

from runofshow.ledger_chain import utc


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on write and on read, whatever the backend keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", String(200), nullable=False),
    Column("applied_at", UtcDateTime, nullable=False),
)

runs = Table(
    "runs", metadata,
    Column("run_id", String(200), primary_key=True),
    Column("release", String(200), nullable=False),
    Column("version", String(100), nullable=False),
    Column("status", String(50), nullable=False),
    Column("stage", Integer, nullable=True),
    Column("weight", Float, nullable=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("plan", Text, nullable=False),
)

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(200), ForeignKey("runs.run_id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(100), nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("run_id", "seq", name="uq_events_run_seq"),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("token_id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)


leases = Table(
    "leases", metadata,
    Column("run_id", String(200), ForeignKey("runs.run_id"), primary_key=True),
    Column("status", String(20), nullable=False),  # queued, running, done
    Column("owner", String(200), nullable=True),  # the worker driving it (or that last did)
    Column("epoch", Integer, nullable=False),  # grows at every claim: the fencing token
    Column("expires_at", UtcDateTime, nullable=True),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("options", Text, nullable=False),  # JSON: what `runofshow submit` was asked (speed, ...)
)

seen_requests = Table(
    "seen_requests", metadata,
    Column("key", String(200), primary_key=True),  # e.g. slack:<signature>
    Column("seen_at", UtcDateTime, nullable=False, index=True),
)

#: `events` with the `epoch` column migration 4 adds (the `events` Table is migration 1's shape)
events_epoch = table("events", *(column(c.name, c.type) for c in events.columns if c.name != "id"),
                     column("epoch", Integer()))


def _m5_lease_waiting(conn: Connection) -> None:
    """Team mode: why a queued run waits (a worker's concurrency cap), for `status` and `runs`."""
    conn.execute(text("ALTER TABLE leases ADD COLUMN waiting TEXT"))


def _m6_seen_requests(conn: Connection) -> None:
    """Signed requests already taken (Slack clicks), shared by every `serve` replica: a replay
    sent to another replica is refused too."""
    seen_requests.create(conn)


def _m1_runs_and_events(conn: Connection) -> None:
    runs.create(conn)
    events.create(conn)


def _m2_index_events_by_time(conn: Connection) -> None:
    conn.execute(text("CREATE INDEX ix_events_run_at ON events (run_id, at)"))


def _m3_api_tokens(conn: Connection) -> None:
    api_tokens.create(conn)


def _m4_leases_and_fenced_events(conn: Connection) -> None:
    """Team mode: one lease per submitted run, and the epoch each event was written under."""
    leases.create(conn)
    conn.execute(text("CREATE INDEX ix_leases_status ON leases (status, submitted_at)"))
    conn.execute(text("ALTER TABLE events ADD COLUMN epoch INTEGER"))


# Append only: never edit or reorder an entry that has shipped.
MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    ("runs and hash-chained events", _m1_runs_and_events),
    ("index events by run and time", _m2_index_events_by_time),
    ("api tokens of the war-room web app (hashes only)", _m3_api_tokens),
    ("leases and fenced events (team mode)", _m4_leases_and_fenced_events),
    ("why a queued run waits (team mode's caps)", _m5_lease_waiting),
    ("signed requests already taken, for every serve replica", _m6_seen_requests),
]


__all__ = [
    "MIGRATIONS", "UtcDateTime", "api_tokens", "events", "events_epoch", "leases", "metadata", "runs",
    "schema_version", "seen_requests",
]
