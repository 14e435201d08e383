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
from typing import Any, TypeVar

from runofshow.app.run import event_types as et
from runofshow.app.run import minutes
from runofshow.app.run.minutes import metrics_text, num, value_text
from runofshow.domain.plan import Plan
from runofshow.domain.rules import default_gates
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
    """A run's events, typed (`runofshow.app.run.event_types`), with the lookups the renderers share."""

    events: list[et.TypedEvent]
    plan: Plan
    run_id: str = ""

    @classmethod
    def of(cls, events: Iterable[LedgerEvent | et.Event], plan: Plan | None = None, *,
           run_id: str = "") -> RunView:
        """The view of `events` (ledger rows, or events already parsed); `plan` None: the one
        recorded in run_started. The run id is the rows' (parsed events: `run_id`, else run_started's)."""
        rows = sorted(events, key=lambda e: e.seq)
        evs = et.parse_all(rows)
        started = next((e for e in evs if isinstance(e, et.RunStarted)), _NOT_STARTED)
        if rows and isinstance(rows[0], LedgerEvent):
            run_id = rows[0].run_id
        return cls(evs, plan if plan is not None else plan_from_ledger(started), run_id or started.run_id)

    @property
    def started(self) -> et.RunStarted:
        return next((e for e in self.events if isinstance(e, et.RunStarted)), _NOT_STARTED)

    @property
    def version(self) -> str:
        return self.started.version or self.plan.release.version

    def label(self, e: et.Event) -> str:
        """T0, T+15, T+25.5h ... of the event itself (a step event's `label` is its step's start)."""
        if e.t_s is None:
            return e.label if isinstance(e, et.StepEvent | et.DecisionMade | et.WarRoom) else ""
        return t_label(timedelta(minutes=round(e.t_s / 60)))

    def plan_at(self, e: et.Event) -> datetime:
        """The event's plan-time instant (T0 + t_s), or its wall time when that is unknown."""
        t0 = self.started.t0_at
        if t0 and e.t_s is not None:
            return datetime.fromisoformat(t0) + timedelta(seconds=e.t_s)
        assert e.at is not None
        return e.at

    def of_kind(self, kind: type[K]) -> list[K]:
        return [e for e in self.events if type(e) is kind]

    def steps(self, kind: type[S], step_kind: str) -> list[S]:
        return [e for e in self.of_kind(kind) if e.step_kind == step_kind]

    def step(self, kind: type[S], step_kind: str, stage: int | None = None) -> S | None:
        found = [e for e in self.steps(kind, step_kind) if stage is None or e.stage == stage]
        return found[-1] if found else None

    def stages_started(self) -> list[int]:
        return sorted({e.stage for e in self.steps(et.StepStarted, "stage") if e.stage is not None})

    def decisions(self, phase: str, stage: int | None = None) -> list[et.DecisionMade]:
        return [e for e in self.of_kind(et.DecisionMade) if e.phase == phase
                and (stage is None or e.stage == stage)]

    def stage_weight(self, stage: int) -> float:
        ev = self.step(et.StepStarted, "stage", stage)
        if ev is not None and ev.weight is not None:
            return ev.weight
        return self.plan.stages[stage].weight if stage < len(self.plan.stages) else 0.0


_NOT_STARTED = et.RunStarted()
K = TypeVar("K", bound=et.Event)
S = TypeVar("S", bound=et.StepEvent)


def at(e: et.Event) -> datetime:
    """The event's wall-clock instant (every event read from a ledger has one)."""
    assert e.at is not None, "an event that was not read from a ledger"
    return e.at


def plan_from_ledger(started: et.RunStarted) -> Plan:
    """The plan recorded in run_started. The ledger's canonical JSON sorts keys, which loses the
    order of the gates; it is restored from `gate_order` when recorded, else the default plan's."""
    data = dict(started.plan)
    gates = data.get("gates")
    if isinstance(gates, Mapping):
        order = list(started.gate_order or default_gates())
        rank = {name: i for i, name in enumerate(order)}
        data["gates"] = dict(sorted(gates.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))
    return Plan.model_validate(data)


def canary_values(e: et.DecisionMade, track: str = "canary") -> Mapping[str, float | None] | None:
    return e.values(track)


# --------------------------------------------------------------------------- canary_timeline.txt


