"""One sentence per decision, in the users' words and with numbers.

It names the metric that decided, the effect with its interval, the counts, and the rule:

    hold at 25 %: canary p95 +18 % vs baseline (99 % CI +12..+24 %, n=57 requests over 4 ticks),
    limit +25 %, confirming
    rollback at 5 %: canary 5xx x3.2 vs baseline (99 % CI x2.1..x4.8, 41 errors in 1 200 requests
    over 5 ticks), p=2e-05; rule: clearly worse (z 4.1 >= 3.5) by at least +25 %
    proceed at 50 %: all six gates within limits; shared 5xx rise on both tracks is not the canary

The reasons (one per gate) stay the detail; the sentence is what a person reads first. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist

from runofshow.domain.gaps import is_short_gap
from runofshow.domain.gates import fmt
from runofshow.domain.judge import min_effect, rollback_bar
from runofshow.domain.levels import Scale, scale_of
from runofshow.domain.rules import EnginePlan, Gate, GateKind
from runofshow.domain.tick import Action, Decision, MetricVerdict, Tick, Verdict

NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _count(n: int) -> str:
    return NUMBERS[n] if 0 <= n < len(NUMBERS) else str(n)


def _label(gate: Gate, metric: str) -> str:
    return gate.short or metric


def _relative(gate: Gate, x: float) -> str:
    if scale_of(gate) is Scale.POINTS:
        return f"{x:+.1f} points"
    if x >= 1.0:
        return f"x{x + 1:.1f}" if x < 99 else "more than x100"
    return f"{100 * x:+.0f} %"


def _interval(gate: Gate, v: MetricVerdict, confidence: float) -> str:
    if v.interval is None:
        return ""
    lo, hi = v.interval
    span = f"{_relative(gate, lo)}..{_relative(gate, hi)}"
    if scale_of(gate) is Scale.POINTS:
        span = f"{lo:+.1f}..{hi:+.1f} points"
    return f"{100 * confidence:.0f} % CI {span}"


def _counts(gate: Gate, v: MetricVerdict, tick_s: float) -> str:
    parts: list[str] = []
    what = {GateKind.RATE: "events", GateKind.COUNT: "reports"}.get(gate.kind)
    if what and v.events is not None and v.n:
        parts.append(f"{v.events:.0f} {what} in {v.n:.0f} requests")
    elif v.n and gate.kind is GateKind.LATENCY:
        parts.append(f"n={v.n:.0f} requests")
    if v.ticks:
        parts.append(f"over {v.ticks} ticks")
    if parts and v.events is not None and gate.window_s is not None and gate.window_s > tick_s + 1e-9:
        parts[-1] += f", each counted once ({gate.window_s / tick_s:g}-tick ranges overlap)"
    return " ".join(parts)


def _evidence(plan: EnginePlan, metric: str, v: MetricVerdict) -> str:
    """`canary 5xx x3.2 vs baseline (99 % CI x2.1..x4.8, 41 events in 1200 requests over 5 ticks)`."""
    gate = plan.gates[metric]
    label = _label(gate, metric)
    if v.effect is None:
        return f"canary {label} {fmt(gate, v.canary)} vs baseline {fmt(gate, v.baseline)}"
    rules = plan.decision
    parts = (_interval(gate, v, rules.confidence), _counts(gate, v, rules.tick_interval_s))
    inside = ", ".join(x for x in parts if x)
    beyond = f" beyond the {v.allowance} a shared incident allows" if v.allowance else ""
    return (
        f"canary {label} {_relative(gate, v.effect)} vs baseline{beyond}"
        + (f" ({inside})" if inside else "")
    )


def _limit(plan: EnginePlan, metric: str, v: MetricVerdict) -> str:
    gate = plan.gates[metric]
    side = "over" if v.canary is not None and gate.breaches(v.canary) else "under"
    return f"{fmt(gate, v.canary)} {side} the {fmt(gate, gate.threshold)} limit"


def _rule(plan: EnginePlan, metric: str) -> str:
    """The rule that rolled back, with the gate's own bar and smallest effect (judge.py)."""
    gate = plan.gates[metric]
    rules = plan.decision
    least = min_effect(gate, rules.min_relative_effect)
    at_least = f"{least:+.1f} points" if scale_of(gate) is Scale.POINTS else f"+{100 * least:.0f} %"
    return f"rule: clearly worse (z >= {rollback_bar(gate, rules.rollback_z):g}) by at least {at_least}"


