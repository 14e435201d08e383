"""One decision-maker, two processes: a real `runofshow run` (fast clock, SQLite ledger, the local
proxy as its router) and `runofshow decide` / `runofshow note` from other processes. The IC's
rollback acts at once from the deciding process; the running runner notices and exits 3 with the
weight at 0; anyone else is refused (exit 2) and the refusal is in the ledger."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from runofshow.adapters.local_proxy import LocalProxy
from tests.e2e.test_crash_resume import (
    LOOPBACK,
    OVERRIDE,
    MetricsEndpoint,
    cli,
    events,
    start,
    wait_for_line,
    write_plan,
)

pytestmark = pytest.mark.e2e

SPEED = 200.0  # T-3 .. T+20 (stage 2) in 7 s; stage 2 then lasts 3 wall minutes, so the decisions below
# meet the run in stage 2 however slow the machine is


def test_an_ic_rollback_from_another_process_ends_the_running_run(tmp_path: Path) -> None:
    proxy = LocalProxy("http://127.0.0.1:9", "http://127.0.0.1:9", host=LOOPBACK, port=0).start()
    endpoint = MetricsEndpoint(proxy)
    runner: subprocess.Popen[bytes] | None = None
    try:
        plan = write_plan(tmp_path / "plan.yaml", proxy, endpoint.url)
        doc = yaml.safe_load(plan.read_text())
        doc["stages"] = [{"weight": w, "hold_min": 600 if w == 5 else 20} for w in (1, 5, 25, 50, 100)]
        plan.write_text(yaml.safe_dump(doc))
        state = f"sqlite:///{tmp_path / 'runofshow.db'}"
        log = tmp_path / "runner.log"
        runner = start(cli("run", str(plan), "--state", state, "--speed", f"{SPEED:g}", "--no-window-check",
                           *OVERRIDE), log)
        started = wait_for_line(log, " started; resume with")
        assert started is not None, log.read_text()
        run_id = started.split()[1]
        assert wait_for_line(log, "| Stage 2 (5%) start", timeout=60), log.read_text()

        refused = subprocess.run(cli("decide", run_id, "rollback", "--as", "mallory", "--reason", "gut feeling",
                                     "--state", state), capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "refused: 'mallory' is not an incident commander (ic-on-call)" in refused.stdout
        noted = subprocess.run(cli("note", run_id, "I think the proxy is slow", "--as", "mallory",
                                   "--state", state), capture_output=True, text=True, timeout=60)
        assert noted.returncode == 0, noted.stderr
        assert proxy.weight == 5  # neither moved any traffic

        decided = subprocess.run(cli("decide", run_id, "rollback", "--as", "ic-on-call", "--reason",
                                     "drill: p95 climbing", "--state", state),
                                 capture_output=True, text=True, timeout=60)
        assert decided.returncode == 0, decided.stdout + decided.stderr
        assert decided.stdout.strip().endswith("rolled back: weight read back 0%")
        assert proxy.weight == 0  # at once, by the deciding process
        code = runner.wait(60)
        assert code == 3, log.read_text()[-3000:]
        assert proxy.weight == 0

        evs = events(state, run_id)
        kinds = [e["kind"] for e in evs]
        assert kinds.count("rollback_started") == 1 and kinds.count("ic_refused") == 1
        rb = next(e["payload"] for e in evs if e["kind"] == "rollback_started")
        assert rb["trigger"] == "ic" and rb["reasons"] == ["IC ic-on-call: drill: p95 climbing"]
        outcomes = [e["payload"] for e in evs if e["kind"] == "weight_outcome"]
        assert [o["read_back"] for o in outcomes if o["id"].startswith("ic")] == [0]
        assert not [o for o in outcomes[outcomes.index(next(o for o in outcomes if o["id"].startswith("ic"))):]
                    if o["read_back"] not in (0, None)]  # no stage weight after the IC's rollback
        ended = evs[-1]["payload"]
        assert evs[-1]["kind"] == "run_ended" and ended["status"] == "rolled_back" and ended["weight"] == 0
        for a, b in zip(evs, evs[1:], strict=False):
            assert b["prev_hash"] == a["hash"] and b["seq"] == a["seq"] + 1

        evidence = tmp_path / "evidence"
        warroom = (evidence / "warroom_log.txt").read_text()
        assert "| Stage 2 (5%) ROLLBACK (ic): drill: p95 climbing |" in warroom
        assert "| IC ic-on-call: Rollback" in warroom and "proxy is slow" not in warroom
        assert "| mallory | I think the proxy is slow" in (evidence / "parking_lot.txt").read_text()
        verified = subprocess.run(cli("evidence", "verify", str(evidence), "--state", state),
                                  capture_output=True, text=True, timeout=60)
        assert verified.returncode == 0, verified.stdout
        status = json.loads(subprocess.run(cli("status", run_id, "--state", state, "--json"),
                                           capture_output=True, text=True, check=True).stdout)
        assert status["status"] == "rolled_back" and status["weight"] == 0 and status["chain_ok"]
    finally:
        if runner is not None and runner.poll() is None:
            runner.kill()
            runner.wait(30)
        endpoint.close()
        proxy.stop()
