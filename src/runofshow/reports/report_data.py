"""What the HTML report, the mini RCA and the one-liner read out of a run's events. Pure: events in,
facts out; shared so the three never tell a different story.

    stage_spans(v)      each stage that started: weight, start / end (plan seconds), outcome,
                        ticks, holds, planned length, gates passing at its end
    hold_intervals(v)   each hold: start, end (hold_ended, else the hold's planned end, the
                        rollback or the run's end, whichever came first), stage, reasons
    gate_series(v, g)   a gate's canary and baseline values per tick with the verdicts
    weight_steps(v)     the traffic weight as the router read it back, over plan time
    rollback(v)         the rollback: when, why (`summary`: "http_5xx_pct canary-only breach"),
                        how fast it was seen and how fast traffic was back at 0 %
    margins(v)          per gate, the canary's worst value and how close it came to the threshold
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from runofshow.app.run import event_types as et
from runofshow.domain.rules import Direction, Gate
from runofshow.domain.timeline import t_label
from runofshow.reports.evidence_render import RunView, value_text

NOT_PASS = ("NODATA", "SHARED", "TREND", "SUSPECT", "FAIL")


def label(t_s: float | None) -> str:
    """T0, T+36, T-30, T+25.5h of a plan second."""
    return t_label(timedelta(minutes=round((t_s or 0.0) / 60)))


def minutes(t_s: float | None) -> float:
    return 0.0 if t_s is None else float(t_s) / 60


def t_of(e: et.Event | None) -> float | None:
    return None if e is None else e.t_s


def finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def last_t_s(v: RunView) -> float:
    times = [t for t in (t_of(e) for e in v.events) if t is not None]
    return max(times, default=0.0)


@dataclass(frozen=True)
class StageSpan:
    stage: int  # 0-based
    weight: float
    start_s: float
    end_s: float
    outcome: str  # complete, rolled back, halted, running
    ticks: int
    holds: int
    planned_s: float
    passing: int | None
    gates: int

    @property
    def n(self) -> int:
        return self.stage + 1

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Interval:
    start_s: float
    end_s: float
    stage: int | None = None
    n: int = 1
    reasons: tuple[str, ...] = ()


def rollback_event(v: RunView) -> et.RollbackStarted | None:
    found = v.of_kind(et.RollbackStarted)
    return found[0] if found else None


def ended_event(v: RunView) -> et.RunEnded | None:
    found = v.of_kind(et.RunEnded)
    return found[-1] if found else None


def stage_spans(v: RunView) -> list[StageSpan]:
    rb, ended = rollback_event(v), ended_event(v)
    spans = []
    for stage in v.stages_started():
        start = v.step(et.StepStarted, "stage", stage)
        done = v.step(et.StepCompleted, "stage", stage)
        ticks = v.decisions("stage", stage)
        start_s = t_of(start) or 0.0
        holds = [e for e in v.of_kind(et.HoldStarted) if e.stage == stage]
        if done is not None:
            end_s, outcome = t_of(done) or start_s, "complete"
        elif rb is not None and rb.stage == stage:
            end_s, outcome = t_of(rb) or start_s, "rolled back"
        elif ended is not None:
            end_s, outcome = t_of(ended) or start_s, (ended.status or "ended").replace("_", " ")
        else:
            end_s, outcome = max([start_s, *(t_of(e) or start_s for e in ticks)]), "running"
        passing = done.details.get("passing") if done is not None else None
        if passing is None and ticks:
            passing = ticks[-1].passing
        planned = v.plan.stages[stage].hold_min * 60 if stage < len(v.plan.stages) else 0.0
        spans.append(StageSpan(stage, v.stage_weight(stage), start_s, end_s, outcome, len(ticks), len(holds),
                               planned, None if passing is None else int(passing), len(v.plan.gates)))
    return spans


def hold_intervals(v: RunView) -> list[Interval]:
    ends = {(e.stage, e.n): t_of(e) for e in v.of_kind(et.HoldEnded)}
    stops = [e.t_s for e in v.events
             if isinstance(e, et.RollbackStarted | et.RunEnded | et.Paused) and e.t_s is not None]
    stage_ends = {s.stage: s.end_s for s in stage_spans(v)}
    out = []
    for e in v.of_kind(et.HoldStarted):
        start = t_of(e) or 0.0
        end = ends.get((e.stage, e.n))
        if end is None:
            candidates = [e.until_t_s or start, *(t for t in stops if t >= start)]
            if e.stage in stage_ends:
                candidates.append(stage_ends[e.stage])
            end = min(candidates)
        out.append(Interval(start, max(end, start), e.stage, e.n or 1, e.reasons))
    return out


@dataclass
class Series:
    gate: str
    t_min: list[float] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    canary: list[float | None] = field(default_factory=list)
    baseline: list[float | None] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def gate_series(v: RunView, gate: str, phase: str = "stage") -> Series:
    s = Series(gate)
    for e in v.decisions(phase):
        verdict = e.verdict(gate)
        can, base = e.values("canary") or {}, e.values("baseline") or {}
        s.t_min.append(minutes(t_of(e)))
        s.labels.append(e.label or v.label(e))
        s.canary.append(finite_or_none(can.get(gate)))
        s.baseline.append(finite_or_none(base.get(gate)))
        fallback = "NODATA" if can.get(gate) is None else "-"
        s.verdicts.append((verdict.verdict if verdict is not None else "") or fallback)
        s.reasons.append(verdict.reason if verdict is not None else "")
    return s


def weight_steps(v: RunView) -> list[tuple[float, float]]:
    """(t_s, weight read back): 0 before the first change, then every outcome with a read-back."""
    steps: list[tuple[float, float]] = []
    first = v.step(et.StepStarted, "stage", 0)
    steps.append((min(0.0, t_of(first) or 0.0), 0.0))
    for e in v.events:
        match e:
            case et.WeightOutcome(read_back=w) | et.Paused(weight=w) | et.Resumed(weight=w):
                w = finite_or_none(w)
                if w is not None and e.t_s is not None:
                    steps.append((e.t_s, w))
    return steps


def where_stopped(v: RunView) -> str:
    """Where the run is (or ended): "stage 3 (25%) T+52", or "the preflight step (T-10)"."""
    started = v.of_kind(et.StepStarted)
    if not started:
        return "before the first step"
    e = started[-1]
    if e.step_kind == "stage" and e.stage is not None:
        return f"stage {e.stage + 1} ({v.stage_weight(e.stage):g}%) {label(last_t_s(v))}"
    return f"the {(e.title or e.step_kind or 'next').lower()} step ({e.label})"


# --------------------------------------------------------------------------- the rollback


_PHRASE = re.compile(r":\s*([^:(]+?)\s*(\(|$)")


@dataclass(frozen=True)
class Rollback:
    t_s: float
    stage: int | None
    weight: float | None
    trigger: str
    reasons: tuple[str, ...]
    summary: str  # short: "http_5xx_pct canary-only breach"
    metrics: tuple[str, ...]  # the gates that failed at the rollback tick
    values: str  # "canary 6%, baseline 0.2%" of the first failed gate at the rollback tick, or ""
    first_seen_s: float | None  # first tick of the unbroken non-PASS streak that ended in the rollback
    zero_s: float | None  # the router read back 0 %
    attempts: int
    sentence: str | None = None  # the rollback decision in one sentence (None: older ledgers, an IC's)


def _rollback_tick(v: RunView, t_s: float) -> et.DecisionMade | None:
    ticks = [e for e in v.of_kind(et.DecisionMade) if (t_of(e) or 0.0) <= t_s + 1e-6]
    return ticks[-1] if ticks else None


def rollback(v: RunView) -> Rollback | None:
    rb = rollback_event(v)
    if rb is None:
        return None
    t_s = t_of(rb) or 0.0
    reasons = rb.reasons
    tick = _rollback_tick(v, t_s)
    failed: list[tuple[str, str]] = []
    values = ""
    if tick is not None and tick.action == "rollback":
        fails = [x for x in tick.verdicts if x.verdict == "FAIL"]
        failed = [(x.metric, x.reason) for x in fails]
        if fails:
            gate = v.plan.gates.get(fails[0].metric)
            unit = gate.unit if gate else ""
            values = (f"canary {value_text(finite_or_none(fails[0].canary), unit)}, "
                      f"baseline {value_text(finite_or_none(fails[0].baseline), unit)}")
    if failed:
        m = _PHRASE.search(failed[0][1])
        phrase = m.group(1) if m else "breach"
        summary = f"{failed[0][0]} {phrase}" + (f" (+{len(failed) - 1} more)" if len(failed) > 1 else "")
    elif rb.trigger == "alert":
        names = sorted({a.name for a in tick.alerts}) if tick is not None else []
        summary = f"alert {', '.join(names)}" if names else (reasons[0] if reasons else "alert")
    else:
        summary = reasons[0] if reasons else (rb.trigger or "rollback")
    if len(summary) > 90:
        summary = summary[:87].rstrip() + "..."
    first_seen = None
    if failed:
        flagged = {m for m, _ in failed}
        for d in reversed([d for d in v.of_kind(et.DecisionMade) if (t_of(d) or 0.0) <= t_s + 1e-6]):
            if not flagged & {x.metric for x in d.verdicts if x.verdict in NOT_PASS}:
                break
            first_seen = t_of(d)
    elif rb.trigger == "alert":
        received = [t_of(e) for e in v.of_kind(et.AlertReceived) if (t_of(e) or 0.0) <= t_s + 1e-6]
        first_seen = received[-1] if received else t_s
    zero, attempts = None, 0
    for o in v.of_kind(et.WeightOutcome):
        if (t_of(o) or 0.0) >= t_s - 1e-6 and finite_or_none(o.weight) == 0.0:
            attempts += o.attempts or 1
            if o.ok:
                zero = t_of(o)
                break
    sentence = tick.sentence if tick is not None and tick.action == "rollback" else None
    return Rollback(t_s, rb.stage, finite_or_none(rb.weight), rb.trigger, reasons, summary,
                    tuple(m for m, _ in failed), values, first_seen, zero, attempts, sentence)


# --------------------------------------------------------------------------- margins


@dataclass(frozen=True)
class Margin:
    gate: str
    unit: str
    threshold: float
    worst: float  # the canary's worst value (stages and first night)
    worst_label: str
    used: float  # worst as a share of the threshold (1.0 = at the threshold)
    baseline_worst: float | None


def used(gate: Gate, value: float) -> float:
    """`value` as a share of the gate's threshold: 1.0 is at the threshold, more is worse."""
    if gate.direction is Direction.LOWER_IS_BETTER:
        return value / gate.threshold if gate.threshold else math.inf
    return gate.threshold / value if value else math.inf


