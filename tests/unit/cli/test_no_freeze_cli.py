"""`runofshow run PLAN --no-freeze`: the T-30 freeze is recorded as skipped, without --repo and
without a freeze record; the run goes on to the T-10 preflight (which fails here: nothing listens)."""

from __future__ import annotations

from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.loopback import free_port
from tests.helpers import run_cli as run


def plan_file(tmp_path, port: int):
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "traffic_router: {kind: memory}\n"
        f"metrics_source: {{kind: prometheus, url: 'http://127.0.0.1:{port}', timeout_s: 0.2, retries: 0}}\n"
        "preflight: {timeout_s: 0.5}\n"
        f"evidence_dir: {tmp_path / 'evidence'}\n"
    )
    return plan


def test_run_no_freeze_records_the_freeze_as_skipped(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("RUNOFSHOW_STATE", raising=False)
    state = f"sqlite:///{tmp_path / 'ledger.db'}"
    code, out, err = run(["run", str(plan_file(tmp_path, free_port())), "--no-freeze", "--speed", "20000",
                          "--no-window-check", "--state", state], capsys)
    assert code == 4, out + err  # halted at T-10: the preflight cannot pass here
    assert "| Freeze window starts | skipped: freeze disabled (--no-freeze) | auto: Proceed" in out
    ledger = SqlLedger(state)
    [run_row] = ledger.runs()
    events = ledger.events(run_row.run_id)
    [start] = [e.payload for e in events if e.kind == "step_completed" and e.payload["kind"] == "freeze_start"]
    assert start["details"]["skipped"] == "freeze disabled (--no-freeze)"
    assert events[0].payload["plan"]["freeze"]["enabled"] is False  # a resumed run keeps it off
    preflight = (tmp_path / "evidence" / "preflight.txt").read_text(encoding="utf-8")
    assert "[PASS] freeze          change freeze active: skipped: freeze disabled" in preflight
    text = (tmp_path / "evidence" / "freeze_window_start.txt").read_text(encoding="utf-8")
    assert "freeze: skipped (disabled)" in text
    ledger.close()


def test_no_freeze_with_repo_is_bad_input(tmp_path, capsys):
    code, _, err = run(["run", str(plan_file(tmp_path, free_port())), "--no-freeze", "--repo", "acme/x"],
                       capsys)
    assert code == 2 and "--no-freeze with --repo" in err
