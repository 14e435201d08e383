"""`runofshow blast` on bad input (exit 2; against a server: tests/integration/test_blast_cli.py) and
`runofshow grafana dashboard`."""

from __future__ import annotations

import json

from tests.helpers import run_cli as run


def test_blast_bad_input_exits_2(tmp_path, capsys):
    code, _, err = run(["blast", "not-a-url", "v1.4.0", "1", "--evidence-dir", str(tmp_path)], capsys)
    assert code == 2 and "blast URL 'not-a-url': needs http:// or https://" in err
    code, _, err = run(["blast", "http://127.0.0.1:9/", "v1.4.0", "0"], capsys)
    assert code == 2 and "seconds must be more than 0" in err
    assert list(tmp_path.iterdir()) == []


def test_grafana_dashboard_prints_importable_json(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    assert run(["init", str(plan)], capsys)[0] == 0
    code, out, _ = run(["grafana", "dashboard", str(plan)], capsys)
    assert code == 0
    board = json.loads(out)
    assert board["uid"] == "risk-idempotency-pitr" and len(board["panels"]) == 10
    code, out, _ = run(["grafana", "dashboard", str(plan), "--for-api"], capsys)
    assert code == 0 and json.loads(out)["overwrite"] is True
    code, _, err = run(["grafana", "dashboard", str(plan), "--endpoint-label", "bad-label"], capsys)
    assert code == 2 and "not a Prometheus label name" in err
    code, _, err = run(["grafana", "dashboard", str(tmp_path / "missing.yaml")], capsys)
    assert code == 2 and "no such file" in err
