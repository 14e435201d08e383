"""The decision: `decide(plan, history, now_s)` -> Decision. The one entry point of the engine.

The run-of-show's matrix, with a judge that compares the canary with the baseline:

1. An auto-rollback alert (labels matching `plan.alert_source.match_labels`) -> roll back at once.
2. A canary-only regression that is statistically clear (judge.py: canary against the baseline
   of the same tick, with request counts, pooled over a sliding window, robust to single-tick
   spikes, effect above the minimum) -> roll back, under the threshold or over it. Never on one
   tick alone, never in the first `warmup_ticks` for latency.
3. No baseline to compare (100 % on the canary: the last stage and the first night; or the
   baseline's data missing): the seed's matrix. The canary over a threshold for
   `absolute_confirm_ticks` ticks in a row -> roll back (rates and counts only once clearly over
   the threshold itself); hold while confirming. With the baseline only missing below 100 %, the
   confirmation lasts `no_data_rollback_after_ticks`: the missing baseline may hide a shared
   incident. Rising toward a threshold -> hold. A baseline reported at 100 % is never compared.
4. No canary data for `no_data_rollback_after_ticks` ticks in a row (or one gate without data for
   `no_data_metric_rollback_after_ticks`) -> roll back. Before that, a short gap (the judge window
   still holds canary data) is judged on the pooled window (gaps.py): hold if it leans worse over
   the threshold, else proceed without completing the stage; with no fresh data at all, hold.
   NoData never completes a stage.
5. A canary-only breach of a threshold while the evidence is building but not yet clear, or a
   canary-only trend projected to cross its threshold within `hold_min` -> hold and re-evaluate.
   An isolated single-tick canary spike over a threshold is reported and watched, not held for.
6. A breach the baseline shares (market-open surge, shared incident, drift) is not the canary's:
   proceed, say so, and do not advance the stage while it lasts.
7. Otherwise proceed; `stage_complete` once the stage's hold time has passed with every gate passing.

`judge: threshold` is the seed's plain matrix alone (alert -> rollback, canary over a threshold ->
rollback, rising toward it -> hold, else proceed): the comparison in the benchmark.

Pure: the decision at a tick depends only on `history` (ticks up to and including it, each with
the alerts visible then) and the plan; no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from statistics import NormalDist

from runofshow.domain.absolute import (
    absolute_gate,
    absolute_trend,
    baseline_now,
    no_baseline,
    shared_breach,
    threshold_gate,
)
from runofshow.domain.gaps import canary_gap, gap_verdict, is_short_gap
from runofshow.domain.gates import clean_value, fmt
from runofshow.domain.judge import (
    SPREAD_MIN_Z,
    Evidence,
    Pair,
    min_effect,
    pair_at,
    recent_pairs,
    rollback_bar,
)
from runofshow.domain.levels import Scale
from runofshow.domain.overlap import overlap_ticks
from runofshow.domain.pooled import pooled_evidence, window_pairs
from runofshow.domain.prior import FULL_WEIGHT
from runofshow.domain.rules import EnginePlan, Gate, GateKind
from runofshow.domain.sentence import explain
from runofshow.domain.tick import Action, Decision, MetricVerdict, Tick, Verdict
from runofshow.domain.trends import mann_kendall_z, theil_sen

ENGINE_VERSION = "1.0.0"
SUSPECT_WINDOW_Z = 1.5  # a canary-only breach clear this tick (at `confidence`) holds when the rest of
# the window leans worse too; alone it is an isolated spike
TREND_MIN_Z = 2.0  # a trend holds only when the canary already leans worse than the baseline
TREND_CONFIDENCE = 0.95  # ...and the gap to the baseline rises this surely (Mann-Kendall)
HOLDING = (Verdict.NODATA, Verdict.TREND, Verdict.SUSPECT)


def engine_name(judge: str) -> str:
    return f"runofshow-decide/{ENGINE_VERSION} judge={judge}"


def decide(plan: EnginePlan, history: Sequence[Tick], now_s: float | None = None) -> Decision:
    """Decide for the last tick of `history` (the current one), using nothing after it; with the
    decision in one sentence (`Decision.sentence`)."""
    d = _decide(plan, history, now_s)
    return replace(d, sentence=explain(plan, history[-1], d))


def _decide(plan: EnginePlan, history: Sequence[Tick], now_s: float | None) -> Decision:
    if not history:
        raise ValueError("decide needs at least the current tick")
    tick = history[-1]
    rules = plan.decision
    engine = engine_name(rules.judge)
    fired = [a for a in tick.alerts if a.matches(plan.alert_source.match_labels)]
    if fired:
        reasons = tuple(
            f"alert {a.name} ({_labels(a.labels)}) fired at t={a.fired_t_s:g} s: immediate rollback"
            for a in fired
        )
        return Decision(tick.t_s, Action.ROLLBACK, reasons, engine=engine)
    context = _context_alerts(history, plan)
    if rules.judge == "threshold":
        verdicts = [threshold_gate(plan, history, name, gate) for name, gate in plan.gates.items()]
    else:
        verdicts = [_comparative_gate(plan, history, name, gate) for name, gate in plan.gates.items()]
    return _conclude(plan, history, tuple(verdicts), context, engine, now_s)


# --------------------------------------------------------------------------- conclusion


def _conclude(
    plan: EnginePlan,
    history: Sequence[Tick],
    verdicts: tuple[MetricVerdict, ...],
    context: list[str],
    engine: str,
    now_s: float | None,
) -> Decision:
    tick = history[-1]
    rules = plan.decision
    failed = [v.reason for v in verdicts if v.verdict is Verdict.FAIL]
    if failed:
        return Decision(tick.t_s, Action.ROLLBACK, tuple(failed), verdicts, engine=engine)
    spread = _spread(plan, verdicts)
    if spread is not None:
        return Decision(tick.t_s, Action.ROLLBACK, (spread,), verdicts, engine=engine)
    gap_all = canary_gap(plan, history, None)
    if gap_all >= rules.no_data_rollback_after_ticks:
        why = f"no canary data for {gap_all} ticks in a row: NoData is not a pass, rolling back"
        return Decision(tick.t_s, Action.ROLLBACK, (why,), verdicts, engine=engine)
    nodata: dict[str, str] = {}
    for v in verdicts:
        if v.verdict is Verdict.NODATA:
            gap = canary_gap(plan, history, v.metric)
            if gap >= rules.no_data_metric_rollback_after_ticks:
                why = f"{v.metric}: no canary data for {gap} ticks in a row: rolling back"
                return Decision(tick.t_s, Action.ROLLBACK, (why,), verdicts, engine=engine)
            nodata[v.metric] = (
                f"{v.metric}: no canary data ({gap} tick{'s' if gap > 1 else ''}; rollback at "
                f"{rules.no_data_metric_rollback_after_ticks}): holding"
            )
    if gap_all and not all(is_short_gap(v) for v in verdicts):
        why = (
            f"no canary data ({gap_all} tick{'s' if gap_all > 1 else ''}; rollback at "
            f"{rules.no_data_rollback_after_ticks}): holding"
        )
        return Decision(tick.t_s, Action.HOLD, (why, *context), verdicts, engine=engine)
    holding = [
        nodata.get(v.metric, v.reason) for v in verdicts if v.verdict in HOLDING and not is_short_gap(v)
    ]
    if holding:
        return Decision(tick.t_s, Action.HOLD, (*holding, *context), verdicts, engine=engine)
    shared = [v.reason for v in verdicts if v.verdict is Verdict.SHARED]
    spikes = [v.reason for v in verdicts if v.canary is not None and plan.gates[v.metric].breaches(v.canary)]
    gaps = [v.reason for v in verdicts if is_short_gap(v)]  # NoData never completes a stage
    complete = not shared and not spikes and not gaps and _stage_done(plan, history, now_s)
    if shared or spikes or gaps:
        reasons = (*dict.fromkeys([*shared, *spikes, *gaps]), *context)
    else:
        summary = f"{len(verdicts)}/{len(verdicts)} gates pass"
        if complete:
            summary += f": stage {tick.stage + 1} ({tick.weight:g} %) complete"
        reasons = (summary, *context)
    return Decision(tick.t_s, Action.PROCEED, reasons, verdicts, complete, engine=engine)


SPREAD_EXTRA_Z = 1.15  # the gates leaning SPREAD_MIN_Z or more together (Stouffer): the bar plus this
"""Measured on generated scenarios (every kind of bench/gen_kinds.py, 500 per seed): on seeds 7, 11,
23, 41, 99, 123, 2.0 and 1.0 (z 4.5 together) -> 1.0 and 0.75 (z 4.25): misses 80 -> 74 of 1465,
false rollbacks 12 -> 13 of 1535; on seeds 5 and 17 (not used to choose): misses 26 -> 24 of 508,
false rollbacks unchanged (4 of 492). Among good runs' largest spread statistic, the sum over every
gate leaning 1 or more separated thin spreads from chance better than over gates leaning 2 or more
(101 against 90 of 136 spreads over the bar that 0.3 % of good runs pass); 0.5 (z 4.0) caught 9
more spreads for 3 more false rollbacks. Since a level's lean keeps every tick (capped; judge.compare)
and the sum is over the gates that together lean furthest (`spread_z`): 0.75 -> 1.15 (z 4.65), six
seeds misses 54 -> 50, false rollbacks 14 -> 14, 42 regressions caught sooner and 8 later; seeds 5,
17, 31 and 57 (not used to choose) misses 35 -> 31, false rollbacks 8 -> 9 (canary spikes on a good
run adding up to a spread); 1.0 (z 4.5) missed 3 fewer and falsely rolled back 1 more."""


def _strongest(leans: Sequence[float]) -> tuple[float, int]:
    """(Stouffer's sum, m) over the m >= 2 largest of `leans` (each SPREAD_MIN_Z or more) that
    together lean furthest; (0.0, 0) with fewer than two."""
    best, m_best, total = 0.0, 0, 0.0
    for m, z in enumerate(sorted(leans, reverse=True), start=1):
        total += z
        if m >= 2 and total / math.sqrt(m) > best:
            best, m_best = total / math.sqrt(m), m
    return best, m_best


def spread_z(leans: Sequence[float]) -> float:
    """The spread rule's statistic: Stouffer's sum over the gates leaning SPREAD_MIN_Z or more (each
    without tolerance) that together lean furthest; 0 with fewer than two. Not over all of them: one
    more gate leaning a little would lower the sum, and a canary worse on one more gate must never
    look better."""
    return _strongest([z for z in leans if z >= SPREAD_MIN_Z])[0]


def _spread(plan: EnginePlan, verdicts: Sequence[MetricVerdict]) -> str | None:
    """A regression spread thinly over two or more gates, none clear on its own: each leans worse
    than the baseline (SPREAD_MIN_Z) and together they are clear (`spread_z` at `rollback_z` +
    SPREAD_EXTRA_Z). In a shared incident each gate already allows the canary its slack
    (judge.SHARED_SLACK)."""
    leaning = sorted((v for v in verdicts if v.lean is not None and v.lean >= SPREAD_MIN_Z),
                     key=lambda v: -(v.lean or 0.0))
    together, m = _strongest([v.lean or 0.0 for v in leaning])
    if together < plan.decision.rollback_z + SPREAD_EXTRA_Z:
        return None
    parts = ", ".join(
        f"{plan.gates[v.metric].short or v.metric} (canary {fmt(plan.gates[v.metric], v.canary)} vs "
        f"{fmt(plan.gates[v.metric], v.baseline)}, z {v.lean or 0.0:.1f})" for v in leaning[:m]
    )
    return (
        f"canary worse on {m} gates at once, none clear alone: {parts}; together z "
        f"{together:.1f} >= {plan.decision.rollback_z + SPREAD_EXTRA_Z:g}: a regression spread over them"
    )


def _stage_done(plan: EnginePlan, history: Sequence[Tick], now_s: float | None) -> bool:
    tick = history[-1]
    if not 0 <= tick.stage < len(plan.stages):
        return False
    first = tick
    for t in reversed(history):
        if t.stage != tick.stage:
            break
        first = t
    now = tick.t_s if now_s is None else now_s
    elapsed = now - first.t_s + plan.decision.tick_interval_s
    return elapsed >= plan.stages[tick.stage].hold_min * 60 - 1e-6


def _labels(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in labels.items())


def _context_alerts(history: Sequence[Tick], plan: EnginePlan) -> list[str]:
    """Alerts that became visible at this tick and are not auto-triggers: context only."""
    tick = history[-1]
    prev_t = history[-2].t_s if len(history) > 1 else -math.inf
    return [
        f"alert {a.name} is context only (not an auto-rollback trigger)"
        for a in tick.alerts
        if a.fired_t_s > prev_t and not a.matches(plan.alert_source.match_labels)
    ]


# --------------------------------------------------------------------------- comparative judge


def warmup_of(plan: EnginePlan, gate: Gate) -> int:
    """The first ticks of the rollout not judged on `gate`: the canary's warm-up (cold caches, new
    connections, first errors of a fresh process), plus the ticks a longer window still shows it."""
    if plan.decision.warmup_ticks == 0:
        return 0
    return plan.decision.warmup_ticks + math.ceil(overlap_ticks(plan, gate) - 1 - 1e-9)


def _effect_text(gate: Gate, ev: Evidence) -> str:
    if ev.scale is Scale.POINTS:
        unit = "points" if gate.unit in ("%", "") else gate.unit
        return f"{ev.effect:+.1f} {unit}"
    if ev.effect >= 99:
        return "more than x100"
    if ev.effect >= 1.0:
        return f"x{ev.effect + 1:.1f}"
    return f"{100 * ev.effect:+.0f} %"


def _comparative_gate(plan: EnginePlan, history: Sequence[Tick], name: str, gate: Gate) -> MetricVerdict:
    """The gate's verdict, with the evidence's numbers (interval, counts, window) attached."""
    v, ev = _verdict(plan, history, name, gate)
    if ev is None or not math.isfinite(ev.se):
        return v
    z = NormalDist().inv_cdf(plan.decision.confidence)
    return replace(v, interval=ev.interval(z), n=ev.n or None, events=ev.events if ev.scale is Scale.COUNTS
                   else None, ticks=ev.ticks, z=ev.z, lean=ev.z0, allowance=ev.allowance)


def _verdict(
    plan: EnginePlan, history: Sequence[Tick], name: str, gate: Gate
) -> tuple[MetricVerdict, Evidence | None]:
    rules = plan.decision
    tick = history[-1]
    idx = len(history) - 1
    c = clean_value(gate, tick.canary, name)
    b, stale = baseline_now(history, name, gate)
    warmup = warmup_of(plan, gate)
    if c is None:
        return gap_verdict(plan, history, name, gate, b, warmup=warmup, lean_z=SUSPECT_WINDOW_Z)
    warm = idx < warmup
    now_pair = pair_at(tick, idx, name, gate)
    ev: Evidence | None = None
    if now_pair is not None and not warm:
        pairs = window_pairs(plan, history, name, gate, warmup=warmup)
        ev = pooled_evidence(plan, history, name, gate, pairs)
    cs, bs = fmt(gate, c), fmt(gate, b)
    limit = fmt(gate, gate.threshold)
    over = gate.breaches(c)
    missing = no_baseline(tick, name, gate) if ev is None else None
    if tick.weight >= FULL_WEIGHT:
        base_txt = f"no baseline ({missing})"
    else:
        base_txt = f"baseline {bs}{' (last seen)' if stale else ''}"
    bar = rollback_bar(gate, rules.rollback_z)
    if ev is not None and ev.z >= bar and ev.effect >= min_effect(gate, rules.min_relative_effect):
        beyond = f" beyond the {ev.allowance} a shared incident allows," if ev.allowance else ""
        stats = f"{_effect_text(gate, ev)}{beyond} over {ev.ticks} ticks, p={ev.p_value:.1g}"
        if over:
            why = f"{name} canary {cs} > {limit} and {base_txt}: canary-only breach ({stats})"
        else:
            why = (
                f"{name} canary {cs} vs {base_txt} ({stats}): "
                f"canary-only regression under the {limit} limit"
            )
        return MetricVerdict(name, Verdict.FAIL, c, b, why, ev.p_value, ev.effect), ev
    p_value = ev.p_value if ev is not None else None
    effect = ev.effect if ev is not None else None
    if warm and (gate.kind is GateKind.LATENCY or now_pair is not None):
        why = f"{name} canary {cs}, {base_txt}: first minutes of the canary (warm-up), not judged yet"
        return MetricVerdict(name, Verdict.PASS, c, b, why), ev
    if over:
        shared = shared_breach(plan, gate, b)
        if ev is None and not shared and missing is not None:
            return absolute_gate(plan, history, name, gate, c, b, missing), ev
        if ev is None and not shared:
            why = f"{name} canary {cs} > {limit}, {base_txt}: cannot compare with the baseline: holding"
            return MetricVerdict(name, Verdict.SUSPECT, c, b, why, p_value, effect), ev
        if ev is not None and ev.hold_z >= SUSPECT_WINDOW_Z:
            why = f"{name} canary {cs} > {limit} and {base_txt}: canary worse, confirming: holding"
            return MetricVerdict(name, Verdict.SUSPECT, c, b, why, p_value, effect), ev
        if ev is not None and ev.tick_z >= NormalDist().inv_cdf(rules.confidence):
            why = (
                f"{name} canary {cs} > {limit} and {base_txt}: a single-tick canary spike so far, "
                "watching (stage not advanced)"
            )
            return MetricVerdict(name, Verdict.PASS, c, b, why, p_value, effect), ev
        if shared:
            why = (
                f"{name} {cs} over {limit} on baseline too ({bs}): shared incident, not the canary; "
                "proceeding without advancing the stage"
            )
            return MetricVerdict(name, Verdict.SHARED, c, b, why, p_value, effect), ev
        n = f" on {tick.canary.requests:.0f} requests" if tick.canary and tick.canary.requests else ""
        why = f"{name} canary {cs} > {limit}{n}, {base_txt}: within noise of the baseline, watching"
        return MetricVerdict(name, Verdict.PASS, c, b, why, p_value, effect), ev
    trend = _canary_trend(plan, history, name, gate, ev)
    if trend is None and missing is not None:
        trend = absolute_trend(plan, history, name, gate, c, missing)
    if trend is not None:
        return MetricVerdict(name, Verdict.TREND, c, b, trend, p_value, effect), ev
    why = f"{name} canary {cs}, {base_txt}: pass"
    return MetricVerdict(name, Verdict.PASS, c, b, why, p_value, effect), ev


def _canary_trend(
    plan: EnginePlan, history: Sequence[Tick], name: str, gate: Gate, ev: Evidence | None
) -> str | None:
    """A hold reason when the canary is pulling away from the baseline and heading over its
    threshold within the hold time. A hold is a decision that needs evidence too:
    - the canary already leans worse than the baseline (TREND_MIN_Z on the pooled comparison);
    - the gap canary - baseline (log ratio, or points) rises, with TREND_CONFIDENCE that it does
      (Mann-Kendall over the trend window): a slope fitted to noise is not a trend;
    - the baseline now plus the gap's Theil-Sen line crosses the threshold within `hold_min`.
    Rates and counts have no per-tick trend worth holding for (a few events a tick are noise): their
    pooled counts decide. Re-evaluated every tick: a hold the next ticks do not confirm ends there."""
    rules = plan.decision
    if ev is None or ev.hold_z < TREND_MIN_Z or ev.scale is Scale.COUNTS:
        return None
    pairs: list[Pair] = recent_pairs(history, name, gate, rules.trend_window_ticks, warmup_of(plan, gate))
    if len(pairs) < 5:
        return None
    ts = [p.t_s for p in pairs]
    log = ev.scale is Scale.LOG
    off = 0.01 * abs(gate.threshold)

    def gap_of(p: Pair) -> float:
        c, b = gate.badness(p.canary), gate.badness(p.baseline)
        return math.log((abs(c) + off) / (abs(b) + off)) if log else c - b

    gaps = [gap_of(p) for p in pairs]
    sure = mann_kendall_z(gaps)
    line = theil_sen(ts, gaps)
    if line is None or line.slope <= 0 or sure < NormalDist().inv_cdf(TREND_CONFIDENCE):
        return None
    b_now = gate.badness(pairs[-1].baseline)
    limit = gate.badness(gate.threshold)
    need = math.log((abs(limit) + off) / (abs(b_now) + off)) if log else limit - b_now
    if line.level >= need:
        return None  # already over: the breach rules decide
    cross = (need - line.level) / line.slope
    if cross > rules.hold_min * 60:
        return None
    per_min = line.slope * 60
    rate = f"{100 * math.expm1(per_min):+.1f} %/min" if log else f"{per_min:+.2g} {gate.unit}/min"
    conf = 100 * NormalDist().cdf(sure)
    return (
        f"{name} canary {fmt(gate, pairs[-1].canary)} pulling away from baseline "
        f"{fmt(gate, pairs[-1].baseline)} ({rate} relative to it over {len(pairs)} ticks, "
        f"{conf:.0f} % sure it rises), projected over {fmt(gate, gate.threshold)} in {cross / 60:.0f} min: "
        "holding"
    )


