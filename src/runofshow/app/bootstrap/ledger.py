"""The composition root's ledger part: where the ledger lives (`resolve_state_url`), which driver
reads it (`ledger_url`) and the SQL ledger opened there (`open_ledger`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from runofshow.app import settings
from runofshow.domain.plan import Plan
from runofshow.ports import Ledger

STATE_ENV = "RUNOFSHOW_STATE"


def resolve_state_url(
    option: str | None, plan: Plan | None = None, environ: Mapping[str, str] | None = None,
    evidence_dir: str | Path | None = None,
) -> str:
    """The ledger URL: --state, plan.state, RUNOFSHOW_STATE, or SQLite beside the evidence folder."""
    from runofshow.adapters.ledger_database import default_state_url

    env = settings.environment(environ)
    evidence = evidence_dir or (plan.evidence_dir if plan else "evidence")
    return option or (plan.state if plan else None) or env.get(STATE_ENV) or default_state_url(evidence)


def ledger_url(url: str) -> str:
    """`postgresql://` (and `postgres://`) mean the installed psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def open_ledger(url: str) -> Ledger:
    from runofshow.adapters.ledger_sql import SqlLedger

    return SqlLedger(ledger_url(url))


def redacted_url(url: str) -> str:
    """`url` without its password, for the ledger and messages (nothing of it when it is no URL)."""
    from sqlalchemy import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL: keep nothing of it
        return "(unparsed)"


__all__ = ["STATE_ENV", "ledger_url", "open_ledger", "redacted_url", "resolve_state_url"]
