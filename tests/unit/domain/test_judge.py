from __future__ import annotations

import math

import pytest

from runofshow.domain import judge
from runofshow.domain.judge import (
    Scale,
    baseline_rate,
    compare,
    pair_at,
    poisson_cap,
    recent_pairs,
    scale_of,
)
from runofshow.domain.plan import default_gates
from runofshow.domain.tick import Tick, TrackSample

GATES = default_gates()
BASE = {
    "http_p95_ms": 150.0, "http_5xx_pct": 0.2, "ws_lag_s": 2.0,
    "idempotency_conflict_pct": 0.1, "csp_violations": 3, "pgbouncer_pool_util_pct": 30.0,
}


def tick(i: int, weight: float = 25, canary: dict | None = None, baseline: dict | None = None,
         nc: float = 2500, nb: float = 7500) -> Tick:
    c = {**BASE, "csp_violations": BASE["csp_violations"] * nc / nb, **(canary or {})}
    b = {**BASE, **(baseline or {})}
    return Tick(i * 60.0, weight, 2, TrackSample(b, nb), TrackSample(c, nc))


def evidence(history: list[Tick], metric: str, window: int = 6):
    gate = GATES[metric]
    pairs = recent_pairs(history, metric, gate, window)
    prior = baseline_rate(history, metric, gate, 12) if scale_of(gate) is Scale.COUNTS else None
    return compare(metric, gate, pairs, 0.25, window, prior)


def test_scales():
    assert scale_of(GATES["http_p95_ms"]) is Scale.LOG
    assert scale_of(GATES["ws_lag_s"]) is Scale.LOG
    assert scale_of(GATES["pgbouncer_pool_util_pct"]) is Scale.POINTS
    assert scale_of(GATES["http_5xx_pct"]) is Scale.COUNTS
    assert scale_of(GATES["csp_violations"]) is Scale.COUNTS


def test_pairs_need_both_tracks_and_counts_need_requests():
    t = Tick(0, 1, 0, TrackSample(BASE, 5000), None)
    assert pair_at(t, 0, "http_p95_ms", GATES["http_p95_ms"]) is None
    t = Tick(0, 1, 0, TrackSample(BASE, 5000), TrackSample(BASE, None))
    assert pair_at(t, 0, "http_p95_ms", GATES["http_p95_ms"]) is not None
    assert pair_at(t, 0, "http_5xx_pct", GATES["http_5xx_pct"]) is None
    hist = [tick(i) for i in range(10)]
    pairs = recent_pairs(hist, "http_p95_ms", GATES["http_p95_ms"], 4)
    assert [p.index for p in pairs] == [6, 7, 8, 9]


def test_identical_tracks_give_no_evidence():
    hist = [tick(i) for i in range(8)]
    for metric in BASE:
        ev = evidence(hist, metric)
        assert ev is not None and ev.z < 1.0, metric


def test_latency_step_is_clear_after_two_ticks_but_not_after_one():
    hist = [tick(i) for i in range(6)]
    hist.append(tick(6, canary={"http_p95_ms": 300}))
    one = evidence(hist, "http_p95_ms")
    assert one is not None and one.z < 1.0 and one.tick_z > 3  # the single tick is left out
    hist.append(tick(7, canary={"http_p95_ms": 310}))
    two = evidence(hist, "http_p95_ms")
    assert two is not None and two.z > 3.5
    assert two.effect == pytest.approx(1.0, abs=0.1)


def test_noise_widens_as_canary_requests_shrink():
    big = [tick(i, canary={"http_p95_ms": 200}, nc=5000) for i in range(4)]
    small = [tick(i, canary={"http_p95_ms": 200}, nc=30) for i in range(4)]
    assert evidence(big, "http_p95_ms").z > evidence(small, "http_p95_ms").z + 2


def test_errors_judged_by_counts():
    # 5x the baseline's error rate on 2500 requests a tick: clear in a few ticks
    hist = [tick(i, canary={"http_5xx_pct": 1.0}) for i in range(3)]
    ev = evidence(hist, "http_5xx_pct")
    assert ev.z > 4 and ev.effect > 2
    # one error on 30 requests is 3.3 %, and means nothing
    hist = [tick(i, weight=1, nc=30) for i in range(5)]
    hist.append(tick(5, weight=1, nc=30, canary={"http_5xx_pct": 100 / 30}))
    assert evidence(hist, "http_5xx_pct").z < 2


def test_shared_incident_cancels_out():
    inc = {"http_5xx_pct": 4.0, "http_p95_ms": 450.0, "ws_lag_s": 90.0, "pgbouncer_pool_util_pct": 92.0}
    hist = [tick(i) for i in range(4)] + [tick(i, canary=inc, baseline=inc) for i in range(4, 9)]
    for metric in inc:
        assert evidence(hist, metric).z < 1.5, metric


def test_a_single_csp_burst_is_not_enough():
    hist = [tick(i) for i in range(6)]
    hist.append(tick(6, canary={"csp_violations": 22}))
    assert evidence(hist, "csp_violations").z < 1
    for i in range(7, 10):  # a lasting CSP regression: 4 per 1000 requests on top
        hist.append(tick(i, canary={"csp_violations": 11}))
    assert evidence(hist, "csp_violations").z > 3.5


def test_pool_leak_is_found_and_pool_noise_is_not():
    leak = [30 + max(0, i - 3) * 3.0 for i in range(9)]
    hist = [tick(i, canary={"pgbouncer_pool_util_pct": p}) for i, p in enumerate(leak)]
    assert evidence(hist, "pgbouncer_pool_util_pct").z > 3.5
    noisy = [tick(i, canary={"pgbouncer_pool_util_pct": 30 + (-1) ** i * 2.0}) for i in range(9)]
    assert evidence(noisy, "pgbouncer_pool_util_pct").z < 1


def test_baseline_rate_leaves_out_incident_ticks():
    hist = [tick(i) for i in range(8)] + [tick(8, baseline={"http_5xx_pct": 5.0})]
    events, exposure = baseline_rate(hist, "http_5xx_pct", GATES["http_5xx_pct"], 12)
    assert events / exposure == pytest.approx(0.002, rel=0.01)


def test_poisson_cap_is_the_count_at_the_given_z():
    for mu in (0.01, 0.3, 5.0, 80.0):
        k = poisson_cap(mu, 2.5)
        assert k > mu
        llr = k * math.log(k / mu) - k + mu
        assert math.sqrt(2 * llr) == pytest.approx(2.5, rel=1e-4)


def test_no_pairs_no_evidence():
    assert compare("http_p95_ms", GATES["http_p95_ms"], [], 0.25, 6) is None


def test_robustness_per_reading():
    assert judge.robustness(GATES["csp_violations"]).min_event_ticks == 2
    assert judge.robustness(GATES["pgbouncer_pool_util_pct"]).trim is None
    assert judge.left_out(6, 1 / 3) == 2
    assert judge.left_out(2, 0.0) == 1
    assert judge.left_out(5, None) == 0
