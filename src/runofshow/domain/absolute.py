"""No baseline to compare: the seed's matrix, and the helpers that tell whether there is one.

At 100 % on the canary (the last stage, the first night) or with the baseline's data missing, the
canary is judged against its thresholds alone: over a threshold for `absolute_confirm_ticks` ticks
in a row -> roll back (rates and counts once clearly over the threshold itself); hold before.
Rising toward a threshold -> hold. A baseline at `shared_level` of its threshold makes a breach
shared (an incident), not the canary's.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist

from runofshow.domain.counts import binomial_tail_z, poisson_tail_z
from runofshow.domain.gates import clean_value, fmt, threshold_verdict, valid_denominator, valid_requests
from runofshow.domain.levels import Scale, scale_of
from runofshow.domain.overlap import counted_ticks
from runofshow.domain.prior import FULL_WEIGHT
from runofshow.domain.rules import Direction, EnginePlan, Gate, GateKind
from runofshow.domain.tick import MetricVerdict, Tick, Verdict
from runofshow.domain.trends import projected_crossing, rising

STALE_BASELINE_TICKS = 3


def recent_canary(
    history: Sequence[Tick], name: str, gate: Gate, limit: int
) -> tuple[list[float], list[float]]:
    ts: list[float] = []
    ys: list[float] = []
    for t in reversed(history):
        v = clean_value(gate, t.canary, name)
        if v is not None:
            ts.append(t.t_s)
            ys.append(gate.badness(v))
            if len(ts) >= limit:
                break
    ts.reverse()
    ys.reverse()
    return ts, ys


def baseline_now(
    history: Sequence[Tick], name: str, gate: Gate, end: int | None = None
) -> tuple[float | None, bool]:
    """The baseline value at `history[end]` (default: now), or the last one within
    STALE_BASELINE_TICKS before it (stale=True). None at 100 % weight: no baseline traffic."""
    end = len(history) - 1 if end is None else end
    for k in range(STALE_BASELINE_TICKS + 1):
        if end - k < 0:
            break
        t = history[end - k]
        if t.weight >= FULL_WEIGHT:
            break
        b = clean_value(gate, t.baseline, name)
        if b is not None:
            return b, k > 0
    return None, False


def shared_breach(plan: EnginePlan, gate: Gate, b: float | None) -> bool:
    """The baseline is at `shared_level` of the threshold too: a breach now is not the canary's."""
    return b is not None and gate.badness(b) >= plan.decision.shared_level * gate.badness(gate.threshold)


def no_baseline(tick: Tick, name: str, gate: Gate) -> str | None:
    """Why this tick has no baseline to compare the canary with on `name`; None when it has one."""
    if tick.weight >= FULL_WEIGHT:
        return f"{tick.weight:g} % on canary"
    if clean_value(gate, tick.baseline, name) is None:
        return "baseline no data"
    if scale_of(gate) is Scale.COUNTS and valid_requests(tick.baseline) is None:
        return "baseline requests unknown"
    return None


def absolute_run(
    plan: EnginePlan, history: Sequence[Tick], name: str, gate: Gate
) -> list[tuple[Tick, float]]:
    """The latest ticks in a row where the canary was over `name`'s threshold with no baseline to
    compare and no recent baseline over it too (that is a shared incident, not the canary), newest
    first. Ticks without canary data for `name` are skipped (NoData has its own rule); at most
    `max(absolute_confirm_ticks, judge_window_ticks)` ticks, which are pooled."""
    rules = plan.decision
    limit = max(rules.absolute_confirm_ticks, rules.judge_window_ticks)
    run: list[tuple[Tick, float]] = []
    for i in range(len(history) - 1, -1, -1):
        t = history[i]
        c = clean_value(gate, t.canary, name)
        if c is None:
            continue
        if not gate.breaches(c) or no_baseline(t, name, gate) is None:
            break
        if shared_breach(plan, gate, baseline_now(history, name, gate, i)[0]):
            break
        run.append((t, c))
        if len(run) >= limit:
            break
    return run


def absolute_z(plan: EnginePlan, name: str, gate: Gate, run: Sequence[tuple[Tick, float]]
               ) -> tuple[float, str] | None:
    """How clear the canary's breach over `run` is against the threshold itself, for rates
    (binomial: errors in what the rate divides by, its own denominator or the requests, against the
    threshold rate) and counts (Poisson against the threshold per tick): (z, what was counted). Each
    event is counted once: a reading's share of it where ranges overlap (overlap.counted_ticks).
    None for levels (latency, gauges), whose ticks over the threshold are the evidence."""
    lower = gate.direction is Direction.LOWER_IS_BETTER
    once = counted_ticks(plan, gate)
    if gate.kind is GateKind.RATE:
        k = n = 0.0
        for t, c in run:
            nc = valid_denominator(t.canary, name)
            if nc is not None:
                k, n = k + c / 100 * nc / once, n + nc / once
        p = gate.threshold / 100
        z = binomial_tail_z(k, n, p) if lower else binomial_tail_z(n - k, n, 1 - p)
        own = any(t.canary is not None and name in t.canary.denominators for t, _ in run)
        return z, f"{k:.0f} in {n:.0f} {'(its own denominator)' if own else 'requests'}"
    if gate.kind is GateKind.COUNT and lower:
        k = sum(c for _, c in run) / once
        return poisson_tail_z(k, gate.threshold * len(run) / once), f"{k:.0f} in {len(run)} ticks"
    return None


