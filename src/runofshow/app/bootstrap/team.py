"""The composition root's part for team mode (`runofshow submit`, `runofshow worker`): the ledger's
leases, in the same database as the ledger (PostgreSQL)."""

from __future__ import annotations

from runofshow.app.bootstrap.ledger import ledger_url, redacted_url
from runofshow.errors import InputError, LedgerError
from runofshow.ports import Leases, Ledger


def open_leases(ledger: Ledger) -> Leases | None:
    """Team mode's leases in the ledger's database (None for a ledger without them, in memory)."""
    from runofshow.adapters.lease_sql import SqlLeases
    from runofshow.adapters.ledger_sql import SqlLedger

    return SqlLeases(ledger) if isinstance(ledger, SqlLedger) else None


def open_team(url: str) -> tuple[Ledger, Leases]:
    """The ledger and leases for team mode. Bad input (exit 2): a database that is not PostgreSQL,
    or one that cannot be reached at start."""
    from runofshow.adapters.lease_sql import SqlLeases
    from runofshow.adapters.ledger_sql import SqlLedger

    full = ledger_url(url)
    if not full.startswith("postgresql"):
        raise InputError(f"team mode needs PostgreSQL (--state postgresql://...), not {redacted_url(full)}: "
                         "use `runofshow run` for a run driven by one process")
    try:
        ledger = SqlLedger(full, retries=3)
    except LedgerError as err:
        raise InputError(f"cannot reach the database: {err}") from None
    return ledger, SqlLeases(ledger)


__all__ = ["open_leases", "open_team"]
