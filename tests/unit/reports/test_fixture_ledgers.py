"""Ledgers written by the code before events were typed (tests/fixtures/ledgers) still load, fold
and build the very evidence files, one-liner, RCA and HTML report that code built from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.app.run.events import RunStatus
from runofshow.app.run.state import fold
from tests.fixtures.ledgers.make_fixtures import HERE, NAMES, UNSTORED, ledger_url, outputs


def _events(name: str) -> list:
    with SqlLedger(ledger_url(name)) as ledger:
        (record,) = ledger.runs()
        return ledger.events(record.run_id)


@pytest.mark.parametrize("name", NAMES)
def test_an_old_ledger_builds_the_same_files(name: str) -> None:
    expected_dir = HERE / f"{name}.expected"
    expected = {p.name: p.read_text() for p in sorted(expected_dir.iterdir())}
    built = outputs(name)
    assert sorted(built) == sorted({*expected, *UNSTORED})
    for file, text in expected.items():
        assert built[file] == text, f"{file} differs from what the old code built"


@pytest.mark.parametrize(("name", "status", "exit_code", "weight"), [
    ("promoted", RunStatus.PROMOTED, 0, 100.0),
    ("rolled_back", RunStatus.ROLLED_BACK, 3, 0.0),
])
def test_an_old_ledger_folds(name: str, status: RunStatus, exit_code: int, weight: float) -> None:
    state = fold(_events(name))
    assert (state.status, state.exit_code, state.weight, state.ended) == (status, exit_code, weight, True)
    assert state.open_intent is None and state.external_intent is None
    assert state.rolled_back is (status is RunStatus.ROLLED_BACK)
    assert state.plan().stages[-1].weight == 100


def test_the_fixtures_stay_small() -> None:
    assert sum(p.stat().st_size for p in Path(HERE).rglob("*") if p.is_file()) < 300_000
