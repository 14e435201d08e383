"""Missing canary data: a short gap is judged on the pooled window; a long one holds.

NoData is never a pass, and it never completes a stage. But a tick or two without canary data (a
scrape that failed, a counter reset, a tick with almost no requests) does not erase what the
ticks before it showed: the comparative judge pools its evidence over `judge_window_ticks`
anyway. So while the window still holds fresh canary data for a gate, that gate is judged on it:

* the pooled evidence leans worse and the canary was last seen over its threshold -> hold
  (the same rule as a tick with data: SUSPECT, confirming);
* otherwise the gate does not hold the run, but the stage is not completed on this tick.

Once the window holds no canary data at all for a gate (the gap is `judge_window_ticks` long, or
the canary was never seen), the gate holds, and `no_data_*_rollback_after_ticks` roll back.
Pure: everything is read from `history`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from runofshow.domain.gates import clean_value, fmt
from runofshow.domain.judge import Evidence, min_effect
from runofshow.domain.pooled import pooled_evidence, window_pairs
from runofshow.domain.rules import EnginePlan, Gate
from runofshow.domain.tick import MetricVerdict, Tick, Verdict

SHORT_GAP = "short gap"
"""Marks the reason of a NODATA verdict whose gap is judged on the pooled window (no hold)."""


def canary_gap(plan: EnginePlan, history: Sequence[Tick], metric: str | None) -> int:
    """Ticks in a row, ending now, without canary data for `metric` (None: for every gate)."""
    run = 0
    for t in reversed(history):
        if metric is None:
            present = any(clean_value(g, t.canary, n) is not None for n, g in plan.gates.items())
        else:
            present = clean_value(plan.gates[metric], t.canary, metric) is not None
        if present:
            break
        run += 1
    return run


def fresh(plan: EnginePlan, history: Sequence[Tick], gap: int) -> bool:
    """True when the judge window still holds canary data despite a gap of `gap` ticks: the gap is
    shorter than the window, and the canary was seen at all before it."""
    return 0 < gap < min(plan.decision.judge_window_ticks, len(history))


def is_short_gap(v: MetricVerdict) -> bool:
    """A NODATA verdict judged on the pooled window: it neither holds nor completes the stage."""
    return v.verdict is Verdict.NODATA and SHORT_GAP in v.reason


def gap_verdict(
    plan: EnginePlan,
    history: Sequence[Tick],
    name: str,
    gate: Gate,
    b: float | None,
    *,
    warmup: int,
    lean_z: float,
) -> tuple[MetricVerdict, Evidence | None]:
    """The verdict of a gate without canary data this tick. `lean_z`: how far the pooled window
    must lean worse to hold when the canary was last seen over its threshold (SUSPECT_WINDOW_Z)."""
    rules = plan.decision
    gap = canary_gap(plan, history, name)
    if not fresh(plan, history, gap):
        return MetricVerdict(name, Verdict.NODATA, None, b, f"{name}: no canary data"), None
    pairs = window_pairs(plan, history, name, gate, warmup=warmup)
    ev: Evidence | None = None
    if pairs and pairs[-1].index >= len(history) - rules.judge_window_ticks:
        ev = pooled_evidence(plan, history, name, gate, pairs)
        # the current tick is missing: the pooled window speaks, no tick of it is "this tick"
        ev = replace(ev, tick_z=0.0) if ev is not None else None
    last = _last_seen(history, name, gate)
    tick_s = f"{gap} tick{'s' if gap > 1 else ''}"
    if (ev is not None and last is not None and gate.breaches(last) and ev.hold_z >= lean_z
            and ev.effect >= min_effect(gate, rules.min_relative_effect)):
        why = (
            f"{name}: no canary data for {tick_s}; last seen {fmt(gate, last)} over "
            f"{fmt(gate, gate.threshold)} and the last {ev.ticks} ticks lean worse than the baseline: "
            "confirming: holding"
        )
        return MetricVerdict(name, Verdict.SUSPECT, last, b, why, ev.p_value, ev.effect), ev
    seen = f"last seen {fmt(gate, last)}" if last is not None else "seen before"
    judged = f"the last {ev.ticks} ticks with data pass" if ev is not None else "judged before the gap"
    why = (
        f"{name}: no canary data for {tick_s} ({SHORT_GAP}, hold at {rules.judge_window_ticks}; {seen}, "
        f"{judged}): stage not completed on this tick"
    )
    p_value = ev.p_value if ev is not None else None
    effect = ev.effect if ev is not None else None
    return MetricVerdict(name, Verdict.NODATA, None, b, why, p_value, effect), ev


def _last_seen(history: Sequence[Tick], name: str, gate: Gate) -> float | None:
    for t in reversed(history):
        v = clean_value(gate, t.canary, name)
        if v is not None:
            return v
    return None
