from __future__ import annotations

import json

import pytest

from tests.helpers import run_cli as run


def test_init_validate_plan(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    code, out, _ = run(["init", str(plan)], capsys)
    assert code == 0 and plan.exists()
    code, out, _ = run(["validate", str(plan)], capsys)
    assert code == 0 and "ok" in out
    code, _, err = run(["init", str(plan)], capsys)
    assert code == 2 and "already exists" in err


def test_validate_bad_plan_exits_2_with_one_line_per_problem(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text("stages: [{weight: 1}, {weight: 5}, {weight: 150}]\nrelease: {version: x}\n")
    code, out, err = run(["validate", str(plan)], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert sorted(lines) == [
        f"{plan}: release.version: 'x' is not a version like v1.4.0",
        f"{plan}: stages[2].weight: must be between 0 and 100",
    ]
    assert "Traceback" not in err


def test_validate_refuses_addresses_that_cannot_work(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text("traffic_router: {kind: local_proxy, listen: '8080', stable_url: 127.0.0.1:8081}\n"
                    "metrics_source: {kind: prometheus, url: localhost}\n")
    code, out, err = run(["validate", str(plan)], capsys)
    assert code == 2 and "ok" not in out
    assert sorted(err.strip().splitlines()) == [
        f"{plan}: metrics_source.url: needs http:// or https://",
        f"{plan}: traffic_router.listen: '8080' needs host and port, e.g. 127.0.0.1:8080",
        f"{plan}: traffic_router.stable_url: needs http:// or https://",
    ]


def test_plan_prints_istanbul_and_utc(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text("")
    code, out, _ = run(["plan", str(plan), "--start", "2026-12-05T07:00:00+03:00", "--json"], capsys)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    t0 = next(r for r in rows if r["label"] == "T0")
    assert t0["local"].startswith("Sat 2026-12-05 07:00") and t0["utc"] == "2026-12-05 04:00 UTC"
    assert rows[0]["label"] == "T-30" and rows[0]["utc"] == "2026-12-05 03:30 UTC"


@pytest.mark.parametrize("bad", ["yesterday", "2026-12-05T07:00:00", "2026-13-05T07:00:00Z"])
def test_plan_bad_start_exits_2(tmp_path, capsys, bad):
    plan = tmp_path / "plan.yaml"
    plan.write_text("")
    code, _, err = run(["plan", str(plan), "--start", bad], capsys)
    assert code == 2 and err.count("\n") == 1


def test_unknown_command_exits_2(capsys):
    code, _, _ = run(["no-such-command"], capsys)
    assert code == 2
