"""`runofshow report`, `runofshow rca` and `runofshow oneliner` against a SQLite ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.domain.plan import Plan
from runofshow.reports.rca import oneliner
from tests.helpers import run_cli as cli
from tests.report_runs import run as whole_run


@pytest.fixture(scope="module")
def ledger_run(tmp_path_factory):
    """A rolled-back run recorded in a SQLite ledger, with the plan's evidence folder in tmp."""
    folder = tmp_path_factory.mktemp("state")
    url = f"sqlite:///{folder / 'runofshow.db'}"
    ledger = SqlLedger(url)
    plan = Plan(evidence_dir=str(folder / "evidence"))
    result = whole_run([(35 * 60, {"http_5xx_pct": 6.0})], plan=plan, ledger=ledger)
    ledger.close()
    assert result.code == 3
    return url, result


def test_report_writes_the_html_and_prints_its_path(tmp_path, capsys, ledger_run):
    url, result = ledger_run
    out = tmp_path / "report.html"
    code, stdout, err = cli(["report", result.run_id, "--state", url, "--out", str(out)], capsys)
    assert code == 0, err
    assert stdout == f"{out}\n"
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "ROLLED BACK" in html


def test_report_defaults_to_the_plans_evidence_folder(capsys, ledger_run):
    url, result = ledger_run
    code, stdout, err = cli(["report", result.run_id, "--state", url], capsys)
    assert code == 0, err
    expected = f"{result.plan.evidence_dir}/report_{result.run_id}.html"
    assert stdout == f"{expected}\n"


def test_rca_and_oneliner(tmp_path, capsys, ledger_run):
    url, result = ledger_run
    code, stdout, err = cli(["rca", result.run_id, "--state", url, "--out", str(tmp_path)], capsys)
    assert code == 0, err
    assert stdout == f"{tmp_path / 'mini_rca_v1.4.0.md'}\n"
    assert (tmp_path / "release_oneliner.txt").is_file()
    code, stdout, err = cli(["oneliner", result.run_id, "--state", url], capsys)
    assert code == 0, err
    assert stdout == oneliner(result.events) + "\n"
    assert "rolled back at stage 3 (25%)" in stdout


def test_an_unknown_run_is_bad_input(capsys, ledger_run):
    url, _ = ledger_run
    for command in ("report", "rca", "oneliner"):
        code, _, err = cli([command, "nope", "--state", url], capsys)
        assert code == 2 and err.startswith("RUN_ID: no run 'nope'")


def test_the_report_counts_the_files_of_the_runs_bundle(capsys, ledger_run):
    from runofshow.reports.evidence import build_bundle

    url, result = ledger_run
    bundle = build_bundle(result.events, result.plan, f"{result.plan.evidence_dir}/{result.run_id}")
    code, stdout, err = cli(["report", result.run_id, "--state", url], capsys)
    assert code == 0, err
    html = Path(stdout.strip()).read_text(encoding="utf-8")
    assert f"{len(bundle.files)} files</span>" in html
