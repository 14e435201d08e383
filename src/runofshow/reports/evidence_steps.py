"""Evidence from the timeline's non-stage steps (preflight, blast radius, freeze start and end, the
plan used), and the facts the success checklist judges. Pure: events in, text or facts out.

Steps whose handler only recorded itself (`details.handler == "record_only"`) did not do the work,
so they leave no evidence file: a preflight.txt that no preflight wrote would be a false record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from runofshow.domain.checklist import RunFacts, StageGates
from runofshow.ports import LedgerEvent
from runofshow.reports.evidence_render import (
    RunView,
    canary_values,
    metrics_text,
    reasons_text,
    ts,
    war_room_lines,
)


def _details(e: LedgerEvent | None) -> Mapping[str, Any] | None:
    if e is None:
        return None
    d = e.payload.get("details")
    if not isinstance(d, Mapping) or d.get("handler") == "record_only":
        return None
    return d


def _nums(numbers: Any) -> str:
    ns = sorted(int(n) for n in numbers or ())
    return f"{len(ns)} ({', '.join(f'#{n}' for n in ns) if ns else 'none'})"


def preflight_text(v: RunView) -> str | None:
    """preflight.txt from the preflight step's report (or the run_ended details when it halted)."""
    from runofshow.app.steps.preflight import PreflightReport

    candidates = [_details(v.step("step_completed", "preflight"))]
    candidates += [e.payload.get("details") for e in v.of_kind("run_ended")]
    for d in candidates:
        if isinstance(d, Mapping) and d.get("checks") and d.get("at"):
            return PreflightReport.from_json(d).render()
    return None


def blast_file(v: RunView) -> tuple[str, str] | None:
    e = v.step("step_completed", "blast_radius")
    d = _details(e)
    if e is None or d is None:
        return None
    base = str(d.get("evidence") or "").replace("\\", "/").rsplit("/", 1)[-1]
    fits = base.startswith("micro_blast") and base.endswith(".log")
    name = base if fits else f"micro_blast_{v.version}.log"
    if isinstance(d.get("text"), str):
        return name, d["text"] if d["text"].endswith("\n") else d["text"] + "\n"
    head = f"MICRO BLAST RADIUS {v.version}"
    lines = [head, "=" * len(head), f"Timestamp: {ts(e.at)}",
             f"Result: {'PASS' if e.payload.get('ok') else 'FAIL'}"]
    lines += [f"{k}: {json.dumps(val, ensure_ascii=False)}" for k, val in sorted(d.items())]
    return name, "\n".join(lines) + "\n"


def _class_lines(classes: Any) -> str:
    from runofshow.app.steps.freeze import CLASS_TEXT

    return "\n".join(f"  • {CLASS_TEXT.get(c, c.value)}" for c in classes)


def freeze_start_text(v: RunView) -> str | None:
    e = v.step("step_completed", "freeze_start")
    d = _details(e)
    if e is None or d is None:
        return None
    if isinstance(d.get("text"), str):
        return d["text"]
    rules = v.plan.freeze
    return (
        "FREEZE WINDOW START\n===================\n"
        f"Timestamp: {ts(e.at)}\nRelease: {v.version}\nRepository: {d.get('repo', '-')}\n"
        f"Label: {rules.label}\nPRs labelled by this freeze: {_nums(d.get('newly_labelled'))}\n"
        + (f"Note: {d['note']}\n" if d.get("note") else "")
        + "Next deployment window: After canary + 24h monitoring\n\n"
        f"Allowed changes during freeze:\n{_class_lines(rules.allowed)}\n\n"
        f"Blocked during freeze:\n{_class_lines(rules.blocked)}\n"
    )


