"""Evidence from the timeline's non-stage steps (preflight, blast radius, freeze start and end, the
plan used), and the facts the success checklist judges. Pure: events in, text or facts out.

Steps whose handler only recorded itself (`details.handler == "record_only"`) did not do the work,
so they leave no evidence file: a preflight.txt that no preflight wrote would be a false record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from runofshow.app.run import event_types as et
from runofshow.app.run.event_parts import BurnRecord
from runofshow.domain.checklist import RunFacts, StageGates
from runofshow.reports.evidence_render import (
    RunView,
    at,
    metrics_text,
    reasons_text,
    ts,
    war_room_lines,
)


def _details(e: et.StepCompleted | None) -> Mapping[str, Any] | None:
    """What the step's handler reported (its own shape, per step kind); None when it only recorded
    itself."""
    if e is None or not e.details or e.details.get("handler") == "record_only":
        return None
    return e.details


def _nums(numbers: Any) -> str:
    ns = sorted(int(n) for n in numbers or ())
    return f"{len(ns)} ({', '.join(f'#{n}' for n in ns) if ns else 'none'})"


def preflight_text(v: RunView) -> str | None:
    """preflight.txt from the preflight step's report (or the run_ended details when it halted)."""
    from runofshow.app.steps.preflight import PreflightReport

    candidates = [_details(v.step(et.StepCompleted, "preflight"))]
    candidates += [e.details for e in v.of_kind(et.RunEnded)]
    for d in candidates:
        if isinstance(d, Mapping) and d.get("checks") and d.get("at"):
            return PreflightReport.from_json(d).render()
    return None


def blast_file(v: RunView) -> tuple[str, str] | None:
    e = v.step(et.StepCompleted, "blast_radius")
    d = _details(e)
    if e is None or d is None:
        return None
    base = str(d.get("evidence") or "").replace("\\", "/").rsplit("/", 1)[-1]
    fits = base.startswith("micro_blast") and base.endswith(".log")
    name = base if fits else f"micro_blast_{v.version}.log"
    if isinstance(d.get("text"), str):
        return name, d["text"] if d["text"].endswith("\n") else d["text"] + "\n"
    head = f"MICRO BLAST RADIUS {v.version}"
    lines = [head, "=" * len(head), f"Timestamp: {ts(at(e))}", f"Result: {'PASS' if e.ok else 'FAIL'}"]
    lines += [f"{k}: {json.dumps(val, ensure_ascii=False)}" for k, val in sorted(d.items())]
    return name, "\n".join(lines) + "\n"


def _class_lines(classes: Any) -> str:
    from runofshow.app.steps.freeze import CLASS_TEXT

    return "\n".join(f"  • {CLASS_TEXT.get(c, c.value)}" for c in classes)


def freeze_start_text(v: RunView) -> str | None:
    e = v.step(et.StepCompleted, "freeze_start")
    d = _details(e)
    if e is None or d is None:
        return None
    if isinstance(d.get("text"), str):
        return str(d["text"])
    rules = v.plan.freeze
    return (
        "FREEZE WINDOW START\n===================\n"
        f"Timestamp: {ts(at(e))}\nRelease: {v.version}\nRepository: {d.get('repo', '-')}\n"
        f"Label: {rules.label}\nPRs labelled by this freeze: {_nums(d.get('newly_labelled'))}\n"
        + (f"Note: {d['note']}\n" if d.get("note") else "")
        + "Next deployment window: After canary + 24h monitoring\n\n"
        f"Allowed changes during freeze:\n{_class_lines(rules.allowed)}\n\n"
        f"Blocked during freeze:\n{_class_lines(rules.blocked)}\n"
    )


