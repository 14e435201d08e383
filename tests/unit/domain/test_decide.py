from __future__ import annotations

import pytest

from runofshow.domain.decide import ENGINE_VERSION, decide
from runofshow.domain.plan import Plan
from runofshow.domain.rules import DecisionRules, Stage
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


@pytest.mark.parametrize(("ratio", "rolls_back"), [(1.15, False), (1.6, True)])
def test_a_canary_clearly_worse_inside_a_surge_is_the_canary(ratio, rolls_back):
    """The baseline over the limit too (a market-open surge): the canary a little worse is chance,
    x1.6 tick after tick is a regression that the surge happens to hide under the limit's breach
    (with the slack at x1.3 it held for ten ticks and never rolled back)."""
    base = [390, 420, 405, 430, 400, 415, 425, 410, 395, 420]
    hist = [tick(i) for i in range(3)]
    hist += [tick(i, {"http_p95_ms": b * ratio}, {"http_p95_ms": b}) for i, b in enumerate(base, start=3)]
    ds = run(hist)
    assert ("rollback" in [d.action.value for d in ds]) is rolls_back
    if rolls_back:  # the effect is what lies beyond the incident's allowance, and says so
        first = next(d for d in ds if d.action is Action.ROLLBACK)
        assert "canary-only breach (+28 % beyond the x1.25 a shared incident allows, over" in first.reasons[0]
        assert "canary p95 +28 % vs baseline beyond the x1.25 a shared incident allows (" in first.sentence
        # the rule names the bar this gate rolled back at: p95's is a point under the plan's 3.5
        assert first.sentence.endswith("rule: clearly worse (z >= 2.5) by at least +25 %")
        held = [d for d in ds if d.action is Action.HOLD and "needed" in d.sentence]
        assert held and all(" of 2.5 needed" in d.sentence for d in held)


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


def test_a_short_canary_gap_is_judged_on_the_window_and_never_completes_the_stage():
    """Ticks with no canary data at all, after a good run: the window still holds fresh data, so
    the run neither holds nor completes the stage; at `no_data_rollback_after_ticks` it rolls back."""
    rules = PLAN.decision
    n = rules.no_data_rollback_after_ticks
    hist = [tick(i) for i in range(6)] + [tick(6 + i, no_canary=True) for i in range(n)]
    ds = run(hist)
    assert ds[5].stage_complete  # the stage's hold time has passed: complete with data...
    gap = ds[6:6 + n - 1]
    assert [d.action for d in gap] == [Action.PROCEED] * (n - 1)
    assert not any(d.stage_complete for d in gap)  # ...and never on a tick without canary data
    assert all(v.verdict is Verdict.NODATA for d in gap for v in d.verdicts)
    assert "short gap" in gap[0].reasons[0] and "stage not advanced" in gap[0].sentence
    assert ds[6 + n - 1].action is Action.ROLLBACK
    assert "no canary data" in ds[6 + n - 1].reasons[0]


def test_no_canary_data_from_the_start_holds_then_rolls_back():
    n = PLAN.decision.no_data_rollback_after_ticks
    hist = [tick(i, no_canary=True) for i in range(n)]
    acts = actions(hist)
    assert acts == ["hold"] * (n - 1) + ["rollback"]


def test_one_metric_gap_proceeds_while_the_window_has_data_then_holds_then_rolls_back():
    window = PLAN.decision.judge_window_ticks
    n = PLAN.decision.no_data_metric_rollback_after_ticks
    hist = [tick(0)] + [tick(i, {"pgbouncer_pool_util_pct": None}) for i in range(1, n + 1)]
    ds = run(hist)
    acts = [d.action.value for d in ds]
    assert acts[1:window] == ["proceed"] * (window - 1)
    assert acts[window:n] == ["hold"] * (n - window) and acts[n] == "rollback"
    assert not any(d.stage_complete for d in ds[1:])


