"""The release one-liner and the mini RCA, written from what the ledger shows.

    oneliner(events, plan) -> str          "v1.4.0 (spark-trading): promoted 1→100% in 90 min, 0 rollbacks,
                                            6/6 gates at every stage, 0 holds; first night burn 0.4x"
    write_oneliner(events, plan, dir)      release_oneliner.txt
    rca_markdown(events, plan) -> str      the seed's mini RCA: what went well, what could be improved,
                                            observations, three remaining risks (Owner / Due placeholders)
    write_rca(events, plan, dir) -> Path   mini_rca_<version>.md and release_oneliner.txt (the close-out
                                            writes both); returns the RCA's path

Both files go through the evidence's atomic writer. `plan=None` uses the plan recorded in run_started.
Every sentence is drawn from the events (stages, holds, verdicts, read-backs, notify failures); what the
data cannot know (owners, due dates) is left as a placeholder for people to fill in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from runofshow.app.run import event_types as et
from runofshow.domain.plan import Plan
from runofshow.files import atomic_write_text
from runofshow.ports import LedgerEvent
from runofshow.reports import report_data as rd
from runofshow.reports.evidence_render import RunView, feedback_lines, value_text
from runofshow.reports.evidence_steps import run_facts

ONELINER_FILE = "release_oneliner.txt"
RISKS = 3
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


def rca_name(version: str) -> str:
    return f"mini_rca_{_UNSAFE.sub('_', version) or 'release'}.md"


def _gates_text(spans: list[rd.StageSpan]) -> str:
    done = [s for s in spans if s.outcome == "complete"]
    if done and all(s.passing == s.gates for s in done):
        return f"{done[0].gates}/{done[0].gates} gates at every stage"
    ends = [f"{'?' if s.passing is None else s.passing}/{s.gates}" for s in done]
    return "gates at stage end " + ", ".join(ends)


def oneliner(events: Iterable[LedgerEvent], plan: Plan | None = None) -> str:
    """The release in one line, from the ledger."""
    v = RunView.of(events, plan)
    head = f"{v.version} ({v.plan.release.service})"
    spans, rb, ended = rd.stage_spans(v), rd.rollback(v), rd.ended_event(v)
    holds = len(v.of_kind(et.HoldStarted))
    facts = run_facts(v, None)
    if rb is not None:
        night = rb.trigger == "first_night" and rb.weight is not None
        where = (f"in the first night at {rb.weight:g}%" if night
                 else f"at stage {(rb.stage or 0) + 1} ({v.stage_weight(rb.stage or 0):g}%)")
        return f"{head}: rolled back {where} {rd.label(rb.t_s)}: {rb.summary}"
    status = ended.status if ended is not None else "running"
    if status == "halted" and ended is not None:
        left = f"; traffic left at {ended.weight:g}%" if ended.weight is not None else ""
        return f"{head}: halted at {rd.where_stopped(v)}: {ended.reason}{left}"
    completed = [s for s in spans if s.outcome == "complete"]
    if completed and len(completed) == len(v.plan.stages):
        took = round((completed[-1].end_s - completed[0].start_s) / 60)
        line = (f"{head}: promoted {completed[0].weight:g}→{completed[-1].weight:g}% in {took} min, "
                f"{facts.rollbacks} rollbacks, {_gates_text(spans)}, {holds} holds")
        if facts.burn_rate_24h is not None:
            line += f"; first night burn {facts.burn_rate_24h:.1f}x"
        elif v.step(et.StepCompleted, "first_night") is not None:
            line += f"; first night complete ({len(v.decisions('first_night'))} check-ins)"
        return line
    return f"{head}: {status.replace('_', ' ')}, at {rd.where_stopped(v)}, {holds} holds"


def write_oneliner(events: Iterable[LedgerEvent], plan: Plan | None, out_dir: str | Path) -> Path:
    return atomic_write_text(Path(out_dir) / ONELINER_FILE, oneliner(events, plan) + "\n")


# --------------------------------------------------------------------------- the sections


#: steps whose work happens outside the runner when their handler only records them
_WORK_STEPS = ("freeze_start", "war_room", "preflight", "blast_radius", "close_out")


def _record_only(v: RunView) -> list[et.StepCompleted]:
    return [e for e in v.of_kind(et.StepCompleted) if e.step_kind in _WORK_STEPS
            and e.details.get("handler") == "record_only"]


def _stage_list(spans: list[rd.StageSpan]) -> str:
    return " → ".join(f"{s.weight:g}" for s in spans) + " %"


def _went_well(v: RunView, spans: list[rd.StageSpan], rb: rd.Rollback | None) -> list[str]:
    items: list[str] = []
    done = [s for s in spans if s.outcome == "complete"]
    clean = [s for s in done if s.passing == s.gates]
    if done and len(done) == len(v.plan.stages):
        took = round((done[-1].end_s - done[0].start_s) / 60)
        gates = "with every gate passing at the end of every stage" if len(clean) == len(done) else \
            f"{len(clean)} of them with every gate passing at the end"
        items.append(f"All {len(done)} stages completed ({_stage_list(done)}) in {took} min, {gates}.")
    elif clean:
        gates = f"{clean[0].gates}/{clean[0].gates}"
        items.append(f"Stage{'s' if len(clean) > 1 else ''} {', '.join(str(s.n) for s in clean)} "
                     f"({_stage_list(clean)}) completed with {gates} gates passing.")
    if rb is not None:
        seen = rb.first_seen_s if rb.first_seen_s is not None else rb.t_s
        what = f"The {', '.join(rb.metrics)} regression" if rb.metrics else f"The {rb.summary}"
        lag = round((rb.t_s - seen) / 60)
        when = ("at the first tick that flagged it" if lag == 0 else
                f"{lag} min after the first tick that flagged it ({rd.label(seen)})")
        back = (f"; the router read back 0 % at {rd.label(rb.zero_s)} after {rb.attempts} attempt(s)"
                if rb.zero_s is not None else "")
        items.append(f"{what} was rolled back automatically at {rd.label(rb.t_s)}, {when}, with "
                     f"{rb.weight or 0:g} % of traffic on the canary{back}.")
    ended = rd.ended_event(v)
    if ended is not None and ended.status == "halted" and not spans:
        items.append(f"The run stopped at {rd.where_stopped(v)} before any traffic reached the canary.")
    ticks = v.of_kind(et.DecisionMade)
    if ticks and not rd.no_data_ticks(v):
        items.append(f"No data gaps: all {len(ticks)} decisions had values for every gate.")
    outcomes = v.of_kind(et.WeightOutcome)
    if outcomes and all(e.ok and (e.attempts or 1) == 1 for e in outcomes):
        items.append(f"Every traffic change ({len(outcomes)}) read back exactly on the first attempt.")
    shared = {m: c["SHARED"] for m, c in rd.verdict_counts(v).items() if c.get("SHARED")}
    if shared:
        items.append("A breach the baseline shared was not blamed on the canary: "
                     + ", ".join(f"{m} ({n} ticks)" for m, n in shared.items()) + ".")
    if not v.of_kind(et.HoldStarted) and spans:
        items.append("No holds: no stage needed a second look.")
    fn = v.decisions("first_night")
    if fn and v.step(et.StepCompleted, "first_night") is not None:
        ok = sum(1 for e in fn if e.action == "proceed")
        burn = run_facts(v, None).burn_rate_24h
        items.append(f"First night complete: {ok}/{len(fn)} check-ins proceeded"
                     + (f", 24 h SLO burn rate {burn:.2f}x." if burn is not None else "."))
    if not run_facts(v, None).critical_alerts:
        items.append("No critical alerts fired.")
    return items[:5] or ["Nothing went notably well according to the ledger."]


def _could_improve(v: RunView, spans: list[rd.StageSpan], rb: rd.Rollback | None) -> list[str]:
    items: list[str] = []
    ended = rd.ended_event(v)
    if ended is not None and ended.status == "halted":
        items.append(f"The run halted at {rd.where_stopped(v)}: {ended.reason}.")
    if rb is not None and rb.metrics:
        span = next((s for s in spans if s.stage == rb.stage), None)
        into = f", {round((rb.t_s - span.start_s) / 60)} min into stage {span.n}" if span else ""
        items.append(f"The canary carried a regression in {', '.join(rb.metrics)} ({rb.values}{into}) "
                     "that nothing before T0 caught.")
    for h in rd.hold_intervals(v):
        reason = h.reasons[0] if h.reasons else "no reason recorded"
        items.append(f"Hold #{h.n} in stage {(h.stage or 0) + 1} at {rd.label(h.start_s)} for "
                     f"{round((h.end_s - h.start_s) / 60)} min: {reason}.")
    for s in spans:
        if s.outcome == "complete" and s.duration_s > s.planned_s + v.plan.decision.tick_interval_s:
            items.append(f"Stage {s.n} ({s.weight:g} %) took {round(s.duration_s / 60)} min against "
                         f"{round(s.planned_s / 60)} planned ({s.holds} hold(s)).")
    gaps = rd.no_data_ticks(v)
    if gaps:
        errors = sorted({e.source_error for e in gaps if e.source_error})
        items.append(f"{len(gaps)} decision(s) without full data ({rd.label(rd.t_of(gaps[0]))}"
                     f"{'..' + rd.label(rd.t_of(gaps[-1])) if len(gaps) > 1 else ''})"
                     + (f": {errors[0]}" if errors else "") + ".")
    floor = v.plan.decision.min_canary_requests
    for s in spans:
        counts = [float(e.canary.requests) for e in v.decisions("stage", s.stage)
                  if e.canary is not None and e.canary.requests is not None]
        if counts and min(counts) < floor:
            items.append(f"Stage {s.n} ({s.weight:g} %): the canary had as few as {min(counts):.0f} "
                         f"requests a tick, under the {floor} the engine needs to judge a rate's trend.")
    failed = v.of_kind(et.NotifyFailed)
    if failed:
        channels = sorted({e.channel for e in failed})
        items.append(f"{len(failed)} notification(s) failed ({', '.join(channels)}); "
                     "the run went on without them.")
    retried = [e for e in v.of_kind(et.WeightOutcome) if (e.attempts or 1) > 1 or not e.ok]
    if retried:
        items.append(f"{len(retried)} traffic change(s) needed retries or did not read back at once.")
    record_only = [e.title for e in _record_only(v)]
    if record_only:
        items.append(f"Recorded but not run by runofshow: {', '.join(record_only)}.")
    resumes = v.of_kind(et.Resumed)
    if resumes:
        items.append(f"The run was taken up again {len(resumes)} time(s) after a pause, halt or crash.")
    return items or ["Nothing the ledger flags: no holds, no data gaps, no failed notifications, no retries."]


def _observations(v: RunView) -> list[str]:
    items: list[str] = []
    for m in rd.margins(v)[:3]:
        base = "" if m.baseline_worst is None else f"; baseline worst {value_text(m.baseline_worst, m.unit)}"
        items.append(f"{m.gate}: canary worst {value_text(m.worst, m.unit)} at {m.worst_label}, "
                     f"{m.used * 100:.0f} % of the {value_text(m.threshold, m.unit)} threshold{base}.")
    for metric, counts in rd.verdict_counts(v).items():
        items.append(f"{metric}: " + ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
                     + " tick(s).")
    alerts = sorted({a.name for e in v.of_kind(et.DecisionMade) for a in e.alerts})
    if alerts:
        items.append(f"Alerts seen during the run: {', '.join(alerts)}.")
    said = v.of_kind(et.UserFeedback)
    if said:
        counts = {k: sum(1 for e in said if e.sentiment == k) for k in ("positive", "neutral", "negative")}
        items.append("User feedback: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n) + " ("
                     + "; ".join(feedback_lines(v)[:3]) + ").")
    stage_ticks, fn = len(v.decisions("stage")), len(v.decisions("first_night"))
    items.append(f"{stage_ticks} stage decisions and {fn} first-night check-ins; "
                 f"{len(v.events)} ledger events.")
    return items


def _market_note(v: RunView, spans: list[rd.StageSpan]) -> str | None:
    t0 = v.started.t0_at
    if not t0 or not spans:
        return None
    zone = ZoneInfo(v.plan.market.timezone)
    start = datetime.fromisoformat(str(t0)) + timedelta(seconds=spans[0].start_s)
    end = datetime.fromisoformat(str(t0)) + timedelta(seconds=spans[-1].end_s)
    a, b = start.astimezone(zone), end.astimezone(zone)
    hours = v.plan.market.hours
    inside = a.weekday() < 5 and hours.start_time <= a.time() < hours.end_time
    if inside:
        return None
    return (f"The stages ran {a:%a %H:%M}-{b:%H:%M} {v.plan.market.timezone}, outside market hours "
            f"({hours.start}-{hours.end}): the release has not yet been seen under market-open load.")


def _risks(v: RunView, spans: list[rd.StageSpan], rb: rd.Rollback | None) -> list[str]:
    risks: list[str] = []
    ended = rd.ended_event(v)
    if ended is not None and ended.status == "halted":
        risks.append(f"What halted the run is still open ({ended.reason}): fix it, or "
                     "record the incident commander's override, before the next attempt.")
    if rb is not None:
        risks.append(f"Root cause of the {rb.summary} not yet known: find and fix it before the next "
                     "attempt.")
        if v.step(et.StepCompleted, "first_night") is None:
            risks.append("The first night at 100 % was never observed: the next attempt carries its "
                         "unknowns.")
    shared = [m for m, c in rd.verdict_counts(v).items() if c.get("SHARED")]
    tight = [m for m in rd.margins(v)
             if m.used >= 0.6 and m.gate not in shared and (rb is None or m.gate not in rb.metrics)]
    for m in tight[:1]:
        risks.append(f"{m.gate} ran at up to {m.used * 100:.0f} % of its threshold "
                     f"({value_text(m.worst, m.unit)} of {value_text(m.threshold, m.unit)}): little headroom "
                     "when load grows.")
    if shared:
        risks.append(f"The baseline breached {', '.join(shared)} too: a platform problem outside this "
                     "release is still open.")
    if rd.no_data_ticks(v):
        risks.append("The metrics source had gaps: a longer outage holds, then rolls back, a healthy canary.")
    note = _market_note(v, spans)
    if note:
        risks.append(note)
    recorded = [e.title for e in _record_only(v)]
    if recorded:
        risks.append(f"{', '.join(recorded)}: only recorded by the run, so the proof that the work was done "
                     "lives outside the ledger.")
    risks += [
        f"The gates watch {len(v.plan.gates)} technical metrics; business outcomes (order success, "
        "settlement) are not gated.",
        "The rollback path of this release was exercised only in tests: rehearse it on staging.",
        "User feedback after the release has not been collected yet.",
    ]
    if v.of_kind(et.UserFeedback):  # given: what it says replaces "not collected yet"
        risks = [r for r in risks if not r.startswith("User feedback after the release")]
    negative = _negative_feedback(v)
    if negative:
        risks.insert(0, negative)
    return risks[:RISKS]


def _negative_feedback(v: RunView) -> str | None:
    """The open risk users' negative feedback is (first among the risks), if they gave any."""
    said = v.of_kind(et.UserFeedback)
    negative = [line for e, line in zip(said, feedback_lines(v), strict=True) if e.sentiment == "negative"]
    if not negative:
        return None
    return (f"Users gave negative feedback ({'; '.join(negative[:2])}): the first night is not a "
            "success yet.")


