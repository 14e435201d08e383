"""Properties of the engine that must hold for any data (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runofshow.domain.decide import decide
from runofshow.domain.plan import DecisionRules, Plan
from runofshow.domain.tick import Action, Alert, Tick, TrackSample

PLAN = Plan()
THRESHOLD_PLAN = Plan(decision=DecisionRules(judge="threshold"))
RANK = {Action.PROCEED: 0, Action.HOLD: 1, Action.ROLLBACK: 2}
METRICS = tuple(PLAN.gates)
PCT = {"http_5xx_pct", "idempotency_conflict_pct", "pgbouncer_pool_util_pct"}

values = st.fixed_dictionaries({
    "http_p95_ms": st.floats(20, 2000),
    "http_5xx_pct": st.floats(0, 20),
    "ws_lag_s": st.floats(0, 200),
    "idempotency_conflict_pct": st.floats(0, 5),
    "csp_violations": st.integers(0, 60).map(float),
    "pgbouncer_pool_util_pct": st.floats(0, 100),
})
weights = st.sampled_from([(0, 1.0), (1, 5.0), (2, 25.0), (3, 50.0)])
requests = st.floats(3, 30000)


@st.composite
def track_pairs(draw, n_min: int = 1, n_max: int = 12):
    """A history of ticks as (stage, weight, canary values, baseline values, n canary, n baseline)."""
    n = draw(st.integers(n_min, n_max))
    stage, weight = draw(weights)
    out = []
    for _ in range(n):
        out.append((stage, weight, draw(values), draw(values), draw(requests), draw(requests)))
    return out


def build(rows, canary_override=None) -> list[Tick]:
    ticks = []
    for i, (stage, weight, c, b, nc, nb) in enumerate(rows):
        cv = canary_override(i, c) if canary_override else c
        ticks.append(Tick(i * 60.0, weight, stage, TrackSample(b, nb), TrackSample(cv, nc)))
    return ticks


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(track_pairs(), st.sampled_from(["comparative"]))
def test_identical_canary_and_baseline_never_roll_back(rows, _judge):
    same = [(s, w, b, b, nb, nb) for s, w, _c, b, _nc, nb in rows]
    hist = build(same)
    for i in range(len(hist)):
        assert decide(PLAN, hist[: i + 1]).action is not Action.ROLLBACK


@FAST
@given(track_pairs(n_min=2), st.sampled_from(METRICS), st.floats(1.0, 20.0), st.integers(0, 11))
def test_a_worse_canary_never_gets_a_better_decision(rows, metric, factor, onset):
    def worse(i: int, c: dict) -> dict:
        if i < onset:
            return c
        v = c[metric] * factor + (factor - 1)
        if metric in PCT:
            v = min(v, 100.0)
        return {**c, metric: v}

    plain, regressed = build(rows), build(rows, worse)
    for plan in (PLAN, THRESHOLD_PLAN):
        for i in range(len(plain)):
            a = decide(plan, plain[: i + 1]).action
            b = decide(plan, regressed[: i + 1]).action
            assert RANK[b] >= RANK[a], (plan.decision.judge, i, a, b)


@FAST
@given(track_pairs(), st.sampled_from(["true"]), st.booleans())
def test_an_auto_rollback_alert_always_rolls_back(rows, flag, threshold):
    hist = build(rows)
    alert = Alert("CanarySLOFastBurn", {"auto_rollback": flag, "track": "canary"}, hist[-1].t_s)
    last = hist[-1]
    hist[-1] = Tick(last.t_s, last.weight, last.stage, last.baseline, last.canary, (alert,))
    assert decide(THRESHOLD_PLAN if threshold else PLAN, hist).action is Action.ROLLBACK


@FAST
@given(track_pairs(), st.sampled_from((None, *METRICS)), st.booleans())
def test_nodata_never_passes(rows, metric, threshold):
    hist = build(rows)
    last = hist[-1]
    assert last.canary is not None
    if metric is None:
        canary = None
    else:
        canary = TrackSample({**last.canary.values, metric: None}, last.canary.requests)
    hist[-1] = Tick(last.t_s, last.weight, last.stage, last.baseline, canary)
    d = decide(THRESHOLD_PLAN if threshold else PLAN, hist)
    assert d.action is not Action.PROCEED
    assert not d.stage_complete


def test_identical_tracks_with_few_requests_and_a_jumping_rate_do_not_roll_back():
    """Found by hypothesis: the baseline's long-run rate must not outvote a tick's own baseline."""
    z = {"http_p95_ms": 20.0, "ws_lag_s": 0.0, "idempotency_conflict_pct": 0.0, "csp_violations": 0.0,
         "pgbouncer_pool_util_pct": 0.0}
    rows = [(0, 1.0, {**z, "http_5xx_pct": pct}, {**z, "http_5xx_pct": pct}, n, n)
            for pct, n in ((0.0, 1319.0), (8.0, 30.0), (17.0, 3.0), (16.0, 3.0))]
    hist = build(rows)
    assert [decide(PLAN, hist[: i + 1]).action for i in range(4)].count(Action.ROLLBACK) == 0
