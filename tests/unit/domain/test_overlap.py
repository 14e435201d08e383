"""CSP reports read over overlapping ranges (`[4m]` at a 1-min tick): every report shows up in four
consecutive readings. The judge pools only the readings four ticks apart (domain/overlap.py): a step
rolls back, a one-tick burst (in one independent reading) does not. The same for a p95 read over a
range, whose one-tick spike a histogram's quantile carries at full height through every reading."""

from __future__ import annotations

from runofshow.domain.decide import decide
from runofshow.domain.overlap import independent, reading_rows
from runofshow.domain.plan import Plan
from runofshow.domain.rules import DecisionRules, Stage
from runofshow.domain.tick import Tick, TrackSample
from tests.unit.domain.test_decide import BASE

CSP = "csp_violations"
RANGE = 4  # ticks each reading covers


def plan() -> Plan:
    p = Plan(stages=(Stage(weight=25, hold_min=60), Stage(weight=100)), decision=DecisionRules(tick_interval_s=60))
    gates = {n: g.model_copy(update={"window_s": 60.0 * RANGE, "threshold": 100}) if n == CSP else g
             for n, g in p.gates.items()}
    return p.model_copy(update={"gates": gates})


def history(canary_per_tick: list[int], baseline_per_tick: int = 3) -> list[Tick]:
    """Each reading sums the last RANGE ticks' reports; requests are per tick (25 % canary)."""
    out = []
    for i in range(len(canary_per_tick)):
        c = sum(canary_per_tick[max(0, i - RANGE + 1): i + 1])
        b = baseline_per_tick * min(i + 1, RANGE)
        out.append(Tick(i * 60.0, 25, 0, TrackSample({**BASE, CSP: b}, 7500),
                        TrackSample({**BASE, CSP: c}, 2500)))
    return out


def actions(hist: list[Tick]) -> list[str]:
    return [decide(plan(), hist[: i + 1]).action.value for i in range(len(hist))]


def test_a_csp_step_under_overlapping_windows_rolls_back():
    """From one report a tick (the baseline's rate) to four: x4, every independent reading."""
    acts = actions(history([1] * 8 + [4] * 16))
    assert "rollback" not in acts[:8]
    assert "rollback" in acts


def test_a_one_tick_csp_burst_under_overlapping_windows_does_not_roll_back():
    """Fifteen reports in one tick, seen again in four readings: one independent reading, trimmed."""
    for at in (9, 10, 11, 12):
        per_tick = [1] * 24
        per_tick[at] += 15
        assert "rollback" not in actions(history(per_tick)), at


def test_independent_readings_are_a_range_apart_and_weigh_the_requests_they_cover():
    assert independent([3, 4, 5, 6, 7, 8, 9], 3) == [0, 3, 6]
    assert independent([3, 5, 7, 9], 3) == [0, 3]  # a missing reading is skipped, not replaced
    rows = [(1.0, 100.0, 3.0, 300.0), (1.0, 100.0, 3.0, 300.0), (2.0, 400.0, 2.0, 200.0)]
    # a stage change inside the range: the reading weighs the mean requests of the ticks it covers
    assert reading_rows(rows, [0, 1, 2], 2) == [(1.0, 100.0, 3.0, 300.0), (2.0, 250.0, 2.0, 250.0)]
    lone = [(1.0, 100.0, 3.0, 300.0), (2.0, 300.0, 0.0, 0.0)]  # no baseline data in the reading
    assert reading_rows(lone, [0, 1], 2) == [(2.0, 200.0, 0.0, 0.0)]


def test_the_sentence_says_the_overlap_was_counted_once():
    hist = history([1] * 8 + [4] * 16)
    ds = [decide(plan(), hist[: i + 1]) for i in range(len(hist))]
    rb = next(d for d in ds if d.action.value == "rollback")
    assert rb.sentence.startswith("rollback at 25 %: canary csp ")
    assert "reports in" in rb.sentence and "ticks, each counted once (4-tick ranges overlap))" in rb.sentence


P95 = "http_p95_ms"


def p95_history(per_tick: list[float], range_ticks: int) -> tuple[Plan, list[Tick]]:
    """A p95 read over `range_ticks` ticks the way a histogram's quantile is: a spike one tick long
    (a fifth of the requests slow, more than the 5 %) shows at full height in every reading that
    holds it. `per_tick`: the canary's p95 factor each tick; the baseline stays at 120 ms."""
    p = Plan(stages=(Stage(weight=25, hold_min=60), Stage(weight=100)), decision=DecisionRules(tick_interval_s=60))
    gates = {n: g.model_copy(update={"window_s": 60.0 * range_ticks}) if n == P95 else g for n, g in p.gates.items()}
    hist = []
    for i in range(len(per_tick)):
        worst = max(per_tick[max(0, i - range_ticks + 1): i + 1])
        noise = 1 + 0.03 * ((i * 7919) % 11 - 5) / 5  # a deterministic wobble of +-3 %
        hist.append(Tick(i * 60.0, 25, 0, TrackSample({**BASE, P95: 120.0}, 7500),
                         TrackSample({**BASE, P95: 120 * worst * noise, CSP: 1}, 2500)))
    return p.model_copy(update={"gates": gates}), hist


def test_a_one_tick_p95_spike_seen_in_five_readings_does_not_roll_back():
    """x2.2 for one tick, under the limit: at a one-tick range the worst tick is left out; over
    `[5m]` the same spike is five readings, of which only one is pooled (readings five ticks apart)."""
    for r in (1, 3, 5):
        per_tick = [1.0] * 24
        per_tick[10] = 2.2
        p, hist = p95_history(per_tick, r)
        assert "rollback" not in [decide(p, hist[: i + 1]).action.value for i in range(len(hist))], r


def test_a_p95_step_under_overlapping_windows_rolls_back():
    p, hist = p95_history([1.0] * 10 + [1.8] * 20, 5)
    acts = [decide(p, hist[: i + 1]).action.value for i in range(len(hist))]
    assert "rollback" not in acts[:10] and "rollback" in acts


def test_a_p95_reading_over_a_range_weighs_the_requests_of_every_tick_it_covers():
    """A p95 over a five-tick range samples five ticks' requests: its sampling noise is that of a
    one-tick reading with five times the requests (its jitter stays one tick's). On a small canary
    (40 requests a tick) the two readings five ticks apart weigh as two ticks of 200 requests."""
    from dataclasses import replace

    from runofshow.domain.judge import compare, pair_at

    p, hist = p95_history([1.6] * 10, 5)
    hist = [Tick(t.t_s, 5, 0, replace(t.baseline, requests=760), replace(t.canary, requests=40))
            for t in hist]
    gate = p.gates[P95]
    pairs = [pair_at(t, i, P95, gate) for i, t in enumerate(hist)]
    ranged = compare(P95, gate, pairs, 0.25, 2, overlap=5)
    alone = [replace(q, nc=q.nc * 5, nb=q.nb * 5) for q in (pairs[4], pairs[9])]
    one_tick = compare(P95, gate, alone, 0.25, 2)
    assert ranged is not None and one_tick is not None
    assert ranged.z == one_tick.z and ranged.ticks == 10
    fewer = compare(P95, gate, [pairs[4], pairs[9]], 0.25, 2)  # one tick's requests each: weaker
    assert fewer is not None and fewer.z < ranged.z - 0.5
