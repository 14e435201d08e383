from __future__ import annotations

import copy
import json
import random
from importlib import resources
from pathlib import Path

import pytest

from runofshow.app.replay.scenarios import load_scenario, parse_scenario, replay
from runofshow.domain.tick import Action
from runofshow.errors import ScenarioError
from tests.helpers import run_cli as cli

EXAMPLES = Path(str(resources.files("runofshow").joinpath("examples")))
NAMES = sorted(p.stem for p in EXAMPLES.glob("ex-*.json") if not p.name.endswith(".truth.json"))


def truth(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.truth.json").read_text())


def raw(name: str = "ex-001") -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def test_the_twelve_examples_are_bundled():
    assert len(NAMES) == 12


@pytest.mark.parametrize("name", NAMES)
def test_every_example_comes_out_right(name):
    t = truth(name)
    sc = load_scenario(EXAMPLES / f"{name}.json")
    res = replay(sc)
    if t["label"] == "good":
        assert res.verdict != "rolled_back", res.decisions[-1].reasons
        assert res.rollback_t is None
        assert len(res.decisions) == len(sc.ticks)
    else:
        assert res.verdict == "rolled_back"
        assert t["onset_t"] <= res.rollback_t <= t["onset_t"] + 6 * sc.interval_s
        assert res.decisions[-1].action is Action.ROLLBACK


@pytest.mark.parametrize("name", ["ex-003", "ex-004", "ex-009", "ex-012"])
def test_no_peeking_decisions_on_a_cut_scenario_are_the_same(name, tmp_path):
    full = replay(load_scenario(EXAMPLES / f"{name}.json")).to_json()["decisions"]
    rng = random.Random(name)
    data = raw(name)
    for cut in sorted(rng.sample(range(1, len(data["ticks"])), 4)):
        short = copy.deepcopy(data)
        short["ticks"] = short["ticks"][:cut]
        p = tmp_path / f"{name}-{cut}.json"
        p.write_text(json.dumps(short))
        part = replay(load_scenario(p)).to_json()["decisions"]
        n = min(len(part), len(full))
        assert part[:n] == full[:n]


def test_alerts_become_visible_at_the_first_tick_at_or_after_them():
    sc = load_scenario(EXAMPLES / "ex-010.json")  # CanaryCrashLooping at t=867
    seen = {t.t_s: bool(t.alerts) for t in sc.ticks}
    assert seen[840] is False and seen[900] is True
    res = replay(sc)
    assert res.rollback_t == 900 and "CanaryCrashLooping" in res.decisions[-1].reasons[0]


def test_plan_from_the_header():
    sc = load_scenario(EXAMPLES / "ex-001.json")
    assert [s.weight for s in sc.plan.stages] == [1, 5, 25, 50, 100]
    assert sc.plan.stages[0].hold_min == 10  # ticks 0..540 are 10 minutes
    assert sc.plan.gates["http_p95_ms"].threshold == 300
    assert sc.plan.decision.tick_interval_s == 60
    assert [t.stage for t in sc.ticks[:11]] == [0] * 10 + [1]


def test_a_windowed_rate_divides_by_the_ticks_own_requests():
    """FORMAT.md: `requests` is the count in the tick, however long a gate's `window_s`: a rate's
    events are counted by one tick's denominator, a p95's range stays its own."""
    d = raw()
    d["gates"]["http_5xx_pct"]["window_s"] = 300
    d["gates"]["http_p95_ms"]["window_s"] = 300
    gates = parse_scenario(d, "ex.json").plan.gates
    assert (gates["http_5xx_pct"].window_s, gates["http_5xx_pct"].denominator_window_s) == (300, d["interval_s"])
    assert (gates["http_p95_ms"].window_s, gates["http_p95_ms"].denominator_window_s) == (300, None)


def test_json_contract_shape():
    out = replay(load_scenario(EXAMPLES / "ex-007.json")).to_json()
    assert set(out) == {"verdict", "rollback_t", "decisions"}
    assert out["verdict"] == "rolled_back" and out["rollback_t"] == out["decisions"][-1]["t"]
    assert set(out["decisions"][0]) == {"t", "decision", "reasons", "sentence"}
    assert out["decisions"][-1]["sentence"].startswith("rollback at 25 %: canary p95 x2.0 vs baseline (99 % CI")


def test_null_values_tracks_and_negative_requests_are_data_not_errors():
    d = raw()
    d["ticks"][1]["canary"] = None
    d["ticks"][2]["baseline"]["http_p95_ms"] = None
    d["ticks"][3]["baseline"]["requests"] = -216667
    d["ticks"][3]["baseline"]["http_5xx_pct"] = -4355.0
    res = replay(parse_scenario(d, "ex.json"))
    gap = res.decisions[1]  # no canary data for one tick after a good one: a short gap
    assert gap.action is Action.PROCEED and not gap.stage_complete
    assert all(v.verdict.value == "NODATA" for v in gap.verdicts)
    assert res.verdict == "promoted"


def with_full_stage(errors_pct: float | None, baseline: dict | None) -> dict:
    """ex-001 plus 8 ticks at 100 % on the canary, whose 5xx jumps to `errors_pct` from the third."""
    d = raw("ex-001")
    last = d["ticks"][-1]
    t0 = last["t"] + 60
    d["stages"].append({"weight": 100, "from_t": t0, "to_t": t0 + 7 * 60})
    for k in range(8):
        c = {**last["canary"], "requests": 4000, "csp_violations": 2}
        if errors_pct is not None and k >= 2:
            c["http_5xx_pct"] = errors_pct
        d["ticks"].append({"t": t0 + 60 * k, "weight": 100, "baseline": baseline, "canary": c})
    return d


@pytest.mark.parametrize("baseline", [None, {"requests": 0, "http_p95_ms": None, "http_5xx_pct": None}])
def test_at_100_percent_with_no_baseline_the_thresholds_decide(baseline):
    d = with_full_stage(8.0, baseline)
    t0 = d["stages"][-1]["from_t"]
    res = replay(parse_scenario(d, "full.json"))
    assert res.verdict == "rolled_back" and res.rollback_t == t0 + 4 * 60  # the third tick over 1 %
    assert res.decisions[-1].reasons == (
        "http_5xx_pct canary 8 % > 1 % for 3 ticks with no baseline to compare (100 % on canary): rollback",
    )
    assert [x.action for x in res.decisions[-3:-1]] == [Action.HOLD, Action.HOLD]
    assert replay(parse_scenario(with_full_stage(None, baseline), "full.json")).verdict == "promoted"


def bad(mutate) -> str:
    d = raw()
    mutate(d)
    with pytest.raises(ScenarioError) as ex:
        parse_scenario(d, "ex.json")
    msg = str(ex.value)
    assert "\n" not in msg and msg.startswith("ex.json: ")
    return msg


def test_malformed_scenarios_give_one_line():
    def out_of_order(d):
        d["ticks"][3]["t"] = 120

    assert bad(out_of_order) == "ex.json: ticks[3].t: ticks out of order (120 after 120)"
    assert bad(lambda d: d["ticks"][4].pop("baseline")) == "ex.json: ticks[4].baseline: missing"
    assert bad(lambda d: d["gates"].update({"cpu_pct": {"max": 90}})).startswith(
        "ex.json: gates.cpu_pct: unknown metric"
    )
    assert bad(lambda d: d["ticks"][0]["canary"].update({"cpu": 1})) == (
        "ex.json: ticks[0].canary.cpu: unknown metric"
    )
    assert bad(lambda d: d["ticks"][2].update({"t": "120"})) == (
        "ex.json: ticks[2].t: expected a number, got a string"
    )
    assert bad(lambda d: d["ticks"][2]["canary"].update({"http_p95_ms": True})) == (
        "ex.json: ticks[2].canary.http_p95_ms: expected a number, got a boolean"
    )
    assert bad(lambda d: d["ticks"][5].update({"weight": -5})) == (
        "ex.json: ticks[5].weight: must not be negative (-5)"
    )
    assert bad(lambda d: d["ticks"][5].update({"weight": 7})) == (
        "ex.json: ticks[5].weight: 7 is not a stage weight (1, 5, 25, 50)"
    )
    assert bad(lambda d: d["stages"][1].update({"weight": -5})) == (
        "ex.json: stages[1].weight: must be between 0 and 100, not -5"
    )
    assert bad(lambda d: d.pop("interval_s")) == "ex.json: interval_s: missing"
    assert bad(lambda d: d.update({"ticks": {}})) == "ex.json: ticks: expected a list, got an object"
    assert bad(lambda d: d["alerts"].append({"t": 5, "name": "X", "labels": {"auto_rollback": True}})) == (
        "ex.json: alerts[0].labels.auto_rollback: expected a string, got a boolean"
    )


def test_unreadable_and_invalid_json(tmp_path):
    p = tmp_path / "ex.json"
    p.write_text("{not json")
    with pytest.raises(ScenarioError, match=r"ex.json: line 1: not valid JSON"):
        load_scenario(p)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.json")
    with pytest.raises(ScenarioError, match=r"\(top level\): expected an object, got a list"):
        parse_scenario([], "ex.json")


def test_cli_replay_json_prints_one_object_and_exits_0(capsys):
    code, out, _ = cli(["replay", str(EXAMPLES / "ex-007.json"), "--json"], capsys)
    assert code == 0
    last = out.strip().splitlines()[-1]
    assert json.loads(last)["verdict"] == "rolled_back"
    code, out, _ = cli(["replay", str(EXAMPLES / "ex-003.json"), "--json", "--judge", "threshold"], capsys)
    assert code == 0 and json.loads(out)["verdict"] == "rolled_back"  # falls for the shared incident


def test_cli_replay_table_and_exit_codes(capsys):
    code, out, _ = cli(["replay", str(EXAMPLES / "ex-007.json")], capsys)
    assert code == 3 and "rollback" in out and "verdict: rolled_back" in out
    code, out, _ = cli(["replay", str(EXAMPLES / "ex-005.json")], capsys)
    assert code == 0 and "verdict: promoted" in out


def test_cli_malformed_scenario_exits_2_with_one_line(tmp_path, capsys):
    d = raw()
    d["ticks"][3]["t"] = 60
    p = tmp_path / "ex.json"
    p.write_text(json.dumps(d))
    code, out, err = cli(["replay", str(p), "--json"], capsys)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(f"{p}: ticks[3].t: ticks out of order (60 after 120)")