def freeze_end_text(v: RunView) -> str | None:
    e = v.step("step_completed", "close_out")
    d = _details(e)
    if e is None or d is None or ("released" not in d and "text" not in d):
        return None  # the freeze was kept (after a rollback) or never managed by the run
    if isinstance(d.get("text"), str):
        return str(d["text"])
    start = v.step("step_completed", "freeze_start")
    duration = "-"
    if start is not None:
        minutes = int((e.at - start.at).total_seconds() // 60)
        duration = f"{minutes // 60}h {minutes % 60:02d}m"
    return (
        "FREEZE WINDOW END\n=================\n"
        f"Timestamp: {ts(e.at)}\nRelease: {v.version}\nRepository: {d.get('repo', '-')}\n"
        f"Duration: {duration}\nPRs released: {_nums(d.get('released'))}\n"
        + (f"Note: {d['note']}\n" if d.get("note") else "")
        + "Status: Normal operations resumed\n"
    )


def plan_json(v: RunView) -> str:
    data = v.started.get("plan") or v.plan.model_dump(mode="json")
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


def _burn_text(burn: Mapping[str, Any] | None, limit: float) -> str:
    if not burn:
        return "not measured"
    windows = burn.get("windows") or {}
    parts = [f"{w} {'n/a' if b is None else f'{float(b):.2f}x'}" for w, b in windows.items()]
    b24 = burn.get("burn_rate_24h")
    parts.append(f"24h {'n/a' if b24 is None else f'{float(b24):.2f}x'} (limit {limit:g}x)")
    return f"{burn.get('severity', 'ok')}: " + ", ".join(parts)


def checkins(v: RunView) -> dict[str, str]:
    start = v.step("step_started", "first_night")
    if start is None:
        return {}
    t_start = float(start.payload.get("t_s") or 0.0)
    limit = v.plan.timeline.burn_rate_24h_max
    files: dict[str, str] = {}
    ticks = [e for e in v.decisions("first_night") if e.payload.get("trigger") == "checkin"]
    for i, e in enumerate(ticks, start=1):
        p = e.payload
        hours = (float(p.get("t_s") or 0.0) - t_start) / 3600
        alerts = [a.get("name", "") for a in (p.get("inputs") or {}).get("alerts", ())]
        head = f"FIRST NIGHT CHECK-IN {i:02d}"
        files[f"checkin_{i:02d}.txt"] = "\n".join([
            head, "=" * len(head), f"Release: {v.version}",
            f"Time: {ts(e.at)} ({v.label(e)}, {hours:.1f} h after promotion)",
            f"Weight: {float(p.get('weight') or 0):g}%",
            f"Canary: {metrics_text(v.plan, canary_values(p))}",
            f"Baseline: {metrics_text(v.plan, canary_values(p, 'baseline'))}",
            f"Gates: {p.get('passing')}/{p.get('gates')} PASS", f"Action: {p.get('action')}",
            f"Reasons: {reasons_text(p.get('reasons', ())) or '-'}",
            f"Alerts firing: {', '.join(alerts) or 'none'}",
            f"SLO burn: {_burn_text(p.get('burn'), limit)}",
            *([f"Watch: {reasons_text(p['first_night_watch'])}"] if p.get("first_night_watch") else []),
        ]) + "\n"
    end = v.step("step_completed", "first_night")
    if end is not None:
        n = len(ticks) + 1
        d = end.payload.get("details") if isinstance(end.payload.get("details"), Mapping) else {}
        head = f"FIRST NIGHT CHECK-IN {n:02d} (final)"
        files[f"checkin_{n:02d}.txt"] = "\n".join([
            head, "=" * len(head), f"Release: {v.version}",
            f"Time: {ts(end.at)} ({v.label(end)})",
            f"First night complete: {v.plan.timeline.first_night_h:g} h",
            f"SLO burn: {_burn_text(d.get('burn'), limit)}",
            f"Status: {'ok' if end.payload.get('ok') else 'FAILED'}",
        ]) + "\n"
    return files


# --------------------------------------------------------------------------- checklist facts


def _critical_alerts(v: RunView) -> tuple[str, ...]:
    seen: dict[tuple[str, Any], str] = {}
    for e in v.of_kind("decision", "alert_received"):
        alerts = e.payload.get("alerts") if e.kind == "alert_received" else \
            (e.payload.get("inputs") or {}).get("alerts")
        for a in alerts or ():
            if str((a.get("labels") or {}).get("severity", "")).lower() == "critical":
                seen.setdefault((a.get("name"), a.get("fired_t_s")), str(a.get("name", "")))
    return tuple(seen.values())


def _degradations(v: RunView) -> tuple[str, ...]:
    found: list[str] = []
    for e in v.decisions("first_night"):
        p = e.payload
        if p.get("action") not in (None, "proceed"):
            found.append(f"{p.get('label', ts(e.at))}: {p.get('action')}")
        burn = p.get("burn") or {}
        if burn.get("severity") in ("ticket", "page"):
            found.append(f"{p.get('label', ts(e.at))}: SLO burn {burn['severity']}")
        found += [f"{p.get('label', ts(e.at))}: {r}" for r in p.get("first_night_watch") or ()]
    found += [f"rollback: {'; '.join(e.payload.get('reasons', ()))}" for e in v.of_kind("rollback_started")
              if e.payload.get("trigger") == "first_night"]
    return tuple(found)


def _burn_24h(v: RunView) -> float | None:
    end = v.step("step_completed", "first_night")
    sources = [end.payload.get("details") if end is not None else None]
    sources += [e.payload.get("burn") for e in reversed(v.decisions("first_night"))]
    for s in sources:
        if isinstance(s, Mapping):
            b = s.get("burn") if isinstance(s.get("burn"), Mapping) else s
            if b.get("burn_rate_24h") is not None:
                return float(b["burn_rate_24h"])
    return None


def run_facts(v: RunView, evidence_files: int | None) -> RunFacts:
    """What the checklist judges, read from the events (and the bundle's file count)."""
    plan = v.plan
    completed = sorted({int(e.payload["stage"]) for e in v.steps("step_completed", "stage")})
    gates = []
    for stage in range(len(plan.stages)):
        done = v.step("step_completed", "stage", stage)
        d = done.payload.get("details") if done is not None else None
        ticks = v.decisions("stage", stage)
        passing = (d or {}).get("passing") if isinstance(d, Mapping) else None
        if passing is None and done is not None and ticks:
            passing = ticks[-1].payload.get("passing")
        gates.append(StageGates(stage + 1, None if passing is None else int(passing), len(plan.gates)))
    lines = war_room_lines(v)
    missing = [f"Stage {s + 1} start" for s in v.stages_started()
               if not any(f"Stage {s + 1} (" in ln and " start" in ln for ln in lines)]
    if v.of_kind("rollback_started") and not any("ROLLBACK" in ln for ln in lines):
        missing.append("ROLLBACK")
    fn_start, fn_end = v.step("step_started", "first_night"), v.step("step_completed", "first_night")
    done_h = None
    if fn_end is not None:
        done_h = plan.timeline.first_night_h
    elif fn_start is not None:
        last = max((float(e.payload.get("t_s") or 0) for e in v.decisions("first_night")),
                   default=float(fn_start.payload.get("t_s") or 0))
        done_h = (last - float(fn_start.payload.get("t_s") or 0)) / 3600
    return RunFacts(
        stages_planned=len(plan.stages), stages_completed=len(completed), stage_gates=tuple(gates),
        rollbacks=len(v.of_kind("rollback_started")), critical_alerts=_critical_alerts(v),
        war_room_lines=len(lines), war_room_missing=tuple(missing), evidence_files=evidence_files,
        first_night_h=plan.timeline.first_night_h, first_night_done_h=done_h, burn_rate_24h=_burn_24h(v),
        burn_rate_24h_max=plan.timeline.burn_rate_24h_max, degradations=_degradations(v),
    )


__all__ = ["blast_file", "checkins", "freeze_end_text", "freeze_start_text", "plan_json", "preflight_text",
           "run_facts", "step_files"]
