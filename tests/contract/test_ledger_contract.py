"""One contract for the `Ledger` port, run on InMemoryLedger, SqlLedger(SQLite) and SqlLedger(PostgreSQL)."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from runofshow.adapters.ledger_database import default_state_url
from runofshow.adapters.ledger_schema import MIGRATIONS, metadata
from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.adapters.memory import InMemoryLedger
from runofshow.errors import InputError, LedgerError, RunNotFoundError
from runofshow.ports import Ledger, RunRecord
from tests.helpers import fresh_postgres_database

T0 = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def _run(run_id: str = "run-1", started_at: datetime = T0, **kw: Any) -> RunRecord:
    return RunRecord(run_id=run_id, release="spark-trading", version="v1.4.0", status="running",
                     stage=None, weight=None, started_at=started_at, plan={"stages": [1, 5, 25]}, **kw)


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


def _reset_pg(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for table in [*reversed(metadata.sorted_tables)]:  # every table the migrations make
            conn.execute(text(f"DROP TABLE IF EXISTS {table.name} CASCADE"))
    engine.dispose()


def _sql_tamper(url: str) -> Callable[[str, int, str, Any], None]:
    def tamper(run_id: str, seq: int, column: str, value: Any) -> None:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE events SET {column} = :v WHERE run_id = :r AND seq = :s"),
                         {"v": value, "r": run_id, "s": seq})
        engine.dispose()
    return tamper


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path,
) -> Iterator[tuple[Ledger, Callable[..., None], str]]:
    """(ledger, tamper(run_id, seq, column, value), url-or-'memory')."""
    if request.param == "memory":
        ledger = InMemoryLedger()

        def tamper(run_id: str, seq: int, column: str, value: Any) -> None:
            chain = ledger._events[run_id]
            if column == "payload":
                value = __import__("json").loads(value)
            chain[seq - 1] = dataclasses.replace(chain[seq - 1], **{column: value})

        yield ledger, tamper, "memory"
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state' / 'runofshow.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        _reset_pg(url)
    sql = SqlLedger(url)
    yield sql, _sql_tamper(url), url
    sql.close()


def test_is_a_ledger(backend: tuple[Ledger, Any, str]) -> None:
    assert isinstance(backend[0], Ledger)


def test_create_read_update_and_list_runs(backend: tuple[Ledger, Any, str]) -> None:
    ledger = backend[0]
    ledger.create_run(_run("b", T0 + timedelta(minutes=1)))
    ledger.create_run(_run("a", T0.astimezone(timezone(timedelta(hours=3)))))
    got = ledger.run("a")
    assert got.started_at == T0 and got.started_at.utcoffset() == timedelta(0)
    assert got.plan == {"stages": [1, 5, 25]} and got.stage is None and got.weight is None
    ledger.update_run("a", status="rolled_back", stage=2, weight=5.0)
    ledger.update_run("a", status="done")
    got = ledger.run("a")
    assert (got.status, got.stage, got.weight) == ("done", 2, 5.0)
    assert [r.run_id for r in ledger.runs()] == ["a", "b"]
    with pytest.raises(LedgerError, match="already exists"):
        ledger.create_run(_run("a"))


def test_unknown_run_is_a_ledger_error(backend: tuple[Ledger, Any, str]) -> None:
    ledger = backend[0]
    for call in (lambda: ledger.run("nope"), lambda: ledger.append("nope", "tick", {}, T0),
                 lambda: ledger.update_run("nope", status="x"), lambda: ledger.events("nope")):
        with pytest.raises(LedgerError, match="no run nope") as info:
            call()
        assert "\n" not in str(info.value)
        assert isinstance(info.value, RunNotFoundError) and isinstance(info.value, InputError)  # exit 2


def test_append_returns_hash_chained_events_in_order(backend: tuple[Ledger, Any, str]) -> None:
    ledger = backend[0]
    ledger.create_run(_run())
    at = T0.astimezone(timezone(timedelta(hours=-5)))
    first = ledger.append("run-1", "intent", {"weight": 5, "why": ("stage", 2), "at": at}, at)
    second = ledger.append("run-1", "outcome", {"weight": 5.0, "read_back": 5.0}, T0 + timedelta(seconds=1.5))
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == "" and second.prev_hash == first.hash and len(first.hash) == 64
    assert first.at == T0 and first.at.utcoffset() == timedelta(0)
    assert first.payload == {"weight": 5, "why": ["stage", 2], "at": "2025-03-14T09:30:00.000000+00:00"}
    events = ledger.events("run-1")
    assert events == [first, second]
    assert ledger.events("run-1", after_seq=1) == [second]
    assert ledger.verify_chain("run-1") == []  # type: ignore[attr-defined]


def test_payloads_and_times_are_checked(backend: tuple[Ledger, Any, str]) -> None:
    ledger = backend[0]
    ledger.create_run(_run())
    with pytest.raises(LedgerError, match="not JSON"):
        ledger.append("run-1", "tick", {"x": float("nan")}, T0)
    with pytest.raises(LedgerError, match="naive"):
        ledger.append("run-1", "tick", {}, datetime(2025, 1, 1))
    assert ledger.events("run-1") == []


@pytest.mark.parametrize("column,value", [
    ("payload", '{"weight":50}'), ("kind", "outcome"), ("hash", "0" * 64), ("prev_hash", "f" * 64),
])
def test_verify_chain_detects_tampering(backend: tuple[Ledger, Any, str], column: str, value: Any) -> None:
    ledger, tamper, _ = backend
    ledger.create_run(_run())
    for i in range(4):
        ledger.append("run-1", "intent", {"weight": 5, "i": i}, T0 + timedelta(seconds=i))
    assert ledger.verify_chain("run-1") == []  # type: ignore[attr-defined]
    tamper("run-1", 2, column, value)
    problems = ledger.verify_chain("run-1")  # type: ignore[attr-defined]
    assert problems and all("run-1 seq" in p for p in problems)
    assert any(" seq 2:" in p or " seq 3:" in p for p in problems)


def test_concurrent_appends_from_threads_keep_seq_dense_and_unique(backend: tuple[Ledger, Any, str]) -> None:
    ledger = backend[0]
    ledger.create_run(_run())
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(15):
                ledger.append("run-1", "tick", {"worker": n, "i": i}, datetime.now(UTC))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    events = ledger.events("run-1")
    assert [e.seq for e in events] == list(range(1, 91))
    assert sorted((e.payload["worker"], e.payload["i"]) for e in events) == [
        (n, i) for n in range(6) for i in range(15)]
    assert ledger.verify_chain("run-1") == []  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- SQL only


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runofshow.db'}"
    url: str = request.getfixturevalue("pg_url")
    _reset_pg(url)
    return url


def test_migrations_are_numbered_recorded_and_idempotent(sql_url: str) -> None:
    with SqlLedger(sql_url) as first:
        assert first.schema_versions() == list(range(1, len(MIGRATIONS) + 1))
        first.create_run(_run())
        first.append("run-1", "tick", {}, T0)
    with SqlLedger(sql_url) as again:
        assert again.migrate() == []
        assert again.schema_versions() == list(range(1, len(MIGRATIONS) + 1))
        assert [e.seq for e in again.events("run-1")] == [1]


def _python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code), *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}


def test_two_processes_opening_at_once_migrate_once(sql_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    code = """
        import os, sys, time
        from runofshow.adapters.ledger_sql import SqlLedger
        print("ready", flush=True)
        while not os.path.exists(sys.argv[2]):
            time.sleep(0.001)
        with SqlLedger(sys.argv[1]) as ledger:
            print(ledger.schema_versions())
    """
    procs = [subprocess.Popen(_python(code, sql_url, str(go)), env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for p in procs:  # all imported and waiting at the line
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in results]
    want = str(list(range(1, len(MIGRATIONS) + 1)))
    assert [out.strip() for out, _ in results] == [want] * 4


def test_concurrent_appends_from_processes(sql_url: str) -> None:
    with SqlLedger(sql_url) as ledger:
        ledger.create_run(_run())
    code = """
        import sys
        from datetime import UTC, datetime
        from runofshow.adapters.ledger_sql import SqlLedger
        with SqlLedger(sys.argv[1]) as ledger:
            for i in range(20):
                ledger.append("run-1", "tick", {"proc": sys.argv[2], "i": i}, datetime.now(UTC))
    """
    procs = [subprocess.Popen(_python(code, sql_url, str(n)), env=_env(), stderr=subprocess.PIPE, text=True)
             for n in range(3)]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errs
    with SqlLedger(sql_url) as ledger:
        assert [e.seq for e in ledger.events("run-1")] == list(range(1, 61))
        assert ledger.verify_chain("run-1") == []


def test_sigkill_never_loses_a_committed_event(sql_url: str) -> None:
    with SqlLedger(sql_url) as ledger:
        ledger.create_run(_run())
    code = """
        import sys
        from datetime import UTC, datetime
        from runofshow.adapters.ledger_sql import SqlLedger
        ledger = SqlLedger(sys.argv[1])
        i = 0
        while True:
            ev = ledger.append("run-1", "tick", {"i": i, "pad": "x" * 200}, datetime.now(UTC))
            print(ev.seq, flush=True)
            i += 1
    """
    proc = subprocess.Popen(_python(code, sql_url), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    acknowledged = 0
    deadline = time.monotonic() + 60
    while acknowledged < 150 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acknowledged = int(line)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert proc.stderr is not None
    proc.stderr.close()
    assert acknowledged >= 150, "the appender did not get going"
    with SqlLedger(sql_url) as ledger:
        events = ledger.events("run-1")
        assert len(events) >= acknowledged
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert ledger.verify_chain("run-1") == []
        assert ledger.append("run-1", "resumed", {}, datetime.now(UTC)).seq == len(events) + 1


def test_sqlite_is_wal_with_full_sync(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with SqlLedger(url) as ledger:
        with ledger.db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_library_errors_become_one_line_ledger_errors(tmp_path: Path) -> None:
    (tmp_path / "not-a-db").write_text("this is not a database file " * 100)
    with pytest.raises(LedgerError) as info:
        SqlLedger(f"sqlite:///{tmp_path / 'not-a-db'}")
    assert str(info.value).startswith(f"ledger sqlite:///{tmp_path / 'not-a-db'}: ")
    assert "\n" not in str(info.value)
    with pytest.raises(LedgerError, match=r"^ledger postgresql\+psycopg://nobody:\*\*\*@127\.0\.0\.1:1/x: "):
        SqlLedger("postgresql+psycopg://nobody:secret@127.0.0.1:1/x")
    with pytest.raises(LedgerError, match="not a database URL"):
        SqlLedger("::not a url::")


def test_default_state_url_is_beside_the_evidence_folder(tmp_path: Path) -> None:
    evidence = tmp_path / "runs" / "evidence"
    assert default_state_url(evidence) == f"sqlite:///{tmp_path / 'runs' / 'runofshow.db'}"
    with SqlLedger(default_state_url(evidence)) as ledger:
        ledger.create_run(_run())
    assert (tmp_path / "runs" / "runofshow.db").exists()
