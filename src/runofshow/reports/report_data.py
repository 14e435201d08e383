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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from runofshow.domain.plan import Direction, Gate
from runofshow.domain.timeline import t_label
from runofshow.ports import LedgerEvent
from runofshow.reports.evidence_render import RunView, canary_values, value_text

NOT_PASS = ("NODATA", "SHARED", "TREND", "SUSPECT", "FAIL")


def label(t_s: float | None) -> str:
    """T0, T+36, T-30, T+25.5h of a plan second."""
    return t_label(timedelta(minutes=round((t_s or 0.0) / 60)))


def minutes(t_s: float | None) -> float:
    return 0.0 if t_s is None else float(t_s) / 60


def t_of(e: LedgerEvent | Mapping[str, Any] | None) -> float | None:
    p = e.payload if isinstance(e, LedgerEvent) else e
    if p is None or p.get("t_s") is None:
        return None
    return float(p["t_s"])


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


def rollback_event(v: RunView) -> LedgerEvent | None:
    found = v.of_kind("rollback_started")
    return found[0] if found else None


def ended_event(v: RunView) -> LedgerEvent | None:
    found = v.of_kind("run_ended")
    return found[-1] if found else None


def stage_spans(v: RunView) -> list[StageSpan]:
    rb, ended = rollback_event(v), ended_event(v)
    spans = []
    for stage in v.stages_started():
        start = v.step("step_started", "stage", stage)
        done = v.step("step_completed", "stage", stage)
        ticks = v.decisions("stage", stage)
        start_s = t_of(start) or 0.0
        holds = [e for e in v.of_kind("hold_started") if e.payload.get("stage") == stage]
        if done is not None:
            end_s, outcome = t_of(done) or start_s, "complete"
        elif rb is not None and rb.payload.get("stage") == stage:
            end_s, outcome = t_of(rb) or start_s, "rolled back"
        elif ended is not None:
            status = str(ended.payload.get("status", "ended"))
            end_s, outcome = t_of(ended) or start_s, status.replace("_", " ")
        else:
            end_s, outcome = max([start_s, *(t_of(e) or start_s for e in ticks)]), "running"
        details = done.payload.get("details") if done is not None else None
        passing = details.get("passing") if isinstance(details, Mapping) else None
        if passing is None and ticks:
            passing = ticks[-1].payload.get("passing")
        planned = v.plan.stages[stage].hold_min * 60 if stage < len(v.plan.stages) else 0.0
        spans.append(StageSpan(stage, v.stage_weight(stage), start_s, end_s, outcome, len(ticks), len(holds),
                               planned, None if passing is None else int(passing), len(v.plan.gates)))
    return spans


def hold_intervals(v: RunView) -> list[Interval]:
    ends = {(e.payload.get("stage"), e.payload.get("n")): t_of(e) for e in v.of_kind("hold_ended")}
    stops = [t for t in (t_of(e) for e in v.of_kind("rollback_started", "run_ended", "paused"))
             if t is not None]
    stage_ends = {s.stage: s.end_s for s in stage_spans(v)}
    out = []
    for e in v.of_kind("hold_started"):
        p = e.payload
        start = t_of(e) or 0.0
        end = ends.get((p.get("stage"), p.get("n")))
        if end is None:
            candidates = [float(p.get("until_t_s") or start), *(t for t in stops if t >= start)]
            if p.get("stage") in stage_ends:
                candidates.append(stage_ends[p.get("stage")])
            end = min(candidates)
        out.append(Interval(start, max(end, start), p.get("stage"), int(p.get("n") or 1),
                            tuple(p.get("reasons") or ())))
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
        p = e.payload
        verdict = next((x for x in p.get("verdicts", ()) if x.get("metric") == gate), {})
        can, base = canary_values(p) or {}, canary_values(p, "baseline") or {}
        s.t_min.append(minutes(t_of(e)))
        s.labels.append(str(p.get("label") or v.label(e)))
        s.canary.append(finite_or_none(can.get(gate)))
        s.baseline.append(finite_or_none(base.get(gate)))
        s.verdicts.append(str(verdict.get("verdict") or ("NODATA" if can.get(gate) is None else "-")))
        s.reasons.append(str(verdict.get("reason") or ""))
    return s


def weight_steps(v: RunView) -> list[tuple[float, float]]:
    """(t_s, weight read back): 0 before the first change, then every outcome with a read-back."""
    steps: list[tuple[float, float]] = []
    first = v.step("step_started", "stage", 0)
    steps.append((min(0.0, t_of(first) or 0.0), 0.0))
    for e in v.of_kind("weight_outcome", "paused", "resumed"):
        w = finite_or_none(e.payload.get("read_back" if e.kind == "weight_outcome" else "weight"))
        t = t_of(e)
        if w is not None and t is not None:
            steps.append((t, w))
    return steps


