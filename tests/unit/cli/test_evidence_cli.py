"""`runofshow evidence build RUN_ID` and `runofshow evidence verify DIR` against a SQLite ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest

from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.adapters.memory import FakeClock, InMemoryRouter, ScriptedMetrics
from runofshow.app.bootstrap import RunOptions, build_world
from runofshow.app.run.events import RunStatus
from runofshow.app.run.runner import Runner
from runofshow.domain.plan import Plan
from runofshow.domain.tick import TrackSample
from tests.helpers import passing_t10_handlers
from tests.helpers import run_cli as run

VALUES = {"http_p95_ms": 142, "http_5xx_pct": 0.2, "ws_lag_s": 8, "idempotency_conflict_pct": 0.1,
          "csp_violations": 3, "pgbouncer_pool_util_pct": 40}


@pytest.fixture(scope="module")
def ledger_run(tmp_path_factory):
    """A whole promoted run (T-30 .. T+24h, fake clock) recorded in a SQLite ledger."""
    folder = tmp_path_factory.mktemp("state")
    url = f"sqlite:///{folder / 'runofshow.db'}"
    ledger = SqlLedger(url)
    sample = TrackSample(values=VALUES, requests=5000)
    world = build_world(Plan(), RunOptions(check_windows=False), environ={}, ledger=ledger, clock=FakeClock(),
                        router=InMemoryRouter(), metrics=ScriptedMetrics([(sample, sample)]), alerts=None,
                        notifier=None, annotator=None, step_handlers=passing_t10_handlers())
    runner = world.attach(Runner.start(Plan(), world.ports, state_url=url))
    assert runner.run() is RunStatus.PROMOTED
    run_id = runner.state.run_id
    ledger.close()
    return url, run_id


def test_build_then_verify(tmp_path, capsys, ledger_run):
    url, run_id = ledger_run
    out_dir = tmp_path / "bundle"
    code, out, err = run(["evidence", "build", run_id, "--state", url, "--out", str(out_dir)], capsys)
    assert code == 0, err
    lines = out.splitlines()
    files = [p for p in out_dir.rglob("*") if p.is_file()]
    assert lines[0].startswith(f"wrote {len(files)} files to {out_dir} (")
    assert "✅ All 5 stages completed: 5/5 stages completed" in lines
    # 0.2 % errors against the 99.9 % SLO's 0.1 % budget: the first night burns at 2x
    assert "❌ SLO burn rate < 1.5: 24 h burn rate 2.00x" in lines
    # no freeze or blast handler in this run (they only recorded themselves): 48 files, and a
    # snapshot of the gates for every minute of the 90 minutes of stages
    snapshots = [p for p in files if p.parent.name == "snapshots"]
    assert len(snapshots) >= 90 and len(files) == 48 + len(snapshots)
    assert f"✅ Evidence files collected (50+): {len(files)} files" in lines
    assert "⏳ User feedback neutral/positive: pending: no feedback yet" in lines
    assert lines[-1] == "8/10 success criteria met (see success_criteria.txt)"
    code, out, _ = run(["evidence", "verify", str(out_dir)], capsys)
    assert code == 0 and out.startswith(f"✅ {out_dir}: ")
    code, out, _ = run(["evidence", "verify", str(out_dir), "--state", url], capsys)
    assert code == 0, out


def test_verify_lists_every_problem_and_exits_3(tmp_path, capsys, ledger_run):
    url, run_id = ledger_run
    out_dir = tmp_path / "bundle"
    assert run(["evidence", "build", run_id, "--state", url, "--out", str(out_dir)], capsys)[0] == 0
    (out_dir / "summary_stage_2.txt").write_text("STAGE 2 SUMMARY\nall fine, trust me\n")
    (out_dir / "stage_4_metrics.csv").unlink()
    (out_dir / "extra.log").write_text("x\n")
    code, out, _ = run(["evidence", "verify", str(out_dir)], capsys)
    assert code == 3
    assert out.splitlines() == [
        f"❌ {out_dir}: 3 problem(s)",
        "  • changed: summary_stage_2.txt",
        "  • missing: stage_4_metrics.csv",
        "  • added: extra.log",
    ]


def test_verify_against_a_ledger_that_moved_on(tmp_path, capsys, ledger_run):
    url, run_id = ledger_run
    out_dir = tmp_path / "bundle"
    assert run(["evidence", "build", run_id, "--state", url, "--out", str(out_dir)], capsys)[0] == 0
    ledger = SqlLedger(url)
    try:
        last = ledger.events(run_id)[-1]
        ledger.append(run_id, "war_room", {"text": "late note", "t_s": 1.0}, last.at + timedelta(seconds=1))
        count = len(ledger.events(run_id))
    finally:
        ledger.close()
    code, out, _ = run(["evidence", "verify", str(out_dir), "--state", url], capsys)
    assert code == 3
    assert f"broken chain: bundle has {count - 1} events, the ledger {count}" in out


def test_default_out_is_the_plans_evidence_folder_per_run(tmp_path, capsys, monkeypatch, ledger_run):
    url, run_id = ledger_run
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["evidence", "build", run_id, "--state", url], capsys)
    assert code == 0, err
    assert (tmp_path / "evidence" / run_id / "MANIFEST.sha256").is_file()


def test_bad_input_exits_2(tmp_path, capsys, ledger_run):
    url, _ = ledger_run
    code, _, err = run(["evidence", "build", "no-such-run", "--state", url], capsys)
    assert code == 2 and err.strip() == f"RUN_ID: no run 'no-such-run' in {url}"
    missing_db = tmp_path / "nothing.db"
    code, _, err = run(["evidence", "build", "r1", "--state", f"sqlite:///{missing_db}"], capsys)
    assert code == 2 and err.strip() == f"--state: no ledger at {missing_db}; pass --state URL"
    assert not missing_db.exists()  # a read command never creates a ledger
    code, _, err = run(["evidence", "verify", str(tmp_path / "nope")], capsys)
    assert code == 2 and "no such folder" in err


def test_verify_an_empty_folder(tmp_path, capsys):
    code, out, _ = run(["evidence", "verify", str(tmp_path)], capsys)
    assert code == 3 and "MANIFEST.sha256: missing" in out
