"""`runofshow decide` and `runofshow note` against a SQLite ledger (the run's runner is not running
here; tests/e2e/test_warroom.py has a real runner in another process)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.adapters.memory import FakeClock, InMemoryRouter, ScriptedMetrics
from runofshow.app.bootstrap import RunOptions, build_world
from runofshow.app.run.runner import Runner
from runofshow.domain.plan import Plan
from tests.helpers import run_cli as cli


@pytest.fixture
def started(tmp_path: Path) -> tuple[str, str, Path]:
    """A run that has started (run_started) and whose runner is not running: in-memory router."""
    url = f"sqlite:///{tmp_path / 'runofshow.db'}"
    ledger = SqlLedger(url)
    plan = Plan.model_validate({"traffic_router": {"kind": "memory"}, "evidence_dir": str(tmp_path / "evidence"),
                                "war_room": {"incident_commanders": ["alice"]}})
    world = build_world(plan, RunOptions(check_windows=False), environ={}, ledger=ledger, clock=FakeClock(),
                        router=InMemoryRouter(), metrics=ScriptedMetrics(), alerts=None, notifier=None,
                        annotator=None)
    runner = world.attach(Runner.start(plan, world.ports, state_url=url))
    ledger.close()
    return url, runner.state.run_id, tmp_path / "evidence"


def events(url: str, run_id: str) -> list[dict[str, Any]]:
    ledger = SqlLedger(url)
    try:
        return [{"kind": e.kind, **e.payload} for e in ledger.events(run_id)]
    finally:
        ledger.close()


def test_decide_refuses_anyone_but_the_ic_with_exit_2_and_logs_it(started: tuple[str, str, Path], capsys: Any) -> None:
    url, rid, _ = started
    code, out, _ = cli(["decide", rid, "rollback", "--as", "mallory", "--reason", "gut feeling", "--state", url],
                       capsys)
    assert code == 2
    assert out.strip() == (f"{rid}: rollback by mallory: refused: 'mallory' is not an incident commander "
                           "(alice)")
    last = events(url, rid)[-1]
    assert last["kind"] == "ic_refused" and last["by"] == "mallory" and last["reason"] == "gut feeling"


def test_decide_rollback_by_the_ic_and_the_war_room_log(started: tuple[str, str, Path], capsys: Any) -> None:
    url, rid, evidence = started
    code, out, _ = cli(["decide", rid, "hold", "--as", "alice", "--reason", "x", "--state", url], capsys)
    assert code == 2 and "nothing to hold: no canary stage has started" in out
    code, out, err = cli(["decide", rid, "ROLLBACK", "--as", "Alice", "--reason", "no go tonight",
                          "--state", url], capsys)
    assert code == 0, err
    assert out.strip() == f"{rid}: rollback by Alice: accepted: the runner sets 0 % at its next move"
    kinds = [e["kind"] for e in events(url, rid)]
    assert kinds[-3:] == ["ic_decision", "rollback_started", "war_room"]
    log = (evidence / "warroom_log.txt").read_text().splitlines()
    assert log[-1].endswith("| Pre-T0 ROLLBACK (ic): no go tonight | IC Alice: Rollback")
    code, _, err = cli(["decide", rid, "pause", "--as", "alice", "--reason", "x", "--state", url], capsys)
    assert code == 2 and "'pause' is not one of proceed, hold, rollback" in err


def test_note_goes_to_the_parking_lot(started: tuple[str, str, Path], capsys: Any) -> None:
    url, rid, evidence = started
    code, out, err = cli(["note", rid, "I think the pool is too small", "--as", "bob", "--state", url], capsys)
    assert code == 0, err
    assert out.strip().endswith("parking lot #2 by bob: I think the pool is too small")
    assert "| bob | I think the pool is too small" in (evidence / "parking_lot.txt").read_text()
    assert not (evidence / "warroom_log.txt").exists()
    row = [e for e in events(url, rid) if e["kind"] == "parking_lot"][0]
    assert json.dumps(row["text"]) == '"I think the pool is too small"'


def test_no_ledger_is_bad_input(tmp_path: Path, capsys: Any) -> None:
    code, _, err = cli(["note", "r1", "x", "--as", "bob", "--state", f"sqlite:///{tmp_path / 'none.db'}"], capsys)
    assert code == 2 and "no ledger at" in err


def test_local_decisions_and_notes_carry_local_os_user_as_their_proof(started: tuple[str, str, Path], capsys: Any,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    url, rid, _ = started
    monkeypatch.setattr("getpass.getuser", lambda: "deploy")
    assert cli(["decide", rid, "proceed", "--as", "alice", "--reason", "fine", "--state", url], capsys)[0] == 0
    assert cli(["note", rid, "a theory", "--as", "bob", "--state", url], capsys)[0] == 0
    decision = next(e for e in events(url, rid) if e["kind"] == "ic_decision")
    note = next(e for e in events(url, rid) if e["kind"] == "parking_lot")
    assert decision["by"] == "alice"
    assert decision["identity"] == {"name": "alice", "subject": "local:deploy", "proof": "local", "role": "ic"}
    assert note["identity"] == {"name": "bob", "subject": "local:deploy", "proof": "local", "role": "member"}
    code, _, err = cli(["decide", rid, "proceed", "--reason", "who?", "--state", url], capsys)
    assert code == 2 and err.strip() == "--as: say who you are (or use --server URL with $RUNOFSHOW_TOKEN)"


def test_handover_from_the_cli(started: tuple[str, str, Path], capsys: Any) -> None:
    url, rid, evidence = started
    code, out, _ = cli(["handover", rid, "--to", "bob", "--as", "alice", "--state", url], capsys)
    assert code == 2 and "'bob' is not an incident commander or member of this war room" in out
    code, out, _ = cli(["handover", rid, "--to", "alice", "--as", "mallory", "--state", url], capsys)
    assert code == 2 and out.strip().endswith("'mallory' does not hold the IC role now (alice does)")
    kinds = [e["kind"] for e in events(url, rid)]
    assert kinds[-2:] == ["ic_refused", "ic_refused"] and "ic_handover" not in kinds