def absolute_gate(
    plan: EnginePlan, history: Sequence[Tick], name: str, gate: Gate, c: float, b: float | None, missing: str
) -> MetricVerdict:
    """The seed's matrix when there is nothing to compare with (100 % on the canary, the baseline
    exporter down): a canary over its threshold for `absolute_confirm_ticks` ticks in a row rolls
    back, rates and counts only once that is clear against the threshold itself. Hold before.

    Below 100 % the baseline is only missing, and what it would have shown may be a shared
    incident (a database saturation that starts as the baseline's exporter drops out): the
    confirmation then lasts as long as a canary gap is waited out, `no_data_rollback_after_ticks`."""
    rules = plan.decision
    need = rules.absolute_confirm_ticks
    if history[-1].weight < FULL_WEIGHT:
        need = max(need, rules.no_data_rollback_after_ticks)
    run = absolute_run(plan, history, name, gate)
    side = ">" if gate.direction is Direction.LOWER_IS_BETTER else "<"
    head = f"{name} canary {fmt(gate, c)} {side} {fmt(gate, gate.threshold)}"
    ctx = f"with no baseline to compare ({missing})"
    if len(run) < need:
        why = f"{head} {ctx}: {len(run)} of {need} ticks, confirming: holding"
        return MetricVerdict(name, Verdict.SUSPECT, c, b, why)
    clear = absolute_z(plan, name, gate, run)
    p_value = None if clear is None else 1.0 - NormalDist().cdf(clear[0])
    if clear is not None and clear[0] < rules.rollback_z:
        why = (
            f"{head} for {len(run)} ticks {ctx}, not yet clear against the threshold "
            f"({clear[1]}, p={p_value:.1g}): holding"
        )
        return MetricVerdict(name, Verdict.SUSPECT, c, b, why, p_value)
    why = f"{head} for {len(run)} ticks {ctx}: rollback"
    return MetricVerdict(name, Verdict.FAIL, c, b, why, p_value)


def absolute_trend(
    plan: EnginePlan, history: Sequence[Tick], name: str, gate: Gate, c: float, missing: str
) -> str | None:
    """With no baseline to compare, the seed's trend rule: the canary alone rising tick after tick
    and projected over its threshold within `hold_min` -> hold. Per-request readings need
    `min_canary_requests` now: on a handful of requests a rise is noise."""
    rules = plan.decision
    if gate.kind in (GateKind.LATENCY, GateKind.RATE, GateKind.COUNT):
        n = valid_requests(history[-1].canary)
        if n is None or n < rules.min_canary_requests:
            return None
    ts, ys = recent_canary(history, name, gate, rules.trend_window_ticks)
    if not rising(ys, 3):
        return None
    cross = projected_crossing(ts, ys, gate.badness(gate.threshold), rules.hold_min * 60)
    if cross is None:
        return None
    return (
        f"{name} canary {fmt(gate, c)} rising with no baseline to compare ({missing}), "
        f"projected over {fmt(gate, gate.threshold)} in {cross / 60:.0f} min: holding"
    )


def threshold_gate(plan: EnginePlan, history: Sequence[Tick], name: str, gate: Gate) -> MetricVerdict:
    """The seed's plain matrix for one gate (`judge: threshold`): canary over its threshold -> FAIL,
    rising toward it (projected over within `hold_min`) -> TREND, else the threshold verdict."""
    tick = history[-1]
    c = clean_value(gate, tick.canary, name)
    b = clean_value(gate, tick.baseline, name)
    v = threshold_verdict(name, gate, c, b)
    if v.verdict is not Verdict.PASS or c is None:
        return v
    ts, ys = recent_canary(history, name, gate, plan.decision.trend_window_ticks)
    horizon = plan.decision.hold_min * 60
    if rising(ys, 3) and projected_crossing(ts, ys, gate.badness(gate.threshold), horizon) is not None:
        return MetricVerdict(
            name, Verdict.TREND, c, b,
            f"{name} canary {fmt(gate, c)} rising toward {fmt(gate, gate.threshold)}: holding",
        )
    return v