def margins(v: RunView) -> list[Margin]:
    """Per gate with data, the canary's worst value; sorted tightest first."""
    out = []
    for name, gate in v.plan.gates.items():
        worst: tuple[float, float, str] | None = None
        base_worst: float | None = None
        for phase in ("stage", "first_night"):
            s = gate_series(v, name, phase)
            for value, base, tick in zip(s.canary, s.baseline, s.labels, strict=True):
                if value is not None and (worst is None or gate.badness(value) > gate.badness(worst[0])):
                    worst = (value, used(gate, value), tick)
                if base is not None and (base_worst is None or gate.badness(base) > gate.badness(base_worst)):
                    base_worst = base
        if worst is not None:
            out.append(Margin(name, gate.unit, gate.threshold, worst[0], worst[2], worst[1], base_worst))
    return sorted(out, key=lambda m: -m.used)


def verdict_counts(v: RunView) -> dict[str, dict[str, int]]:
    """{gate: {verdict: ticks}} over every decision, PASS left out."""
    counts: dict[str, dict[str, int]] = {}
    for e in v.of_kind(et.DecisionMade):
        for x in e.verdicts:
            if x.verdict in NOT_PASS:
                per = counts.setdefault(x.metric, {})
                per[x.verdict] = per.get(x.verdict, 0) + 1
    return counts


def no_data_ticks(v: RunView) -> list[et.DecisionMade]:
    """Decisions where a track had no sample at all, or a gate had no value (NODATA)."""
    out = []
    for e in v.of_kind(et.DecisionMade):
        at_full = (finite_or_none(e.weight) or 0.0) >= 100  # no baseline traffic left
        missing = e.canary is None or e.source_error or (e.baseline is None and not at_full)
        if missing or any(x.verdict == "NODATA" for x in e.verdicts):
            out.append(e)
    return out


__all__ = [
    "Interval", "Margin", "Rollback", "Series", "StageSpan", "ended_event", "gate_series", "hold_intervals",
    "label", "last_t_s", "margins", "minutes", "no_data_ticks", "rollback", "rollback_event", "stage_spans",
    "t_of", "used", "verdict_counts", "weight_steps", "where_stopped",
]