def where_stopped(v: RunView) -> str:
    """Where the run is (or ended): "stage 3 (25%) T+52", or "the preflight step (T-10)"."""
    started = v.of_kind("step_started")
    if not started:
        return "before the first step"
    p = started[-1].payload
    if p.get("kind") == "stage" and p.get("stage") is not None:
        stage = int(p["stage"])
        return f"stage {stage + 1} ({v.stage_weight(stage):g}%) {label(last_t_s(v))}"
    return f"the {str(p.get('title') or p.get('kind') or 'next').lower()} step ({p.get('label', '?')})"


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


def _rollback_tick(v: RunView, t_s: float) -> LedgerEvent | None:
    ticks = [e for e in v.of_kind("decision") if (t_of(e) or 0.0) <= t_s + 1e-6]
    return ticks[-1] if ticks else None


def rollback(v: RunView) -> Rollback | None:
    rb = rollback_event(v)
    if rb is None:
        return None
    p = rb.payload
    t_s = t_of(rb) or 0.0
    reasons = tuple(str(r) for r in p.get("reasons") or ())
    tick = _rollback_tick(v, t_s)
    failed: list[tuple[str, str]] = []
    values = ""
    if tick is not None and tick.payload.get("action") == "rollback":
        fails = [x for x in tick.payload.get("verdicts", ()) if x.get("verdict") == "FAIL"]
        failed = [(str(x["metric"]), str(x.get("reason") or "")) for x in fails]
        if fails:
            gate = v.plan.gates.get(str(fails[0]["metric"]))
            unit = gate.unit if gate else ""
            values = (f"canary {value_text(finite_or_none(fails[0].get('canary')), unit)}, "
                      f"baseline {value_text(finite_or_none(fails[0].get('baseline')), unit)}")
    if failed:
        m = _PHRASE.search(failed[0][1])
        phrase = m.group(1) if m else "breach"
        summary = f"{failed[0][0]} {phrase}" + (f" (+{len(failed) - 1} more)" if len(failed) > 1 else "")
    elif p.get("trigger") == "alert":
        names = sorted({str(a.get("name")) for a in (tick.payload.get("inputs") or {}).get("alerts", ())}
                       ) if tick is not None else []
        summary = f"alert {', '.join(names)}" if names else (reasons[0] if reasons else "alert")
    else:
        summary = reasons[0] if reasons else str(p.get("trigger") or "rollback")
    if len(summary) > 90:
        summary = summary[:87].rstrip() + "..."
    first_seen = None
    if failed:
        names = {m for m, _ in failed}
        for e in reversed([e for e in v.of_kind("decision") if (t_of(e) or 0.0) <= t_s + 1e-6]):
            bad = {x["metric"] for x in e.payload.get("verdicts", ()) if x.get("verdict") in NOT_PASS}
            if not names & bad:
                break
            first_seen = t_of(e)
    elif p.get("trigger") == "alert":
        received = [t_of(e) for e in v.of_kind("alert_received") if (t_of(e) or 0.0) <= t_s + 1e-6]
        first_seen = received[-1] if received else t_s
    zero, attempts = None, 0
    for e in v.of_kind("weight_outcome"):
        if (t_of(e) or 0.0) >= t_s - 1e-6 and finite_or_none(e.payload.get("weight")) == 0.0:
            attempts += int(e.payload.get("attempts") or 1)
            if e.payload.get("ok"):
                zero = t_of(e)
                break
    return Rollback(t_s, p.get("stage"), finite_or_none(p.get("weight")), str(p.get("trigger") or ""),
                    reasons, summary, tuple(m for m, _ in failed), values, first_seen, zero, attempts)


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
    for e in v.of_kind("decision"):
        for x in e.payload.get("verdicts", ()):
            if x.get("verdict") in NOT_PASS:
                per = counts.setdefault(str(x["metric"]), {})
                per[str(x["verdict"])] = per.get(str(x["verdict"]), 0) + 1
    return counts


def no_data_ticks(v: RunView) -> list[LedgerEvent]:
    """Decisions where a track had no sample at all, or a gate had no value (NODATA)."""
    out = []
    for e in v.of_kind("decision"):
        inputs = e.payload.get("inputs") or {}
        at_full = (finite_or_none(e.payload.get("weight")) or 0.0) >= 100  # no baseline traffic left
        missing = (inputs.get("canary") is None or e.payload.get("source_error")
                   or (inputs.get("baseline") is None and not at_full))
        if missing or any(x.get("verdict") == "NODATA" for x in e.payload.get("verdicts", ())):
            out.append(e)
    return out


__all__ = [
    "Interval", "Margin", "Rollback", "Series", "StageSpan", "ended_event", "gate_series", "hold_intervals",
    "label", "last_t_s", "margins", "minutes", "no_data_ticks", "rollback", "rollback_event", "stage_spans",
    "t_of", "used", "verdict_counts", "weight_steps", "where_stopped",
]