def freeze_end_text(v: RunView) -> str | None:
    e = v.step(et.StepCompleted, "close_out")
    d = _details(e)
    if e is None or d is None or ("released" not in d and "text" not in d):
        return None  # the freeze was kept (after a rollback) or never managed by the run
    if isinstance(d.get("text"), str):
        return str(d["text"])
    start = v.step(et.StepCompleted, "freeze_start")
    duration = "-"
    if start is not None:
        minutes = int((at(e) - at(start)).total_seconds() // 60)
        duration = f"{minutes // 60}h {minutes % 60:02d}m"
    return (
        "FREEZE WINDOW END\n=================\n"
        f"Timestamp: {ts(at(e))}\nRelease: {v.version}\nRepository: {d.get('repo', '-')}\n"
        f"Duration: {duration}\nPRs released: {_nums(d.get('released'))}\n"
        + (f"Note: {d['note']}\n" if d.get("note") else "")
        + "Status: Normal operations resumed\n"
    )


def plan_json(v: RunView) -> str:
    data = v.started.plan or v.plan.model_dump(mode="json")
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def step_files(v: RunView) -> dict[str, str]:
    files: dict[str, str] = {"plan.json": plan_json(v)}
    for name, text in (("preflight.txt", preflight_text(v)),
                       ("freeze_window_start.txt", freeze_start_text(v)),
                       ("freeze_window_end.txt", freeze_end_text(v))):
        if text is not None:
            files[name] = text
    blast = blast_file(v)
    if blast is not None:
        files[blast[0]] = blast[1]
    return files


# --------------------------------------------------------------------------- first night


def _burn_text(burn: BurnRecord | None, limit: float) -> str:
    if burn is None:
        return "not measured"
    parts = [f"{w} {'n/a' if b is None else f'{b:.2f}x'}" for w, b in burn.windows.items()]
    b24 = burn.burn_rate_24h
    parts.append(f"24h {'n/a' if b24 is None else f'{b24:.2f}x'} (limit {limit:g}x)")
    return f"{burn.severity}: " + ", ".join(parts)


def checkins(v: RunView) -> dict[str, str]:
    start = v.step(et.StepStarted, "first_night")
    if start is None:
        return {}
    t_start = start.t_s or 0.0
    limit = v.plan.timeline.burn_rate_24h_max
    files: dict[str, str] = {}
    ticks = [e for e in v.decisions("first_night") if e.trigger == "checkin"]
    for i, e in enumerate(ticks, start=1):
        hours = ((e.t_s or 0.0) - t_start) / 3600
        head = f"FIRST NIGHT CHECK-IN {i:02d}"
        files[f"checkin_{i:02d}.txt"] = "\n".join([
            head, "=" * len(head), f"Release: {v.version}",
            f"Time: {ts(at(e))} ({v.label(e)}, {hours:.1f} h after promotion)",
            f"Weight: {e.weight:g}%",
            f"Canary: {metrics_text(v.plan, e.values('canary'))}",
            f"Baseline: {metrics_text(v.plan, e.values('baseline'))}",
            f"Gates: {e.passing}/{e.gates} PASS", f"Action: {e.action}",
            f"Reasons: {reasons_text(e.reasons) or '-'}",
            f"Alerts firing: {', '.join(a.name for a in e.alerts) or 'none'}",
            f"SLO burn: {_burn_text(e.burn_record, limit)}",
            *([f"Watch: {reasons_text(e.first_night_watch)}"] if e.first_night_watch else []),
        ]) + "\n"
    end = v.step(et.StepCompleted, "first_night")
    if end is not None:
        n = len(ticks) + 1
        head = f"FIRST NIGHT CHECK-IN {n:02d} (final)"
        files[f"checkin_{n:02d}.txt"] = "\n".join([
            head, "=" * len(head), f"Release: {v.version}",
            f"Time: {ts(at(end))} ({v.label(end)})",
            f"First night complete: {v.plan.timeline.first_night_h:g} h",
            f"SLO burn: {_burn_text(BurnRecord.from_json(end.details.get('burn')), limit)}",
            f"Status: {'ok' if end.ok else 'FAILED'}",
        ]) + "\n"
    return files


# --------------------------------------------------------------------------- checklist facts


def _critical_alerts(v: RunView) -> tuple[str, ...]:
    seen: dict[tuple[str, float], str] = {}
    for e in v.events:
        if isinstance(e, et.DecisionMade | et.AlertReceived):
            for a in e.alerts:
                if str(a.labels.get("severity", "")).lower() == "critical":
                    seen.setdefault((a.name, a.fired_t_s), a.name)
    return tuple(seen.values())


def _degradations(v: RunView) -> tuple[str, ...]:
    found: list[str] = []
    for e in v.decisions("first_night"):
        label = e.label or ts(at(e))
        if e.action not in ("", "proceed"):
            found.append(f"{label}: {e.action}")
        burn = e.burn_record
        if burn is not None and burn.severity in ("ticket", "page"):
            found.append(f"{label}: SLO burn {burn.severity}")
        found += [f"{label}: {r}" for r in e.first_night_watch or ()]
    found += [f"rollback: {'; '.join(e.reasons)}" for e in v.of_kind(et.RollbackStarted)
              if e.trigger == "first_night"]
    return tuple(found)


def _burn_24h(v: RunView) -> float | None:
    end = v.step(et.StepCompleted, "first_night")
    records = [end.burn_record if end is not None else None]
    records += [e.burn_record for e in reversed(v.decisions("first_night"))]
    return next((r.burn_rate_24h for r in records if r is not None and r.burn_rate_24h is not None), None)


def run_facts(v: RunView, evidence_files: int | None) -> RunFacts:
    """What the checklist judges, read from the events (and the bundle's file count)."""
    plan = v.plan
    completed = sorted({e.stage for e in v.steps(et.StepCompleted, "stage") if e.stage is not None})
    gates = []
    for stage in range(len(plan.stages)):
        done = v.step(et.StepCompleted, "stage", stage)
        ticks = v.decisions("stage", stage)
        passing = done.details.get("passing") if done is not None else None
        if passing is None and done is not None and ticks:
            passing = ticks[-1].passing
        gates.append(StageGates(stage + 1, None if passing is None else int(passing), len(plan.gates)))
    lines = war_room_lines(v)
    missing = [f"Stage {s + 1} start" for s in v.stages_started()
               if not any(f"Stage {s + 1} (" in ln and " start" in ln for ln in lines)]
    if v.of_kind(et.RollbackStarted) and not any("ROLLBACK" in ln for ln in lines):
        missing.append("ROLLBACK")
    fn_start, fn_end = v.step(et.StepStarted, "first_night"), v.step(et.StepCompleted, "first_night")
    done_h = None
    if fn_end is not None:
        done_h = plan.timeline.first_night_h
    elif fn_start is not None:
        last = max((e.t_s or 0.0 for e in v.decisions("first_night")), default=fn_start.t_s or 0.0)
        done_h = (last - (fn_start.t_s or 0.0)) / 3600
    return RunFacts(
        stages_planned=len(plan.stages), stages_completed=len(completed), stage_gates=tuple(gates),
        rollbacks=len(v.of_kind(et.RollbackStarted)), critical_alerts=_critical_alerts(v),
        war_room_lines=len(lines), war_room_missing=tuple(missing), evidence_files=evidence_files,
        first_night_h=plan.timeline.first_night_h, first_night_done_h=done_h, burn_rate_24h=_burn_24h(v),
        burn_rate_24h_max=plan.timeline.burn_rate_24h_max, degradations=_degradations(v),
        user_feedback=tuple(e.sentiment for e in v.of_kind(et.UserFeedback)) or None,  # judged once given
    )


__all__ = ["blast_file", "checkins", "freeze_end_text", "freeze_start_text", "plan_json", "preflight_text",
           "run_facts", "step_files"]