def test_a_gap_after_a_canary_leaning_worse_over_its_threshold_keeps_holding():
    """The pooled window, not the missing tick, speaks: a canary over its limit and worse than the
    baseline is still being confirmed when its next tick has no data."""
    bad = {"http_p95_ms": 450.0}
    hist = [tick(i) for i in range(3)] + [tick(3, bad), tick(4, bad), tick(5, {"http_p95_ms": None})]
    plan = PLAN.model_copy(update={"decision": DecisionRules(rollback_z=50)})  # never clear enough
    ds = run(hist, plan)
    assert ds[4].action is Action.HOLD
    assert ds[5].action is Action.HOLD
    assert ds[5].verdicts[0].verdict is Verdict.SUSPECT
    assert "no canary data" in ds[5].reasons[0]


def test_glitches_are_nodata_not_breaches():
    reset = {"http_5xx_pct": -4355.0, "idempotency_conflict_pct": -157.0, "csp_violations": -2557}
    hist = [tick(0), tick(1, reset, nc=-216667), tick(2), tick(3, {"pgbouncer_pool_util_pct": 9769.3}),
            tick(4, {"http_p95_ms": 29924.1, "http_5xx_pct": 100.0}, nc=2), tick(5)]
    ds = run(hist)
    assert [d.action.value for d in ds] == ["proceed"] * 6  # short gaps, judged on the window
    assert [any(v.verdict is Verdict.NODATA for v in d.verdicts) for d in ds] == [
        False, True, False, True, True, False]
    assert not any(d.stage_complete for d in (ds[1], ds[3], ds[4]))
    assert ds[5].stage_complete


def test_threshold_judge_still_holds_on_nodata():
    plan = PLAN.model_copy(update={"decision": DecisionRules(judge="threshold")})
    assert actions([tick(0), tick(1, {"ws_lag_s": None})], plan) == ["proceed", "hold"]


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


# --------------------------------------------------------------------------- no baseline to compare

GOOD = {"http_p95_ms": 140.0, "http_5xx_pct": 0.2, "ws_lag_s": 3.0, "idempotency_conflict_pct": 0.1,
        "csp_violations": 1, "pgbouncer_pool_util_pct": 40.0}


def full(i: int, canary: dict | None = None, *, baseline: TrackSample | None = None, n: float | None = 5000,
         alerts: tuple[Alert, ...] = ()) -> Tick:
    """A tick at 100 % on the canary (the last stage, the first night): the baseline has no traffic."""
    return Tick(i * 60.0, 100, 4, baseline, TrackSample({**GOOD, **(canary or {})}, n), alerts)


def test_at_100_percent_a_canary_over_its_threshold_rolls_back_after_confirming():
    """The live report: 8 % 5xx on 5000 requests a tick at 100 % held forever."""
    hist = [full(i, {"http_5xx_pct": 8.0} if i >= 4 else None) for i in range(12)]
    ds = run(hist, Plan())
    assert [d.action.value for d in ds[:7]] == ["proceed"] * 4 + ["hold", "hold", "rollback"]
    assert ds[4].reasons[0] == (
        "http_5xx_pct canary 8 % > 1 % with no baseline to compare (100 % on canary): "
        "1 of 3 ticks, confirming: holding"
    )
    assert ds[6].reasons == (
        "http_5xx_pct canary 8 % > 1 % for 3 ticks with no baseline to compare (100 % on canary): rollback",
    )
    assert all(d.action is Action.ROLLBACK for d in ds[6:])


@pytest.mark.parametrize(
    "baseline",
    [None, TrackSample(dict.fromkeys(GOOD), 0), TrackSample(GOOD, 0), TrackSample({**GOOD, "http_5xx_pct": 8.0}, 3)],
    ids=["no track", "nulls", "idle", "a stray sample"],
)
def test_at_100_percent_whatever_the_baseline_reports_is_not_a_comparison(baseline):
    hist = [full(i, {"http_5xx_pct": 8.0} if i >= 4 else None, baseline=baseline) for i in range(8)]
    assert actions(hist, Plan())[4:7] == ["hold", "hold", "rollback"]