def canary_timeline(v: RunView) -> str:
    lines = [f"CANARY TIMELINE {v.version} ({v.plan.release.service})", f"Run: {v.run_id}"]
    first = v.step(et.StepStarted, "stage", 0)
    if first is not None:
        lines.append(f"T0={ts(at(first))}")
    for e in v.events:
        match e:
            case et.StepStarted(step_kind="stage", stage=int(stage)) | \
                    et.StepCompleted(step_kind="stage", stage=int(stage)):
                n, w = stage + 1, v.stage_weight(stage)
                what = "start" if isinstance(e, et.StepStarted) else "complete"
                extra = ""
                if isinstance(e, et.StepCompleted) and e.details:
                    d = e.details
                    extra = f" ticks={d.get('ticks', '?')} holds={d.get('holds', 0)}"
                lines.append(f"Stage {n} ({w:g}%) {what}: {ts(at(e))} ({v.label(e)}){extra}")
            case et.HoldStarted():
                length = "until the IC proceeds" if e.hold_s is None else f"for {e.hold_s / 60:g} min"
                lines.append(f"HOLD stage {(e.stage or 0) + 1} #{e.n}: {ts(at(e))} "
                             f"{length}: {reasons_text(e.reasons)}")
            case et.RollbackStarted():
                lines.append(f"ROLLBACK ({e.trigger}): {ts(at(e))}: {reasons_text(e.reasons)}")
    promoted = v.step(et.StepCompleted, "promoted")
    rollbacks = len(v.of_kind(et.RollbackStarted))
    ended = next(iter(v.of_kind(et.RunEnded)[-1:]), None)
    if promoted is not None:
        key = (promoted.label or "T90").replace("+", "")
        last = len(v.plan.stages)
        lines += [f"{key}={ts(at(promoted))}", f"Stage: {last} ({v.plan.stages[-1].weight:g}%)",
                  "Status: Complete"]
    else:
        status = "Rolled back" if rollbacks else (
            ended.status.replace("_", " ").capitalize() if ended else "In progress")
        lines.append(f"Status: {status}")
    lines.append(f"Rollbacks: {rollbacks}")
    if promoted is not None:
        lines.append(f"Next: First Night Monitoring ({v.plan.timeline.first_night_h:g}h)")
    fn_start, fn_end = v.step(et.StepStarted, "first_night"), v.step(et.StepCompleted, "first_night")
    if fn_start is not None:
        done = f" .. {ts(at(fn_end))}" if fn_end is not None else " (in progress)"
        lines.append(f"First night: {ts(at(fn_start))}{done}, "
                     f"{len(v.decisions('first_night'))} check-in(s)")
    if ended is not None:
        lines.append(f"Ended: {ended.status} at {ts(at(ended))}: {ended.reason}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- per stage


def stage_summary(v: RunView, stage: int) -> str:
    n, w = stage + 1, v.stage_weight(stage)
    start = v.step(et.StepStarted, "stage", stage)
    done = v.step(et.StepCompleted, "stage", stage)
    ticks = v.decisions("stage", stage)
    holds = [e for e in v.of_kind(et.HoldStarted) if e.stage == stage]
    rolled = [e for e in v.of_kind(et.RollbackStarted) if e.stage == stage]
    outcome = "complete" if done else "rolled back" if rolled else "not completed"
    head = f"STAGE {n} SUMMARY ({w:g}%)"
    lines = [head, "=" * len(head), f"Release: {v.version}", f"Run: {v.run_id}",
             f"Started: {ts(at(start)) + ' (' + v.label(start) + ')' if start else '-'}",
             f"Ended: {ts(at(done)) + ' (' + v.label(done) + ')' if done else '-'}", f"Outcome: {outcome}",
             f"Ticks: {len(ticks)}  Holds: {len(holds)}"]
    for h in holds:
        lines.append(f"  hold #{h.n} at {ts(at(h))}: {reasons_text(h.reasons)}")
    for r in rolled:
        lines.append(f"  rollback ({r.trigger}): {reasons_text(r.reasons)}")
    if ticks:
        last = ticks[-1]
        lines += ["", f"Last decision ({last.label}): {last.action}, "
                      f"{last.passing}/{last.gates} metrics PASS"]
        lines += [f"Why: {last.sentence}", ""] if last.sentence else [""]
        lines.append(f"{'metric':<26} {'canary':>10} {'baseline':>10} {'threshold':>11}  verdict  reason")
        for verdict in last.verdicts:
            gate = v.plan.gates.get(verdict.metric)
            unit = gate.unit if gate else ""
            limit = f"{'<=' if not gate or gate.direction.value == 'lower_is_better' else '>='}" \
                    f"{value_text(gate.threshold, unit)}" if gate else "-"
            lines.append(f"{verdict.metric:<26} {value_text(verdict.canary, unit):>10} "
                         f"{value_text(verdict.baseline, unit):>10} {limit:>11}  "
                         f"{verdict.verdict:<7}  {verdict.reason}")
        lines += ["", f"Result: {last.passing}/{last.gates} metrics PASS"]
    else:
        lines += ["", "No decision was recorded in this stage."]
    return "\n".join(lines) + "\n"


def gates_json(plan: Plan) -> dict[str, Any]:
    return {name: {"unit": g.unit, "threshold": g.threshold, "direction": g.direction.value,
                   "short": g.short, "kind": g.kind.value} for name, g in plan.gates.items()}


def tick_rows(v: RunView, stage: int) -> list[dict[str, Any]]:
    rows = []
    for e in v.decisions("stage", stage):
        base, can = e.values("baseline") or {}, e.values("canary") or {}
        verdicts = {x.metric: x for x in e.verdicts}
        metrics = {name: {"baseline": base.get(name), "canary": can.get(name),
                          "verdict": verdicts[name].verdict if name in verdicts else None,
                          "reason": verdicts[name].reason if name in verdicts else None}
                   for name in v.plan.gates}
        samples = {t: e.sample(t) for t in ("baseline", "canary")}
        row = {
            "seq": e.seq, "at": ts(at(e)), "t_s": e.t_s, "label": e.label,
            "action": e.action, "passing": e.passing, "gates": e.gates,
            "requests": {t: None if x is None else x.requests for t, x in samples.items()},
            "metrics": metrics,
        }
        if e.sentence:  # older ledgers have none: their files stay as they were
            row["sentence"] = e.sentence
        rows.append(row)
    return rows


def stage_metrics_json(v: RunView, stage: int) -> str:
    doc = {"run_id": v.run_id, "release": v.version, "stage": stage + 1, "weight": v.stage_weight(stage),
           "gates": gates_json(v.plan), "ticks": tick_rows(v, stage)}
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def stage_metrics_csv(v: RunView, stage: int) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["seq", "at", "t_s", "label", "action", "metric", "unit", "threshold", "baseline",
                "canary", "verdict"])
    for row in tick_rows(v, stage):
        for name, m in row["metrics"].items():
            g = v.plan.gates[name]
            w.writerow([row["seq"], row["at"], row["t_s"], row["label"], row["action"], name, g.unit,
                        g.threshold, "" if m["baseline"] is None else m["baseline"],
                        "" if m["canary"] is None else m["canary"], m["verdict"] or ""])
    return out.getvalue()


