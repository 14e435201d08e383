from __future__ import annotations

import pytest

from runofshow.domain.decide import ENGINE_VERSION, decide
from runofshow.domain.plan import DecisionRules, Plan, Stage
from runofshow.domain.tick import Action, Alert, Tick, TrackSample, Verdict

BASE = {
    "http_p95_ms": 150.0, "http_5xx_pct": 0.2, "ws_lag_s": 2.0,
    "idempotency_conflict_pct": 0.1, "csp_violations": 3, "pgbouncer_pool_util_pct": 30.0,
}
PLAN = Plan(stages=(Stage(weight=5, hold_min=5), Stage(weight=25, hold_min=5), Stage(weight=100)))


def tick(
    i: int, canary: dict | None = None, baseline: dict | None = None, *, stage: int = 1,
    weight: float = 25, nc: float | None = 2500, nb: float | None = 7500,
    alerts: tuple[Alert, ...] = (), no_canary: bool = False,
) -> Tick:
    c = {**BASE, "csp_violations": 1, **(canary or {})}
    b = {**BASE, **(baseline or {})}
    can = None if no_canary else TrackSample(c, nc)
    return Tick(i * 60.0, weight, stage, TrackSample(b, nb), can, alerts)


def run(history: list[Tick], plan: Plan = PLAN):
    """Decisions for every prefix, the way replay and the runner call the engine."""
    return [decide(plan, history[: i + 1]) for i in range(len(history))]


def actions(history: list[Tick], plan: Plan = PLAN) -> list[str]:
    return [d.action.value for d in run(history, plan)]


def test_all_good_proceeds_and_completes_the_stage_after_its_hold():
    ds = run([tick(i) for i in range(6)])
    assert [d.action for d in ds] == [Action.PROCEED] * 6
    assert [d.stage_complete for d in ds] == [False, False, False, False, True, True]
    assert "6/6 gates pass" in ds[0].reasons[0]
    assert ds[4].reasons[0].endswith("stage 2 (25 %) complete")
    assert all(v.verdict is Verdict.PASS for v in ds[0].verdicts)
    assert ENGINE_VERSION in ds[0].engine and "comparative" in ds[0].engine


def test_auto_rollback_alert_rolls_back_at_once():
    fire = Alert("CanaryCrashLooping", {"auto_rollback": "true", "track": "canary"}, 867)
    d = decide(PLAN, [tick(0), tick(1, alerts=(fire,))])
    assert d.action is Action.ROLLBACK
    assert "CanaryCrashLooping" in d.reasons[0] and "immediate rollback" in d.reasons[0]


@pytest.mark.parametrize(
    "labels", [{"auto_rollback": "false"}, {"severity": "info"}, {"auto_rollback": "True"}]
)
def test_other_alerts_are_context_only(labels):
    decoy = Alert("WebsocketLagHigh", labels, 50)
    d = decide(PLAN, [tick(0), tick(1, alerts=(decoy,))])
    assert d.action is Action.PROCEED
    assert any("context only" in r for r in d.reasons)


def test_canary_only_latency_regression_rolls_back_with_a_war_room_reason():
    hist = [tick(i) for i in range(5)] + [tick(i, {"http_p95_ms": 412}) for i in range(5, 8)]
    acts = actions(hist)
    assert "rollback" in acts
    first = acts.index("rollback")
    assert first in (6, 7)  # the second bad tick at the latest: one tick alone is never enough
    d = run(hist)[first]
    assert d.reasons[0].startswith(
        "http_p95_ms canary 412 ms > 300 ms and baseline 150 ms: canary-only breach"
    )


def test_canary_only_regression_under_the_threshold_is_caught():
    hist = [tick(i) for i in range(5)] + [tick(i, {"http_p95_ms": 270}) for i in range(5, 9)]
    ds = run(hist)
    rb = [d for d in ds if d.action is Action.ROLLBACK]
    assert rb and "canary-only regression under the 300 ms limit" in rb[0].reasons[0]


def test_shared_breach_is_an_incident_not_a_rollback():
    surge = {"http_p95_ms": 412, "ws_lag_s": 60}
    both = {"http_p95_ms": 390, "ws_lag_s": 58}
    hist = [tick(i) for i in range(3)] + [tick(i, surge, both) for i in range(3, 9)]
    ds = run(hist)
    assert all(d.action is Action.PROCEED for d in ds)
    last = ds[-1]
    assert not last.stage_complete
    want = "http_p95_ms 412 ms over 300 ms on baseline too (390 ms): shared incident"
    assert any(r.startswith(want) for r in last.reasons)
    assert any(v.verdict is Verdict.SHARED for v in last.verdicts)