def test_absolute_confirm_ticks_sets_the_confirmation():
    plan = Plan(decision=DecisionRules(absolute_confirm_ticks=5))
    hist = [full(i, {"http_p95_ms": 900.0} if i >= 2 else None) for i in range(10)]
    acts = actions(hist, plan)
    assert acts[2:7] == ["hold"] * 4 + ["rollback"]
    assert "http_p95_ms canary 900 ms > 300 ms for 5 ticks with no baseline" in run(hist, plan)[6].reasons[0]


def test_a_single_tick_spike_at_100_percent_does_not_roll_back():
    spikes = {3: {"http_p95_ms": 900.0}, 6: {"http_5xx_pct": 4.0}, 9: {"csp_violations": 40}}
    hist = [full(i, spikes.get(i)) for i in range(12)]
    acts = actions(hist, Plan())
    assert "rollback" not in acts
    assert [acts[i] for i in spikes] == ["hold"] * 3


def test_rates_roll_back_only_when_clearly_over_the_threshold_itself():
    # 1.2 % on 300 requests a tick: over 1 % on every tick, but within noise of 1 % (p~0.2)
    hist = [full(i, {"http_5xx_pct": 1.2} if i >= 1 else None, n=300) for i in range(7)]
    ds = run(hist, Plan())
    assert all(d.action is not Action.ROLLBACK for d in ds)
    assert "not yet clear against the threshold (22 in 1800 requests" in ds[-1].reasons[0]
    # the same 1.2 % on 50 000 requests a tick is clear
    hist = [full(i, {"http_5xx_pct": 1.2} if i >= 1 else None, n=50_000) for i in range(7)]
    assert actions(hist, Plan())[1:4] == ["hold", "hold", "rollback"]


def test_a_rate_without_canary_requests_is_never_clear():
    hist = [full(i, {"idempotency_conflict_pct": 5.0}, n=None) for i in range(8)]
    assert "rollback" not in actions(hist, Plan())


def test_csp_counts_roll_back_when_clearly_over_the_threshold():
    hist = [full(i, {"csp_violations": 35} if i >= 1 else None) for i in range(5)]
    assert actions(hist, Plan())[1:4] == ["hold", "hold", "rollback"]
    hist = [full(i, {"csp_violations": 12} if i >= 1 else None) for i in range(8)]  # 12 vs 10: noise
    assert "rollback" not in actions(hist, Plan())


def test_a_trend_toward_the_threshold_holds_at_100_percent():
    pool = [40, 40, 40, 48, 56, 64, 72]
    hist = [full(i, {"pgbouncer_pool_util_pct": p}) for i, p in enumerate(pool)]
    d = run(hist, Plan())[-1]
    assert d.action is Action.HOLD
    assert d.reasons[0].startswith(
        "pgbouncer_pool_util_pct canary 72 % rising with no baseline to compare (100 % on canary), "
        "projected over 80 %"
    )


def test_an_alert_at_100_percent_rolls_back_at_once():
    fire = Alert("CanarySLOFastBurn", {"auto_rollback": "true"}, 61)
    assert decide(Plan(), [full(0), full(1, alerts=(fire,))]).action is Action.ROLLBACK


def test_an_all_good_canary_at_100_percent_proceeds():
    ds = run([full(i) for i in range(8)], Plan())
    assert all(d.action is Action.PROCEED for d in ds)
    assert ds[0].verdicts[1].reason == "http_5xx_pct canary 0.2 %, no baseline (100 % on canary): pass"


def test_baseline_exporter_down_holds_longer_before_rolling_back():
    """Below 100 % the baseline is only missing: what it would have shown may be a shared incident,
    so the breach is waited out as long as missing canary data is."""
    n = PLAN.decision.no_data_rollback_after_ticks
    hist = [tick(0), tick(1)] + [
        Tick(i * 60.0, 25, 1, None, TrackSample({**BASE, "csp_violations": 1, "http_5xx_pct": 8.0}, 2500))
        for i in range(2, 2 + n + 1)
    ]
    acts = actions(hist)
    assert acts[2:2 + n] == ["hold"] * (n - 1) + ["rollback"]
    d = run(hist)[1 + n]
    assert d.reasons[0] == (
        f"http_5xx_pct canary 8 % > 1 % for {n} ticks with no baseline to compare (baseline no data): rollback"
    )


