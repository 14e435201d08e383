"""`runofshow preflight PLAN`: real probes against loopback addresses where nothing listens."""

from __future__ import annotations

import json

from runofshow.loopback import free_port
from tests.helpers import run_cli as run


def test_preflight_prints_the_score_writes_preflight_txt_and_exits_3(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    port = free_port()
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "traffic_router: {kind: memory}\n"
        f"metrics_source: {{kind: prometheus, url: 'http://127.0.0.1:{port}', timeout_s: 0.5, retries: 0}}\n"
        f"preflight: {{artifact_url: 'http://127.0.0.1:{port}/a.tgz', timeout_s: 1}}\n"
    )
    evidence = tmp_path / "evidence"
    code, out, err = run(["preflight", str(plan), "--evidence-dir", str(evidence)], capsys)
    assert code == 3, err
    summary = out.strip().splitlines()[-1]
    failed = "artifact, canary_health, metrics, alert_rules, backup, freeze, notifier"
    assert summary == f"2/9: failed {failed}  ({evidence / 'preflight.txt'})"
    text = (evidence / "preflight.txt").read_text(encoding="utf-8")
    assert "Score: 2/9" in text and "[PASS] traffic_router" in text and "[PASS] schema_window" in text
    code, out, _ = run(["preflight", str(plan), "--evidence-dir", str(evidence), "--json"], capsys)
    doc = json.loads(out)
    assert code == 3 and doc["score"] == "2/9" and len(doc["checks"]) == 9


def test_preflight_with_a_bad_plan_exits_2(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text("preflight: {timeout_s: 0}\n")
    code, _, err = run(["preflight", str(plan)], capsys)
    assert code == 2 and "preflight.timeout_s" in err