# --------------------------------------------------------------------------- war room, parking lot


def feedback_lines(v: RunView) -> list[str]:
    """Every piece of user feedback (`runofshow feedback`): `T+25h neutral by carol: slow login`."""
    return [f"{v.label(e) or '-'} {e.sentiment} by {e.by or '?'}" + (f": {e.note}" if e.note else "")
            for e in v.of_kind(et.UserFeedback)]


def war_room_lines(v: RunView) -> list[str]:
    """Every war-room line of the run, in order (the same function as the runner's live log)."""
    return [minutes.line(e.to_payload()) for e in v.of_kind(et.WarRoom)]


def war_room_log(v: RunView) -> str:
    head = [f"# War room {v.version} run {v.run_id}: Observation -> Metric -> Decision (signal only)"]
    return "\n".join(head + war_room_lines(v)) + "\n"


def parking_lot(v: RunView) -> str:
    items = v.of_kind(et.ParkingLot)
    lines = [f"PARKING LOT {v.version} run {v.run_id} (theory and opinion, kept out of the war-room log)", ""]
    for e in items:
        lines.append(f"{ts(at(e))} | {e.by or '-'} | {e.text.replace(chr(10), ' ')}")
    if not items:
        lines.append("(empty)")
    return "\n".join(lines) + "\n"


__all__ = [
    "PARKING_LOT_FILE", "RunView", "WAR_ROOM_FILE", "at", "canary_timeline", "canary_values",
    "feedback_lines", "metrics_text",
    "num", "parking_lot", "plan_from_ledger", "stage_metrics_csv", "stage_metrics_json", "stage_summary",
    "gates_json", "tick_rows", "ts", "value_text", "war_room_lines", "war_room_log",
]
