"""Ledgers written by the code before events were typed (tests/fixtures/ledgers) still load, fold
and build the very evidence files, one-liner, RCA and HTML report that code built from them."""

from __future__ import annotations

import pytest

from runofshow.app.run.events import RunStatus
from runofshow.app.run.state import fold
from tests.fixtures.ledgers.make_fixtures import HERE, KEEP_BYTES, NAMES, outputs, pinned_only, read_events


@pytest.mark.parametrize("name", NAMES)
def test_an_old_ledger_builds_the_same_files(name: str) -> None:
    expected = {p.name: p.read_text() for p in sorted((HERE / f"{name}.expected").iterdir())}
    built = outputs(name)
    assert set(expected) <= set(built)
    for file, text in expected.items():
        assert built[file] == text, f"{file} differs from what the old code built"
    # the files too big to keep as text are pinned by their hashes in the (kept) manifest
    manifest = expected["MANIFEST.sha256"]
    for file in set(built) - set(expected):
        assert len(built[file].encode()) > KEEP_BYTES or pinned_only(file), file
        assert f"  {file}\n" in manifest, file


@pytest.mark.parametrize(("name", "status", "exit_code", "weight", "resumes"), [
    ("promoted", RunStatus.PROMOTED, 0, 100.0, 0),
    ("rolled_back", RunStatus.ROLLED_BACK, 3, 0.0, 0),
    ("ic_and_resume", RunStatus.PROMOTED, 0, 100.0, 1),
])
def test_an_old_ledger_folds(name: str, status: RunStatus, exit_code: int, weight: float, resumes: int) -> None:
    state = fold(read_events(name))
    assert (state.status, state.exit_code, state.weight, state.ended) == (status, exit_code, weight, True)
    assert state.open_intent is None and state.external_intent is None and state.ic_pending is None
    assert state.rolled_back is (status is RunStatus.ROLLED_BACK) and state.resumes == resumes
    assert state.plan().stages[-1].weight == 100


def test_the_fixtures_stay_small() -> None:
    kept = [p for p in HERE.rglob("*") if p.is_file() and (p.suffix == ".sqlite" or p.parent.suffix == ".expected")]
    assert sum(p.stat().st_size for p in kept) < 300_000