def rca_markdown(events: Iterable[LedgerEvent], plan: Plan | None = None) -> str:
    evs = list(events)
    v = RunView.of(evs, plan)
    spans, rb, ended = rd.stage_spans(v), rd.rollback(v), rd.ended_event(v)
    status = ended.status if ended is not None else "running"
    code = ended.exit_code if ended is not None else None
    lines = [
        f"# Mini RCA - {v.version} Canary Deployment", "",
        f"- Run: `{v.run_id}`", f"- Service: {v.plan.release.service}",
        f"- Outcome: {status.replace('_', ' ')}" + (f" (exit {code})" if code is not None else ""),
        f"- T0: {v.started.t0_at or '-'}", f"- One-liner: {oneliner(evs, plan)}", "",
        "_Written by `runofshow rca` from the run's ledger; edit freely._", "",
    ]
    for title, items in (("What Went Well", _went_well(v, spans, rb)),
                         ("What Could Be Improved", _could_improve(v, spans, rb)),
                         ("Observations", _observations(v))):
        lines += [f"## {title}", *(f"- {item}" for item in items), ""]
    lines.append(f"## Remaining Risks ({RISKS})")
    lines += [f"{i}. {risk} - Owner: TBD - Due: YYYY-MM-DD" for i, risk in enumerate(_risks(v, spans, rb), 1)]
    return "\n".join(lines) + "\n"


def write_rca(events: Iterable[LedgerEvent], plan: Plan | None, out_dir: str | Path) -> Path:
    """mini_rca_<version>.md and release_oneliner.txt in `out_dir`; the RCA's path."""
    evs = list(events)
    v = RunView.of(evs, plan)
    path = atomic_write_text(Path(out_dir) / rca_name(v.version), rca_markdown(evs, plan))
    write_oneliner(evs, plan, out_dir)
    return path


__all__ = ["ONELINER_FILE", "oneliner", "rca_markdown", "rca_name", "write_oneliner", "write_rca"]
