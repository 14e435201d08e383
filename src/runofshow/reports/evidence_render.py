"""Evidence files rendered from a run's ledger events alone (pure: events in, text out).

`render_files(events, plan)` returns {file name: text} for every file the seed names that the
events can support; `runofshow.reports.evidence.build_bundle` writes them, the ledger-chain export,
the success checklist and the manifest. What each file is made of (event kinds are
`runofshow.app.run.events.EventKind`; `step_*` events carry the step `kind`):

    canary_timeline.txt        run_started, step_started/completed(stage, promoted, first_night),
                               hold_started, rollback_started, run_ended
    summary_stage_N.txt        step_started/completed(stage N-1) + that stage's decision events
    stage_N_metrics.json/.csv  every decision tick of stage N: canary and baseline per gate
    warroom_log.txt            war_room events, each rendered by `runofshow.app.run.minutes.line` -- the
                               function the runner's live log and `runofshow run` use too:
                               `:15 | Stage 1 (1%) complete | p95=142ms ... | 6/6 PASS | auto: Proceed`
                               (minutes since T0; `auto` or `IC <name>` decided)
    parking_lot.txt            parking_lot events {text, by}; written (empty) always
    checkin_NN.txt             (evidence_steps) decision events with phase first_night and trigger
                               checkin, then the final one from step_completed(first_night); `burn`
                               in the payload (`BurnVerdict.to_json()`) is shown when present
    preflight.txt              (evidence_steps, like the files below) step_completed(preflight)
                               .details = PreflightReport.to_json(), or run_ended.details when
                               preflight halted the run
    micro_blast_<version>.log  step_completed(blast_radius).details: `text` verbatim, else its fields
    freeze_window_start.txt    step_completed(freeze_start).details {repo, newly_labelled, note} or
                               `text`; not written when the step only recorded itself
    freeze_window_end.txt      step_completed(close_out).details {repo, released, note} or `text`
    plan.json                  the plan the run used (run_started.plan)
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from runofshow.app.run import minutes
from runofshow.app.run.minutes import metrics_text, num, value_text
from runofshow.domain.plan import Plan, default_gates
from runofshow.domain.timeline import t_label
from runofshow.ports import LedgerEvent

WAR_ROOM_FILE = "warroom_log.txt"
PARKING_LOT_FILE = "parking_lot.txt"


def ts(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reasons_text(reasons: Iterable[str], limit: int = 3) -> str:
    items = list(reasons)
    return "; ".join(items[:limit]) + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


@dataclass
class RunView:
    """A run's events with the lookups the renderers share."""

    events: list[LedgerEvent]
    plan: Plan

    @classmethod
    def of(cls, events: Iterable[LedgerEvent], plan: Plan | None = None) -> RunView:
        evs = sorted(events, key=lambda e: e.seq)
        if plan is None:
            started = next((e.payload for e in evs if e.kind == "run_started"), {})
            plan = plan_from_ledger(started)
        return cls(evs, plan)

    @property
    def started(self) -> Mapping[str, Any]:
        return next((e.payload for e in self.events if e.kind == "run_started"), {})

    @property
    def run_id(self) -> str:
        return self.events[0].run_id if self.events else ""

    @property
    def version(self) -> str:
        return str(self.started.get("version") or self.plan.release.version)

    def label(self, e: LedgerEvent) -> str:
        """T0, T+15, T+25.5h ... of the event itself (a step event's `label` is its step's start)."""
        t_s = e.payload.get("t_s")
        if t_s is None:
            return str(e.payload.get("label", ""))
        return t_label(timedelta(minutes=round(float(t_s) / 60)))

    def plan_at(self, e: LedgerEvent) -> datetime:
        """The event's plan-time instant (T0 + t_s), or its wall time when that is unknown."""
        t0, t_s = self.started.get("t0_at"), e.payload.get("t_s")
        if t0 and t_s is not None:
            return datetime.fromisoformat(str(t0)) + timedelta(seconds=float(t_s))
        return e.at

    def of_kind(self, *kinds: str) -> list[LedgerEvent]:
        return [e for e in self.events if e.kind in kinds]

    def steps(self, event_kind: str, step_kind: str) -> list[LedgerEvent]:
        return [e for e in self.events if e.kind == event_kind and e.payload.get("kind") == step_kind]

    def step(self, event_kind: str, step_kind: str, stage: int | None = None) -> LedgerEvent | None:
        found = [e for e in self.steps(event_kind, step_kind)
                 if stage is None or e.payload.get("stage") == stage]
        return found[-1] if found else None

    def stages_started(self) -> list[int]:
        return sorted({int(e.payload["stage"]) for e in self.steps("step_started", "stage")})

    def decisions(self, phase: str, stage: int | None = None) -> list[LedgerEvent]:
        return [e for e in self.of_kind("decision") if e.payload.get("phase") == phase
                and (stage is None or e.payload.get("stage") == stage)]

    def stage_weight(self, stage: int) -> float:
        ev = self.step("step_started", "stage", stage)
        if ev is not None and ev.payload.get("weight") is not None:
            return float(ev.payload["weight"])
        return self.plan.stages[stage].weight if stage < len(self.plan.stages) else 0.0