def test_baseline_gap_during_a_shared_incident_does_not_roll_back():
    """A shared DB saturation that starts as the baseline's exporter drops out for 4 ticks."""
    inc = {"pgbouncer_pool_util_pct": 99.0, "http_p95_ms": 420.0}
    hist = [tick(i) for i in range(4)]
    hist += [Tick(i * 60.0, 25, 1, None, TrackSample({**BASE, "csp_violations": 1, **inc}, 2500))
             for i in range(4, 8)]
    hist += [tick(i, inc, inc) for i in range(8, 12)]
    assert "rollback" not in actions(hist)


def test_stale_baseline_over_the_threshold_too_is_a_shared_incident_not_a_count():
    inc = {"http_5xx_pct": 4.0}
    hist = [tick(i, inc, inc) for i in range(3)]
    hist += [Tick(i * 60.0, 25, 1, None, TrackSample({**BASE, "csp_violations": 1, **inc}, 2500))
             for i in range(3, 10)]
    acts = actions(hist)
    assert acts[3:6] == ["proceed"] * 3  # the baseline was last seen in the incident too
    assert "rollback" not in acts[:9]  # counting starts once the last baseline is too old


def test_rate_baseline_without_requests_is_no_baseline():
    hist = [tick(0)] + [tick(i, {"http_5xx_pct": 8.0}, nb=None) for i in range(1, 8)]
    ds = run(hist)
    assert ds[1].action is Action.HOLD
    assert "(baseline requests unknown)" in ds[1].reasons[0]
    assert ds[6].action is Action.ROLLBACK


# --------------------------------------------------------------------------- low counts (the demo report)


def _quiet(i: int, errors: int, nc: float, nb: float, weight: float = 1) -> Tick:
    """5xx only: a quiet baseline (0 errors), the canary with `errors` errors in `nc` requests."""
    zero = {**BASE, "http_5xx_pct": 0.0, "idempotency_conflict_pct": 0.0, "csp_violations": 0}
    return Tick(float(i), weight, 0, TrackSample(zero, nb),
                TrackSample({**zero, "http_5xx_pct": 100 * errors / nc}, nc))


@pytest.mark.parametrize("errors", [[1, 1, 1, 1], [2, 1, 1, 1], [0, 2, 1, 1], [1, 2, 1, 1], [2, 2, 1, 0], [0, 0, 3, 2]])
def test_a_few_canary_errors_against_a_silent_baseline_do_not_roll_back(errors):
    """The demo: canary 0.43 % vs baseline 0 % over 4 ticks (4 errors in ~900 requests against 0
    in ~90 000) rolled back at p=0.0002. A handful of errors is not a regression."""
    hist = [_quiet(i, 0, 225, 22_500) for i in range(4)]
    hist += [_quiet(4 + i, k, 225, 22_500) for i, k in enumerate(errors)]
    hist += [_quiet(8 + i, 0, 225, 22_500) for i in range(4)]
    assert "rollback" not in actions(hist, Plan())


def test_tiny_canary_counts_with_an_error_now_and_then_do_not_roll_back():
    """3-10 canary requests a tick, 0 or 1 error; the baseline 0 errors in hundreds."""
    import random

    rng = random.Random(7)
    for _ in range(30):
        hist = []
        for i in range(40):
            nc = rng.randint(3, 10)
            hist.append(_quiet(i, 1 if rng.random() < 0.12 else 0, nc, rng.randint(300, 1000)))
        assert "rollback" not in actions(hist, Plan())


def test_a_real_error_regression_on_tiny_counts_is_still_caught():
    """An error in every tick of 5-10 requests (10-20 %) against a silent baseline: a real regression."""
    hist = [_quiet(i, 0, 8, 800) for i in range(4)] + [_quiet(i, 1, 5 + i % 6, 800) for i in range(4, 14)]
    assert "rollback" in actions(hist, Plan())
    # and the same shape with many more requests: 1 % against 0, clear at once
    hist = [_quiet(i, 0, 2000, 200_000) for i in range(4)] + [_quiet(i, 20, 2000, 200_000) for i in range(4, 8)]
    assert "rollback" in actions(hist, Plan())
