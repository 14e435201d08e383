"""Properties of the engine that must hold for any data (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from runofshow.domain.decide import decide
from runofshow.domain.plan import Plan
from runofshow.domain.rules import DecisionRules
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


ZERO = dict.fromkeys(METRICS, 0.0)
CSP_LEAN = [  # hypothesis seed 32: CSP doubled in every tick lowered its spread lean (3.31 -> 3.15) when
    # the lean left out the tick the cap ranked first (count_evidence._least_of_one_out)
    (0, 1.0, ZERO | {"http_p95_ms": 20.0}, ZERO | {"http_p95_ms": 20.0}, 3.0, 3.0),
    (0, 1.0, ZERO | {"http_p95_ms": 20.0}, ZERO | {"http_p95_ms": 20.0}, 3.0, 3.0),
    (0, 1.0, ZERO | {"http_p95_ms": 20.0, "ws_lag_s": 1.0, "idempotency_conflict_pct": 2.0, "csp_violations": 18.0,
                     "pgbouncer_pool_util_pct": 14.0},
     ZERO | {"http_p95_ms": 20.0, "idempotency_conflict_pct": 1.0, "csp_violations": 9.0}, 13756.0, 25753.0),
    (0, 1.0, ZERO | {"http_p95_ms": 20.0, "ws_lag_s": 57.0, "csp_violations": 3.0},
     ZERO | {"http_p95_ms": 20.0, "ws_lag_s": 114.0, "idempotency_conflict_pct": 1.0, "csp_violations": 33.0},
     62.0, 8640.0),
    (0, 1.0, ZERO | {"http_p95_ms": 20.0, "ws_lag_s": 1.0, "idempotency_conflict_pct": 1.0, "csp_violations": 13.0},
     ZERO | {"http_p95_ms": 20.0, "csp_violations": 50.0}, 583.0, 6250.0),
]


@FAST
@given(track_pairs(n_min=2), st.sampled_from(METRICS), st.floats(1.0, 20.0), st.integers(0, 11))
@example(CSP_LEAN, "csp_violations", 2.0, 0)
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
@given(track_pairs(), st.sampled_from((None, *METRICS)), st.booleans(), st.integers(1, 12))
def test_nodata_never_completes_a_stage(rows, metric, threshold, gap):
    """The last `gap` ticks have no canary data (for one gate, or at all). Never a completed stage;
    never a proceed once the judge window holds no canary data (or the canary was never seen); the
    threshold judge never proceeds on NoData at all."""
    hist = build(rows)
    gap = min(gap, len(hist))
    for i in range(len(hist) - gap, len(hist)):
        t = hist[i]
        assert t.canary is not None
        canary = None if metric is None else TrackSample({**t.canary.values, metric: None}, t.canary.requests)
        hist[i] = Tick(t.t_s, t.weight, t.stage, t.baseline, canary)
    plan = THRESHOLD_PLAN if threshold else PLAN
    d = decide(plan, hist)
    assert not d.stage_complete
    if threshold or gap >= min(plan.decision.judge_window_ticks, len(hist)):
        assert d.action is not Action.PROCEED


def test_identical_tracks_with_few_requests_and_a_jumping_rate_do_not_roll_back():
    """Found by hypothesis: the baseline's long-run rate must not outvote a tick's own baseline."""
    z = {"http_p95_ms": 20.0, "ws_lag_s": 0.0, "idempotency_conflict_pct": 0.0, "csp_violations": 0.0,
         "pgbouncer_pool_util_pct": 0.0}
    rows = [(0, 1.0, {**z, "http_5xx_pct": pct}, {**z, "http_5xx_pct": pct}, n, n)
            for pct, n in ((0.0, 1319.0), (8.0, 30.0), (17.0, 3.0), (16.0, 3.0))]
    hist = build(rows)
    assert [decide(PLAN, hist[: i + 1]).action for i in range(4)].count(Action.ROLLBACK) == 0


# --------------------------------------------------------------------------- no baseline to compare

GATES = PLAN.gates
RATES = {"http_5xx_pct", "idempotency_conflict_pct"}


def under(metric: str) -> st.SearchStrategy[float]:
    """A canary value at or under the metric's threshold."""
    top = GATES[metric].threshold
    if metric == "csp_violations":
        return st.integers(0, int(top)).map(float)
    return st.floats(0.5 if metric == "http_p95_ms" else 0.0, top)


under_values = st.fixed_dictionaries({m: under(m) for m in METRICS})


def over(metric: str) -> st.SearchStrategy[float]:
    """A canary value over the threshold; rates and counts clearly (x1.5 on ample requests, x2)."""
    top = GATES[metric].threshold
    if metric in RATES:
        return st.floats(1.5 * top, 100.0)
    if metric == "csp_violations":
        return st.integers(int(2 * top), 500).map(float)
    if metric == "pgbouncer_pool_util_pct":
        return st.floats(top + 0.1, 100.0)
    return st.floats(top * 1.001, top * 50)


