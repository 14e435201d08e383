"""The release one-liner and the mini RCA, from real runs (bootstrap, in-memory fakes, fake clock)."""

from __future__ import annotations

import re

import pytest

from runofshow.reports.rca import ONELINER_FILE, oneliner, rca_markdown, rca_name, write_oneliner, write_rca
from tests.report_runs import halted_run, promoted_run, rolled_back_run, run


@pytest.fixture(scope="module")
def promoted():
    return promoted_run()


@pytest.fixture(scope="module")
def rolled_back():
    return rolled_back_run()


def sections(md: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for line in md.splitlines():
        if line.startswith("## "):
            current = line[3:]
            out[current] = []
        elif current and line.strip():
            out[current].append(line)
    return out


def test_the_oneliner_of_a_promoted_run(promoted):
    line = oneliner(promoted.events, promoted.plan)
    assert line.startswith("v1.4.0 (spark-trading): promoted 1→100% in 90 min, 0 rollbacks, "
                           "6/6 gates at every stage, 0 holds")
    assert re.search(r"; first night burn 0\.\dx$", line), line  # 0.05 % errors on a 0.1 % budget
    assert oneliner(promoted.events) == line  # the plan recorded in the ledger gives the same line


def test_the_oneliner_of_a_rolled_back_run(rolled_back):
    line = oneliner(rolled_back.events)
    assert re.fullmatch(r"v1\.4\.0 \(spark-trading\): rolled back at stage 3 \(25%\) T\+3\d: "
                        r"http_5xx_pct [a-z -]+", line), line
    rb = next(e.payload for e in rolled_back.events if e.kind == "rollback_started")
    assert f"T+{round(rb['t_s'] / 60)}:" in line


def test_the_oneliner_of_a_first_night_rollback():
    result = run([(6 * 3600, {"http_5xx_pct": 6.0})])
    assert result.code == 3
    line = oneliner(result.events)
    assert line.startswith("v1.4.0 (spark-trading): rolled back in the first night at 100% T+")


def test_the_rca_has_the_seeds_sections_and_three_risks(tmp_path, promoted):
    path = write_rca(promoted.events, None, tmp_path)
    assert path == tmp_path / "mini_rca_v1.4.0.md"
    md = path.read_text(encoding="utf-8")
    assert md.startswith("# Mini RCA - v1.4.0 Canary Deployment\n")
    s = sections(md)
    assert list(s) == ["What Went Well", "What Could Be Improved", "Observations", "Remaining Risks (3)"]
    assert all(len(s[k]) >= 1 for k in s)
    risks = s["Remaining Risks (3)"]
    assert [r.split(".", 1)[0] for r in risks] == ["1", "2", "3"]
    assert all(r.endswith(" - Owner: TBD - Due: YYYY-MM-DD") for r in risks)
    assert (tmp_path / ONELINER_FILE).read_text(encoding="utf-8") == oneliner(promoted.events) + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mini_rca_v1.4.0.md", ONELINER_FILE]


def test_a_promoted_rca_says_what_the_data_shows(promoted):
    s = sections(rca_markdown(promoted.events))
    well = "\n".join(s["What Went Well"])
    assert "All 5 stages completed (1 → 5 → 25 → 50 → 100 %) in 90 min" in well
    assert "No data gaps" in well and "No holds" in well
    assert "read back exactly on the first attempt" in well
    assert re.search(r"First night complete: 23/23 check-ins proceeded, 24 h SLO burn rate 0\.\d+x", well)
    improve = "\n".join(s["What Could Be Improved"])
    # 1 % of 3000 requests a tick is under the engine's 50
    assert "Stage 1 (1 %): the canary had as few as 30 requests a tick, under the 50" in improve
    assert "Recorded but not run" not in improve  # the stand-in handlers reported their work
    obs = s["Observations"]
    assert re.match(r"- \w+: canary worst .+ at T\+\d+, \d+ % of the .+ threshold", obs[0])
    # the stages ran on a Saturday morning: the RCA names the market-hours risk
    assert any("outside market hours" in r for r in s["Remaining Risks (3)"])


def test_a_rolled_back_rca_names_the_regression_the_hold_and_the_rollback(rolled_back):
    s = sections(rca_markdown(rolled_back.events))
    well = "\n".join(s["What Went Well"])
    assert "Stages 1, 2 (1 → 5 %) completed with 6/6 gates passing." in well
    assert re.search(r"The http_5xx_pct regression was rolled back automatically at T\+3\d, .*with 25 % of "
                     r"traffic on the canary; the router read back 0 % at T\+3\d after 1 attempt", well)
    improve = "\n".join(s["What Could Be Improved"])
    assert re.search(r"regression in http_5xx_pct \(canary 6%, baseline 0\.\d+%, \d+ min into stage 3\)", improve)
    assert re.search(r"Hold #1 in stage 3 at T\+3\d", improve)
    assert "http_5xx_pct: " in "\n".join(s["Observations"])
    risks = s["Remaining Risks (3)"]
    assert risks[0].startswith("1. Root cause of the http_5xx_pct ")
    assert risks[1].startswith("2. The first night at 100 % was never observed")


def test_no_data_shows_up_as_something_to_improve():
    result = run([(20 * 60, {"http_p95_ms": None})])
    md = rca_markdown(result.events)
    assert re.search(r"\d+ decision\(s\) without full data \(T\+2\d", md)
    assert "No data gaps" not in md


def test_steps_that_only_recorded_themselves_are_named():
    from runofshow.domain.timeline import StepKind
    from tests.report_runs import stand_in_handlers

    handlers = stand_in_handlers()
    del handlers[StepKind.FREEZE_START], handlers[StepKind.CLOSE_OUT]  # no --repo: nothing to label
    result = run(step_handlers=handlers)
    md = rca_markdown(result.events)
    assert "Recorded but not run by runofshow: Freeze window starts, Close-out." in md
    assert "Freeze window starts, Close-out: only recorded by the run" in md


def test_a_halted_run_says_where_and_why():
    result = halted_run()
    assert oneliner(result.events) == ("v1.4.0 (spark-trading): halted at the preflight step (T-10): "
                                       "preflight 8/9: failed backup; traffic left at 0%")
    s = sections(rca_markdown(result.events))
    assert s["What Went Well"][0] == ("- The run stopped at the preflight step (T-10) before any traffic "
                                      "reached the canary.")
    assert s["What Could Be Improved"][0] == ("- The run halted at the preflight step (T-10): preflight 8/9: "
                                              "failed backup.")
    assert s["Remaining Risks (3)"][0].startswith("1. What halted the run is still open (preflight 8/9")
    assert len(s["Remaining Risks (3)"]) == 3


def test_file_names_are_safe(tmp_path, promoted):
    assert rca_name("v1.4.0") == "mini_rca_v1.4.0.md"
    assert rca_name("v1.4/../x y") == "mini_rca_v1.4_.._x_y.md"
    assert write_oneliner(promoted.events, None, tmp_path).name == ONELINER_FILE