def test_single_tick_canary_spike_does_not_roll_back():
    spike = {"http_p95_ms": 700, "csp_violations": 25, "http_5xx_pct": 3.0}
    hist = [tick(i) for i in range(5)] + [tick(5, spike)]
    hist += [tick(i) for i in range(6, 10)]
    assert "rollback" not in actions(hist)


def test_warm_up_does_not_roll_back():
    hist = [tick(0, {"http_p95_ms": 330}, stage=0, weight=5, nc=300)]
    hist += [tick(1, {"http_p95_ms": 260}, stage=0, weight=5, nc=300)]
    hist += [tick(i, stage=0, weight=5, nc=300) for i in range(2, 8)]
    assert "rollback" not in actions(hist)
    assert "warm-up" in run(hist)[0].verdicts[0].reason


def test_nodata_holds_then_rolls_back():
    rules = PLAN.decision
    n = rules.no_data_rollback_after_ticks
    hist = [tick(0)] + [tick(i, no_canary=True) for i in range(1, n + 1)]
    acts = actions(hist)
    assert acts[1:n] == ["hold"] * (n - 1)
    assert acts[n] == "rollback"
    assert "no canary data" in run(hist)[n].reasons[0]


def test_one_metric_gap_holds_and_rolls_back_much_later():
    n = PLAN.decision.no_data_metric_rollback_after_ticks
    hist = [tick(0)] + [tick(i, {"pgbouncer_pool_util_pct": None}) for i in range(1, n + 1)]
    acts = actions(hist)
    assert acts[1:n] == ["hold"] * (n - 1) and acts[n] == "rollback"


def test_glitches_are_nodata_not_breaches():
    reset = {"http_5xx_pct": -4355.0, "idempotency_conflict_pct": -157.0, "csp_violations": -2557}
    hist = [tick(0), tick(1, reset, nc=-216667), tick(2), tick(3, {"pgbouncer_pool_util_pct": 9769.3}),
            tick(4, {"http_p95_ms": 29924.1, "http_5xx_pct": 100.0}, nc=2), tick(5)]
    assert actions(hist) == ["proceed", "hold", "proceed", "hold", "hold", "proceed"]


def test_baseline_glitch_does_not_hold():
    hist = [tick(0), tick(1, baseline={"http_5xx_pct": -4355.0}, nb=-216667), tick(2)]
    assert actions(hist) == ["proceed", "proceed", "proceed"]


def test_creeping_canary_holds_before_it_crosses():
    pool = [30, 30, 30, 36, 42, 48, 54, 60, 66, 72]
    plan = PLAN.model_copy(update={"decision": DecisionRules(rollback_z=50)})  # isolate the trend rule
    hist = [tick(i, {"pgbouncer_pool_util_pct": p}) for i, p in enumerate(pool)]
    ds = run(hist, plan)
    assert ds[-1].action is Action.HOLD
    assert any(v.verdict is Verdict.TREND for v in ds[-1].verdicts)
    assert "projected over 80 %" in ds[-1].reasons[0]


def test_threshold_judge_is_the_plain_matrix():
    plan = PLAN.model_copy(update={"decision": DecisionRules(judge="threshold")})
    shared = [tick(0), tick(1, {"http_p95_ms": 412}, {"http_p95_ms": 390})]
    d = run(shared, plan)[-1]
    assert d.action is Action.ROLLBACK and "threshold" in d.engine
    assert d.reasons == ("http_p95_ms canary 412 ms > 300 ms (baseline 390 ms)",)
    rising = [tick(i, {"pgbouncer_pool_util_pct": p}) for i, p in enumerate([40, 50, 60, 70])]
    assert run(rising, plan)[-1].action is Action.HOLD


def test_decision_uses_only_the_prefix():
    hist = [tick(i) for i in range(4)] + [tick(i, {"http_p95_ms": 500}) for i in range(4, 8)]
    full = run(hist)
    for cut in range(1, len(hist)):
        assert run(hist[:cut]) == full[:cut]


def test_empty_history_is_an_error():
    with pytest.raises(ValueError):
        decide(PLAN, [])