def _failed(plan: EnginePlan, v: MetricVerdict) -> str:
    p = f", p={v.p_value:.1g}" if v.p_value is not None else ""
    if v.effect is None:  # no baseline to compare: the thresholds decided
        gate = plan.gates[v.metric]
        return f"canary {_label(gate, v.metric)} {_limit(plan, v.metric, v)} with no baseline to compare{p}"
    return f"{_evidence(plan, v.metric, v)}{p}; {_limit(plan, v.metric, v)}; {_rule(plan, v.metric)}"


def _held(plan: EnginePlan, v: MetricVerdict, reasons: Sequence[str]) -> str:
    gate = plan.gates[v.metric]
    label = _label(gate, v.metric)
    if v.verdict is Verdict.NODATA:
        why = next((r for r in reasons if r.startswith(f"{v.metric}: ")), v.reason)
        tail = why.split(": ", 1)[-1].removesuffix(": holding")
        return f"{label}: {tail}; NoData is not a pass"
    if v.verdict is Verdict.TREND:
        body = v.reason.split(" canary ", 1)[-1].removesuffix(": holding")
        return f"canary {label} {body}"
    if v.effect is None:
        return f"canary {label} {fmt(gate, v.canary)} over the {fmt(gate, gate.threshold)} limit, " \
            "no baseline to compare, confirming"
    bar = rollback_bar(gate, plan.decision.rollback_z)
    z = f", z {v.z:.1f} of {bar:g} needed" if v.z is not None and v.z > 0 else ""
    return f"{_evidence(plan, v.metric, v)}{z}; {_limit(plan, v.metric, v)}; confirming"


def _proceed(plan: EnginePlan, d: Decision, tick: Tick) -> str:
    n = len(d.verdicts)
    parts = [f"all {_count(n)} gates within limits" if n else "no gates"]
    shared = [v for v in d.verdicts if v.verdict is Verdict.SHARED]
    spikes = [
        v for v in d.verdicts
        if v.verdict is Verdict.PASS and v.canary is not None and plan.gates[v.metric].breaches(v.canary)
    ]
    gaps = [v for v in d.verdicts if is_short_gap(v)]
    if shared or spikes or gaps:
        inside = n - len(shared) - len(spikes) - len(gaps)
        parts = [f"{_count(inside)} of {_count(n)} gates within limits"]
    if gaps:
        names = ", ".join(_label(plan.gates[v.metric], v.metric) for v in gaps)
        parts.append(
            f"no canary data this tick for {names if len(gaps) < n else 'any gate'}: a short gap, "
            "judged on the ticks before it"
        )
    for v in shared:
        gate = plan.gates[v.metric]
        parts.append(
            f"shared {_label(gate, v.metric)} rise on both tracks (canary {fmt(gate, v.canary)}, "
            f"baseline {fmt(gate, v.baseline)}) is not the canary"
        )
    for v in spikes:
        gate = plan.gates[v.metric]
        parts.append(
            f"canary {_label(gate, v.metric)} {fmt(gate, v.canary)} over {fmt(gate, gate.threshold)} "
            "is within noise of the baseline or a single tick so far, watched"
        )
    if d.stage_complete:
        parts.append(f"stage {tick.stage + 1} ({tick.weight:g} %) complete")
    elif shared or spikes or gaps:
        parts.append("stage not advanced while it lasts")
    return "; ".join(parts)


def _strongest(vs: Sequence[MetricVerdict]) -> MetricVerdict:
    return max(vs, key=lambda v: v.z if v.z is not None else NormalDist().inv_cdf(1 - (v.p_value or 0.5)))


def explain(plan: EnginePlan, tick: Tick, d: Decision) -> str:
    """The decision `d` at `tick` in one sentence."""
    head = f"{d.action.value} at {tick.weight:g} %"
    if d.action is Action.ROLLBACK:
        failed = [v for v in d.verdicts if v.verdict is Verdict.FAIL]
        if failed:
            return f"{head}: {_failed(plan, _strongest(failed))}"
        return f"{head}: {d.reasons[0]}"
    if d.action is Action.HOLD:
        holding = [v for v in d.verdicts if v.verdict in (Verdict.NODATA, Verdict.TREND, Verdict.SUSPECT)]
        if not holding or d.reasons[0].startswith("no canary data"):
            return f"{head}: {d.reasons[0].removesuffix(': holding')}; NoData is not a pass"
        return f"{head}: {_held(plan, holding[0], d.reasons)}"
    return f"{head}: {_proceed(plan, d, tick)}"
