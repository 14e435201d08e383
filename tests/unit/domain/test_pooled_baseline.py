"""The baseline's side of a rate's pooled evidence: a baseline scrape gap keeps the canary's events
(lone ticks, judged against the long-run rate), and the long run weighs as the requests it holds."""

from __future__ import annotations

from runofshow.domain.decide import decide
from runofshow.domain.judge import compare, recent_pairs
from runofshow.domain.plan import Plan
from runofshow.domain.pooled import pooled_evidence, window_pairs
from runofshow.domain.prior import PRIOR_MAX_SHARE, with_prior
from runofshow.domain.rules import Stage, default_gates
from runofshow.domain.tick import Action, Tick, TrackSample

GATES = default_gates()
PLAN = Plan(stages=(Stage(weight=50, hold_min=60), Stage(weight=100)))
BASE = {
    "http_p95_ms": 120.0, "http_5xx_pct": 0.04, "ws_lag_s": 1.0,
    "idempotency_conflict_pct": 0.0, "csp_violations": 0.0, "pgbouncer_pool_util_pct": 30.0,
}
ONSET, GAP = 20, (23, 24)


def tick(i: int, canary_5xx: float, baseline: bool = True) -> Tick:
    """50 % weight, 1,400 requests a track; the baseline's 0.04 % is 0.56 errors a tick. A gap tick
    has no baseline data at all (a failed scrape)."""
    b = TrackSample(BASE, 1400) if baseline else TrackSample({}, None)
    return Tick(i * 60.0, 50, 0, b, TrackSample({**BASE, "http_5xx_pct": canary_5xx}, 1400))


def history() -> list[Tick]:
    """gen-7-0202's shape: quiet 5xx on both tracks, then the canary at x5 (about 3 errors a tick)
    from ONSET, while the baseline misses two scrapes (GAP)."""
    return [tick(i, 0.04 if i < ONSET else 0.2, baseline=i not in GAP) for i in range(ONSET + 6)]


def test_a_baseline_gap_keeps_the_canarys_ticks_as_lone_pairs():
    hist, gate = history(), GATES["http_5xx_pct"]
    plain = recent_pairs(hist, "http_5xx_pct", gate, 12)
    lone = recent_pairs(hist, "http_5xx_pct", gate, 12, lone=True)
    assert not set(GAP) & {p.index for p in plain}
    assert [p.index for p in lone if p.lone] == list(GAP)
    assert [p.index for p in lone] == list(range(len(hist) - 12, len(hist)))
    # a latency has no long-run rate to stand in for the baseline: never a lone pair
    assert not any(p.lone for p in recent_pairs(hist, "http_p95_ms", GATES["http_p95_ms"], 12, lone=True))


def test_lone_ticks_need_the_long_run_rate_and_add_the_canarys_events():
    hist, gate = history(), GATES["http_5xx_pct"]
    lone = recent_pairs(hist, "http_5xx_pct", gate, 12, lone=True)
    plain = [p for p in lone if not p.lone]
    without = compare("http_5xx_pct", gate, plain, 0.25, 6, (10.0, 28000.0), memory=12)
    dropped = compare("http_5xx_pct", gate, lone, 0.25, 6, None, memory=12)
    no_prior = compare("http_5xx_pct", gate, plain, 0.25, 6, None, memory=12)
    with_lone = compare("http_5xx_pct", gate, lone, 0.25, 6, (10.0, 28000.0), memory=12)
    assert without is not None and dropped is not None and no_prior is not None and with_lone is not None
    assert dropped == no_prior  # no long run: a lone tick has nothing to be judged against
    assert with_lone.z > without.z
    assert with_lone.events > without.events


def test_the_long_run_never_weighs_more_requests_than_it_holds():
    rows = [(1.0, 1400.0, 0.0, 1400.0)] * 12 + [(1.0, 1400.0, 0.0, 0.0)]  # the last: a lone tick
    prior = (10.0, 20000.0)
    out = with_prior(rows, prior, spread=12)
    added = [nb2 - nb for (_, _, _, nb), (_, _, _, nb2) in zip(rows, out, strict=True)]
    assert all(a <= 20000.0 / 12 + 1e-9 for a in added)
    assert sum(added[-12:]) <= 20000.0 + 1e-9
    assert all(a <= PRIOR_MAX_SHARE * 1400.0 + 1e-9 for a in added)
    # a long history adds up to PRIOR_MAX_SHARE times the tick's own baseline requests
    long_run = with_prior(rows[:1], (60.0, 10**6), spread=12)
    assert long_run[0][3] == 1400.0 * (1 + PRIOR_MAX_SHARE)
    # a tick far above the long run (a shared incident) is judged on its own
    assert with_prior([(1.0, 1400.0, 30.0, 1400.0)], prior, spread=12) == [(1.0, 1400.0, 30.0, 1400.0)]


def test_a_clear_canary_only_5xx_rise_across_a_baseline_gap_rolls_back():
    """Failed before: the two gap ticks' canary errors were dropped and the baseline's long run
    counted for 3 events a tick (12 ticks of history), so the rollback came one tick after the
    end of this history (a canary whose stage ends here promotes)."""
    hist = history()
    decisions = [decide(PLAN, hist[: i + 1]) for i in range(len(hist))]
    assert all(d.action is not Action.ROLLBACK for d in decisions[:ONSET])
    first = next(i for i, d in enumerate(decisions) if d.action is Action.ROLLBACK)
    assert first >= ONSET + 2
    assert "http_5xx_pct" in decisions[first].reasons[0]
    ev = pooled_evidence(PLAN, hist, "http_5xx_pct", GATES["http_5xx_pct"],
                         window_pairs(PLAN, hist, "http_5xx_pct", GATES["http_5xx_pct"], warmup=2))
    assert ev is not None and ev.z > 0
