"""`SeenRequests` (the signed Slack clicks already taken) on the in-memory fake and on the ledger's
database, SQLite and PostgreSQL: a replay is refused, old keys are forgotten, and two `serve`
replicas on one database refuse each other's replays."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runofshow.adapters.fakes_comms import InMemorySeenRequests
from runofshow.adapters.ledger_sql import SEEN_KEEP_S, SqlLedger
from runofshow.ports import SeenRequests
from tests.helpers import fresh_postgres_database

AT = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def replicas(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """Two SeenRequests that stand for two replicas (the same object in memory: one process)."""
    if request.param == "memory":
        seen = InMemorySeenRequests(keep_s=SEEN_KEEP_S)
        yield seen, seen
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'runofshow.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    a, b = SqlLedger(url), SqlLedger(url)
    yield a, b
    a.close()
    b.close()


def test_a_key_is_taken_once_and_its_replay_refused_on_every_replica(replicas: tuple[Any, Any]) -> None:
    a, b = replicas
    assert isinstance(a, SeenRequests)
    key = f"slack:v0={AT.timestamp()}"
    assert a.first_time(key, AT) is True
    assert a.first_time(key, AT + timedelta(seconds=1)) is False
    assert b.first_time(key, AT + timedelta(seconds=2)) is False  # the other replica refuses it too
    assert b.first_time(key + "-other", AT + timedelta(seconds=2)) is True


def test_keys_older_than_the_keep_window_are_forgotten(replicas: tuple[Any, Any]) -> None:
    a, b = replicas
    key = f"slack:old-{AT.timestamp()}"
    assert a.first_time(key, AT) is True
    assert b.first_time(key, AT + timedelta(seconds=SEEN_KEEP_S - 1)) is False
    assert b.first_time(key, AT + timedelta(seconds=SEEN_KEEP_S + 1)) is True  # Slack refuses it as stale first