# a tick with nothing to compare with: no baseline track, an empty one, or 100 % on the canary
# (whatever the baseline reports then is meaningless: here a copy of the canary or a perfect one)
NO_BASELINE = ("none", "nulls", "full-copy", "full-perfect", "full-none")


def lone(i: int, how: str, canary: dict, n: float, alerts: tuple[Alert, ...] = ()) -> Tick:
    weight = 100.0 if how.startswith("full") else 25.0
    stage = 4 if weight == 100 else 2
    baseline = {
        "none": None, "full-none": None,
        "nulls": TrackSample(dict.fromkeys(METRICS), None),
        "full-copy": TrackSample(canary, n),
        "full-perfect": TrackSample({m: 1.0 for m in METRICS}, 1e6),
    }[how]
    return Tick(i * 60.0, weight, stage, baseline, TrackSample(canary, n), alerts)


@FAST
@given(st.lists(st.tuples(st.sampled_from(NO_BASELINE), under_values, st.floats(3, 1e6)), min_size=1, max_size=12))
def test_with_no_baseline_a_canary_under_every_threshold_never_rolls_back(rows):
    hist = [lone(i, how, c, n) for i, (how, c, n) in enumerate(rows)]
    for i in range(len(hist)):
        assert decide(PLAN, hist[: i + 1]).action is not Action.ROLLBACK


@FAST
@given(st.lists(st.tuples(st.sampled_from(NO_BASELINE), values, st.floats(3, 1e6)), min_size=1, max_size=8))
def test_with_no_baseline_an_alert_always_rolls_back(rows):
    hist = [lone(i, how, c, n) for i, (how, c, n) in enumerate(rows)]
    last = hist[-1]
    alert = Alert("CanaryCrashLooping", {"auto_rollback": "true"}, last.t_s - 30)
    hist[-1] = Tick(last.t_s, last.weight, last.stage, last.baseline, last.canary, (alert,))
    d = decide(PLAN, hist)
    assert d.action is Action.ROLLBACK and "CanaryCrashLooping" in d.reasons[0]


@FAST
@given(
    st.sampled_from(METRICS).flatmap(lambda m: st.tuples(st.just(m), st.lists(over(m), min_size=12, max_size=12))),
    st.sampled_from(NO_BASELINE),
    st.lists(under_values, min_size=14, max_size=14),
    st.floats(5000, 1e6),
)
def test_with_no_baseline_a_canary_over_its_threshold_long_enough_with_ample_requests_rolls_back(
    breach, how, others, n
):
    metric, bad = breach
    rules = PLAN.decision
    # 100 % on the canary: `absolute_confirm_ticks`; a baseline only missing: as long as a canary gap
    need = rules.absolute_confirm_ticks if how.startswith("full") else rules.no_data_rollback_after_ticks
    good = [lone(i, how, others[i], n) for i in range(2)]  # past the latency warm-up
    breached = [lone(2 + k, how, {**others[2 + k], metric: bad[k]}, n) for k in range(need)]
    hist = good + breached
    d = decide(PLAN, hist)
    assert d.action is Action.ROLLBACK, d.reasons
    assert any(r.startswith(f"{metric} canary") and "with no baseline to compare" in r for r in d.reasons)
    first = decide(PLAN, [*good, breached[0]])  # and not on the first tick: a breach is confirmed first
    assert not any("no baseline to compare" in r and r.endswith(": rollback") for r in first.reasons)


@FAST
@given(
    st.lists(st.tuples(st.sampled_from(("pair", *NO_BASELINE)), values, values, requests, requests),
             min_size=2, max_size=10),
    st.sampled_from(METRICS), st.floats(1.0, 20.0), st.integers(0, 9),
)
def test_a_worse_canary_never_gets_a_better_decision_with_baseline_gaps(rows, metric, factor, onset):
    def tick_of(i: int, how: str, c: dict, b: dict, nc: float, nb: float) -> Tick:
        if how == "pair":
            return Tick(i * 60.0, 25.0, 2, TrackSample(b, nb), TrackSample(c, nc))
        return lone(i, how, c, nc)

    def worse(c: dict) -> dict:
        v = c[metric] * factor + (factor - 1)
        return {**c, metric: min(v, 100.0) if metric in PCT else v}

    plain = [tick_of(i, *r) for i, r in enumerate(rows)]
    regressed = [tick_of(i, how, worse(c) if i >= onset else c, b, nc, nb)
                 for i, (how, c, b, nc, nb) in enumerate(rows)]
    for i in range(len(plain)):
        a = decide(PLAN, plain[: i + 1]).action
        b = decide(PLAN, regressed[: i + 1]).action
        assert RANK[b] >= RANK[a], (i, a, b)