def plan_from_ledger(started: Mapping[str, Any]) -> Plan:
    """The plan recorded in run_started. The ledger's canonical JSON sorts keys, which loses the
    order of the gates; it is restored from `gate_order` when recorded, else the default plan's."""
    data = dict(started.get("plan") or {})
    gates = data.get("gates")
    if isinstance(gates, Mapping):
        order = list(started.get("gate_order") or default_gates())
        rank = {name: i for i, name in enumerate(order)}
        data["gates"] = dict(sorted(gates.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))
    return Plan.model_validate(data)


def canary_values(payload: Mapping[str, Any], track: str = "canary") -> Mapping[str, float | None] | None:
    sample = (payload.get("inputs") or {}).get(track)
    return None if sample is None else sample.get("values") or {}


# --------------------------------------------------------------------------- canary_timeline.txt


def canary_timeline(v: RunView) -> str:
    lines = [f"CANARY TIMELINE {v.version} ({v.plan.release.service})", f"Run: {v.run_id}"]
    stage_events = v.of_kind("step_started", "step_completed", "hold_started", "rollback_started")
    first = v.step("step_started", "stage", 0)
    if first is not None:
        lines.append(f"T0={ts(first.at)}")
    for e in stage_events:
        p = e.payload
        if e.kind.startswith("step_") and p.get("kind") == "stage":
            n, w = int(p["stage"]) + 1, v.stage_weight(int(p["stage"]))
            what = "start" if e.kind == "step_started" else "complete"
            extra = ""
            if what == "complete" and isinstance(p.get("details"), Mapping):
                d = p["details"]
                extra = f" ticks={d.get('ticks', '?')} holds={d.get('holds', 0)}"
            lines.append(f"Stage {n} ({w:g}%) {what}: {ts(e.at)} ({v.label(e)}){extra}")
        elif e.kind == "hold_started":
            length = "until the IC proceeds" if p.get("hold_s") is None else \
                f"for {float(p['hold_s']) / 60:g} min"
            lines.append(f"HOLD stage {int(p.get('stage') or 0) + 1} #{p.get('n')}: {ts(e.at)} "
                         f"{length}: {reasons_text(p.get('reasons', ()))}")
        elif e.kind == "rollback_started":
            lines.append(f"ROLLBACK ({p.get('trigger')}): {ts(e.at)}: {reasons_text(p.get('reasons', ()))}")
    promoted = v.step("step_completed", "promoted")
    rollbacks = len(v.of_kind("rollback_started"))
    ended = next(iter(v.of_kind("run_ended")[-1:]), None)
    if promoted is not None:
        key = str(promoted.payload.get("label", "T90")).replace("+", "")
        last = len(v.plan.stages)
        lines += [f"{key}={ts(promoted.at)}", f"Stage: {last} ({v.plan.stages[-1].weight:g}%)",
                  "Status: Complete"]
    else:
        status = "Rolled back" if rollbacks else (
            str(ended.payload.get("status", "")).replace("_", " ").capitalize() if ended else "In progress")
        lines.append(f"Status: {status}")
    lines.append(f"Rollbacks: {rollbacks}")
    if promoted is not None:
        lines.append(f"Next: First Night Monitoring ({v.plan.timeline.first_night_h:g}h)")
    fn_start, fn_end = v.step("step_started", "first_night"), v.step("step_completed", "first_night")
    if fn_start is not None:
        done = f" .. {ts(fn_end.at)}" if fn_end is not None else " (in progress)"
        lines.append(f"First night: {ts(fn_start.at)}{done}, "
                     f"{len(v.decisions('first_night'))} check-in(s)")
    if ended is not None:
        p = ended.payload
        lines.append(f"Ended: {p.get('status')} at {ts(ended.at)}: {p.get('reason', '')}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- per stage


def stage_summary(v: RunView, stage: int) -> str:
    n, w = stage + 1, v.stage_weight(stage)
    start = v.step("step_started", "stage", stage)
    done = v.step("step_completed", "stage", stage)
    ticks = v.decisions("stage", stage)
    holds = [e for e in v.of_kind("hold_started") if e.payload.get("stage") == stage]
    rolled = [e for e in v.of_kind("rollback_started") if e.payload.get("stage") == stage]
    outcome = "complete" if done else "rolled back" if rolled else "not completed"
    head = f"STAGE {n} SUMMARY ({w:g}%)"
    lines = [head, "=" * len(head), f"Release: {v.version}", f"Run: {v.run_id}",
             f"Started: {ts(start.at) + ' (' + v.label(start) + ')' if start else '-'}",
             f"Ended: {ts(done.at) + ' (' + v.label(done) + ')' if done else '-'}", f"Outcome: {outcome}",
             f"Ticks: {len(ticks)}  Holds: {len(holds)}"]
    for h in holds:
        lines.append(f"  hold #{h.payload.get('n')} at {h.payload.get('label', ts(h.at))}: "
                     f"{reasons_text(h.payload.get('reasons', ()))}")
    for r in rolled:
        lines.append(f"  rollback ({r.payload.get('trigger')}): {reasons_text(r.payload.get('reasons', ()))}")
    if ticks:
        last = ticks[-1].payload
        lines += ["", f"Last decision ({last.get('label', '')}): {last.get('action')}, "
                      f"{last.get('passing')}/{last.get('gates')} metrics PASS", ""]
        lines.append(f"{'metric':<26} {'canary':>10} {'baseline':>10} {'threshold':>11}  verdict  reason")
        for verdict in last.get("verdicts", ()):
            gate = v.plan.gates.get(verdict["metric"])
            unit = gate.unit if gate else ""
            limit = f"{'<=' if not gate or gate.direction.value == 'lower_is_better' else '>='}" \
                    f"{value_text(gate.threshold, unit)}" if gate else "-"
            lines.append(f"{verdict['metric']:<26} {value_text(verdict.get('canary'), unit):>10} "
                         f"{value_text(verdict.get('baseline'), unit):>10} {limit:>11}  "
                         f"{verdict.get('verdict', ''):<7}  {verdict.get('reason', '')}")
        lines += ["", f"Result: {last.get('passing')}/{last.get('gates')} metrics PASS"]
    else:
        lines += ["", "No decision was recorded in this stage."]
    return "\n".join(lines) + "\n"


def _gates_json(plan: Plan) -> dict[str, Any]:
    return {name: {"unit": g.unit, "threshold": g.threshold, "direction": g.direction.value,
                   "short": g.short, "kind": g.kind.value} for name, g in plan.gates.items()}


def _tick_rows(v: RunView, stage: int) -> list[dict[str, Any]]:
    rows = []
    for e in v.decisions("stage", stage):
        p = e.payload
        inputs = p.get("inputs") or {}
        verdicts = {x["metric"]: x for x in p.get("verdicts", ())}
        base, can = canary_values(p, "baseline") or {}, canary_values(p) or {}
        metrics = {name: {"baseline": base.get(name), "canary": can.get(name),
                          "verdict": verdicts.get(name, {}).get("verdict"),
                          "reason": verdicts.get(name, {}).get("reason")} for name in v.plan.gates}
        rows.append({
            "seq": e.seq, "at": ts(e.at), "t_s": p.get("t_s"), "label": p.get("label"),
            "action": p.get("action"), "passing": p.get("passing"), "gates": p.get("gates"),
            "requests": {t: (inputs.get(t) or {}).get("requests") for t in ("baseline", "canary")},
            "metrics": metrics,
        })
    return rows


def stage_metrics_json(v: RunView, stage: int) -> str:
    doc = {"run_id": v.run_id, "release": v.version, "stage": stage + 1, "weight": v.stage_weight(stage),
           "gates": _gates_json(v.plan), "ticks": _tick_rows(v, stage)}
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def stage_metrics_csv(v: RunView, stage: int) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["seq", "at", "t_s", "label", "action", "metric", "unit", "threshold", "baseline",
                "canary", "verdict"])
    for row in _tick_rows(v, stage):
        for name, m in row["metrics"].items():
            g = v.plan.gates[name]
            w.writerow([row["seq"], row["at"], row["t_s"], row["label"], row["action"], name, g.unit,
                        g.threshold, "" if m["baseline"] is None else m["baseline"],
                        "" if m["canary"] is None else m["canary"], m["verdict"] or ""])
    return out.getvalue()


