"""The ledger's database: one SQLAlchemy engine on SQLite or PostgreSQL, its transactions, retries
after a clash with a concurrent writer, and the numbered migrations (`ledger_schema.MIGRATIONS`).
`runofshow.adapters.ledger_sql` keeps the ledger's own logic on it; `runofshow.adapters.lease_sql`
shares it.

    db = LedgerDatabase("sqlite:///runofshow.db")    # opens and migrates; LedgerError if it cannot
    with db.tx("read run r1", read_only=True) as conn: ...
    db.retrying(once)                                 # `once` (one transaction) again after a conflict

Numbered migrations are applied in order when the database opens, each recorded in
`schema_version` in the same transaction as its DDL; two processes opening at once retry until one
of them has applied them. SQLite runs in WAL mode with `synchronous=FULL`, so a committed event
survives SIGKILL (and power loss), and its write transactions start with `BEGIN IMMEDIATE` (a read
with `BEGIN DEFERRED`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, insert, make_url, select
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from runofshow.adapters.ledger_schema import MIGRATIONS, schema_version
from runofshow.errors import LedgerError

STATE_FILE = "runofshow.db"


def default_state_url(evidence_dir: str | Path) -> str:
    """SQLite file `runofshow.db` beside the evidence folder (in its parent), as an absolute URL."""
    return f"sqlite:///{Path(evidence_dir).resolve().parent / STATE_FILE}"


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


CONFLICTS = ("already exists", "duplicate", "locked", "deadlock", "could not serialize", "busy")


def _conflict(exc: BaseException | None) -> bool:
    """A clash with a concurrent writer or migrator (worth retrying), not a broken store."""
    if isinstance(exc, IntegrityError):
        return True
    return isinstance(exc, DBAPIError) and any(word in str(exc.orig).lower() for word in CONFLICTS)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (transactional DDL, BEGIN IMMEDIATE)
    cur = dbapi_conn.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    reading = conn.get_execution_options().get("runofshow_read")
    conn.exec_driver_sql("BEGIN DEFERRED" if reading else "BEGIN IMMEDIATE")


class LedgerDatabase:
    """The engine under a ledger. `url` is any SQLAlchemy URL (sqlite:///..., postgresql+psycopg://...);
    `name` is it without its password, as every error names it."""

    def __init__(self, url: str, *, retries: int = 20) -> None:
        try:
            parsed = make_url(url)
        except Exception as exc:  # sqlalchemy raises ArgumentError and others
            raise LedgerError(f"ledger: '{url}' is not a database URL: {exc}", adapter="ledger") from None
        self.name = parsed.render_as_string(hide_password=True)
        self.retries = retries
        kwargs: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine: Engine = create_engine(parsed, **kwargs)
        except Exception as exc:  # a missing driver is an ImportError, not a SQLAlchemyError
            raise self.error("cannot open", exc) from exc
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        try:
            self.migrate()
        except BaseException:
            self.engine.dispose()
            raise

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return str(self.engine.dialect.name)

    def error(self, doing: str, exc: BaseException) -> LedgerError:
        return LedgerError(f"ledger {self.name}: {doing}: {_first_line(exc)}", adapter="ledger_sql",
                           target=self.name)

    @contextmanager
    def tx(self, doing: str, *, read_only: bool = False) -> Iterator[Connection]:
        """One transaction; a database error is a `LedgerError` saying what it was `doing`."""
        try:
            with self.engine.connect() as conn:
                if read_only:
                    conn = conn.execution_options(runofshow_read=True)
                with conn.begin():
                    yield conn
        except LedgerError:
            raise
        except SQLAlchemyError as exc:
            raise self.error(doing, exc) from exc

    def retrying(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` (one transaction) again after a conflict with another writer or migrator."""
        for attempt in range(self.retries):
            try:
                return fn()
            except LedgerError as err:
                if not _conflict(err.__cause__) or attempt == self.retries - 1:
                    raise
                time.sleep(min(0.5, 0.01 * 2 ** attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")  # pragma: no cover

    def dispose(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ migrations

    def schema_versions(self) -> list[int]:
        with self.tx("read schema version", read_only=True) as conn:
            return list(conn.scalars(select(schema_version.c.version).order_by(schema_version.c.version)))

    def migrate(self) -> list[int]:
        """Apply pending migrations in order; return the versions this call applied."""

        def once() -> list[int]:
            applied_now: list[int] = []
            with self.tx("migrate") as conn:
                schema_version.create(conn, checkfirst=True)
                done = set(conn.scalars(select(schema_version.c.version)))
                for number, (description, step) in enumerate(MIGRATIONS, start=1):
                    if number in done:
                        continue
                    step(conn)
                    conn.execute(insert(schema_version).values(
                        version=number, description=description, applied_at=datetime.now(UTC)))
                    applied_now.append(number)
            return applied_now

        result: list[int] = self.retrying(once)
        return result


__all__ = ["CONFLICTS", "STATE_FILE", "LedgerDatabase", "default_state_url"]