# --------------------------------------------------------------------------- war room, parking lot


def war_room_lines(v: RunView) -> list[str]:
    """Every war-room line of the run, in order (the same function as the runner's live log)."""
    return [minutes.line(e.payload) for e in v.events if e.kind == "war_room"]


def war_room_log(v: RunView) -> str:
    head = [f"# War room {v.version} run {v.run_id}: Observation -> Metric -> Decision (signal only)"]
    return "\n".join(head + war_room_lines(v)) + "\n"


def parking_lot(v: RunView) -> str:
    items = v.of_kind("parking_lot")
    lines = [f"PARKING LOT {v.version} run {v.run_id} (theory and opinion, kept out of the war-room log)", ""]
    for e in items:
        by = e.payload.get("by") or "-"
        lines.append(f"{ts(e.at)} | {by} | {str(e.payload.get('text', '')).replace(chr(10), ' ')}")
    if not items:
        lines.append("(empty)")
    return "\n".join(lines) + "\n"


__all__ = [
    "PARKING_LOT_FILE", "RunView", "WAR_ROOM_FILE", "canary_timeline", "canary_values", "metrics_text", "num",
    "parking_lot", "plan_from_ledger", "stage_metrics_csv", "stage_metrics_json", "stage_summary", "ts",
    "value_text", "war_room_lines", "war_room_log",
]
