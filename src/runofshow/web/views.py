"""What the pages show, built from a run's ledger events with the functions the runner, the evidence
and the report already use (the fold, the war-room line formatter, the evidence renderers, the
report's plotly figures). Pure apart from reading the evidence folder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runofshow.app.run import minutes
from runofshow.app.run.event_types import DecisionMade, IcDecision, IcHandover, IcRefused, ParkingLot, WarRoom
from runofshow.app.run.state import RunState, fold, next_move
from runofshow.app.warroom.commander import current_ics
from runofshow.domain.timeline import schedule
from runofshow.ports import LedgerEvent, RunRecord
from runofshow.reports import evidence, evidence_steps, report_figures
from runofshow.reports.evidence_render import RunView, parking_lot, ts, war_room_lines
from runofshow.reports.html import decision_rows

#: a running run whose next move is overdue by this many wall seconds looks stalled (runner down?)
STALE_S = 7.0


def t_label(t_s: float | None) -> str:
    """T-20:00, T+05:30 (minutes:seconds of plan time), T+26.0h past a day."""
    if t_s is None:
        return "-"
    sign = "-" if t_s < 0 else "+"
    s = abs(int(round(t_s)))
    if s >= 24 * 3600:
        return f"T{sign}{s / 3600:.1f}h"
    return f"T{sign}{s // 60:02d}:{s % 60:02d}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = max(0, int(round(seconds)))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def plan_now_t_s(state: RunState, wall_now: datetime) -> float | None:
    """Plan seconds since T0 at `wall_now` on the run's recorded clock; the last event's for an ended run."""
    if not state.started:
        return None
    if state.ended or not state.clock.get("anchor_at"):
        return state.last_t_s
    clock = state.clock
    anchor = datetime.fromisoformat(clock["anchor_at"])
    plan_anchor = datetime.fromisoformat(clock.get("plan_anchor_at") or clock["anchor_at"])
    plan_now = plan_anchor + (wall_now - anchor) * float(clock.get("speed", 1.0))
    return (plan_now - state.t0_at).total_seconds()


def overdue_s(
    state: RunState, events: Sequence[LedgerEvent], now_t: float | None, wall_now: datetime
) -> float:
    """Wall seconds the runner's next move is overdue (0 when nothing is due, or the run is ended or
    paused): a runner that has gone down shows as a tick that does not come."""
    if not state.started or state.ended or state.status.value == "paused" or not events or now_t is None:
        return 0.0
    plan = state.plan()
    nxt = next_move(
        state,
        schedule(plan),
        tick_s=plan.decision.tick_interval_s,
        checkin_s=plan.timeline.checkin_every_min * 60,
        first_night_s=plan.timeline.first_night_h * 3600,
    )
    if nxt is None:
        return 0.0
    since_last = (wall_now - events[-1].at).total_seconds()
    if nxt.due_t_s is None:  # due at once: the runner should have moved since its last event
        return max(0.0, since_last)
    return max(0.0, min(since_last, (now_t - nxt.due_t_s) / max(state.speed, 1e-9)))


@dataclass(frozen=True)
class Summary:
    """One row of the release board (and the head of a run page)."""

    run_id: str
    release: str
    version: str
    status: str
    stage: str
    weight: str
    t_minus: str
    in_stage: str
    holds: str
    last_decision: str
    last_seq: int
    stalled: bool
    ended: bool

    def json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def summary(
    record: RunRecord,
    events: Sequence[LedgerEvent],
    wall_now: datetime | None = None,
    state: RunState | None = None,
) -> Summary:
    wall_now = wall_now or datetime.now(UTC)
    state = state if state is not None else fold(events)
    now_t = plan_now_t_s(state, wall_now)
    stages = len(state.started.get("plan", {}).get("stages", []) or [])
    stage = "-" if state.stage is None else f"{state.stage + 1}/{stages}" if stages else str(state.stage + 1)
    weight = "-" if state.weight is None else f"{minutes.num(state.weight, 2)}%"
    in_stage = None
    if state.stage_started_t_s is not None and now_t is not None and not state.ended:
        in_stage = now_t - state.stage_started_t_s
    if state.ic_hold:
        holds = f"held by {state.ic_hold}"  # "IC alice"
    elif state.holding:
        holds = f"hold {state.holds} (until {t_label(state.hold_until_t_s)})"
    else:
        holds = str(state.holds) if state.holds else "none"
    lines = [e.payload for e in events if e.kind == "war_room" and e.payload.get("decision")]
    last_line = minutes.line(lines[-1]) if lines else "-"
    stalled = overdue_s(state, events, now_t, wall_now) > STALE_S
    return Summary(
        run_id=record.run_id,
        release=record.release,
        version=record.version,
        status=state.status.value if state.started else record.status,
        stage=stage,
        weight=weight,
        t_minus=t_label(now_t),
        in_stage=duration(in_stage),
        holds=holds,
        last_decision=last_line,
        last_seq=state.last_seq,
        stalled=stalled,
        ended=state.ended,
    )


@dataclass
class EvidenceFile:
    name: str
    size: int
    status: str  # ok, changed, added (not in the manifest)


@dataclass
class RunPage:
    """Everything the run page shows."""

    summary: Summary
    timeline: list[dict[str, Any]]
    weights: list[dict[str, Any]]
    gates: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    ic_decisions: list[dict[str, Any]]
    war_room: list[str]
    parking_lot: list[dict[str, Any]]
    steps: dict[str, str | None]
    evidence_dir: str
    evidence_status: str
    evidence_files: list[EvidenceFile] = field(default_factory=list)
    incident_commanders: tuple[str, ...] = ()  # who holds the IC role now (after any handover)
    can_rollback: bool = True
    war_room_why: list[dict[str, str]] = field(default_factory=list)  # the lines' detail: why, in a sentence


def _timeline(state: RunState, now_t: float | None) -> list[dict[str, Any]]:
    rows = []
    for step in state.started.get("steps", []) or []:
        i = int(step.get("index", 0))
        where = "done" if i in state.steps_completed else "now" if i == state.open_step else "next"
        rows.append(
            {
                "label": step.get("label"),
                "title": step.get("title"),
                "where": where,
                "offset": t_label(step.get("offset_s")),
            }
        )
    if now_t is not None and not state.ended:
        rows.append({"label": t_label(now_t), "title": "now", "where": "clock", "offset": ""})
    return rows


def _weights(events: Sequence[LedgerEvent]) -> list[dict[str, Any]]:
    intents = {e.payload.get("id"): e.payload for e in events if e.kind == "weight_intent"}
    rows = []
    for e in events:
        if e.kind == "weight_outcome":
            p = e.payload
            intent = intents.get(p.get("id"), {})
            stage = intent.get("stage")
            rows.append(
                {
                    "at": t_label(p.get("t_s")),
                    "stage": "-" if stage is None else int(stage) + 1,
                    "reason": intent.get("reason", ""),
                    "weight": p.get("weight"),
                    "read_back": p.get("read_back"),
                    "ok": p.get("ok"),
                }
            )
    return rows


def _gates(v: RunView) -> list[dict[str, Any]]:
    decisions = v.of_kind(DecisionMade)
    last = decisions[-1].to_payload() if decisions else None
    verdicts = {str(x.get("metric")): x for x in (last.get("verdicts") or [])} if last else {}
    rows = []
    for name, gate in v.plan.gates.items():
        vd = verdicts.get(name, {})
        rows.append(
            {
                "name": name,
                "short": gate.short or name,
                "canary": minutes.value_text(vd.get("canary"), gate.unit) if vd else "n/a",
                "baseline": minutes.value_text(vd.get("baseline"), gate.unit) if vd else "n/a",
                "threshold": minutes.value_text(gate.threshold, gate.unit),
                "direction": "at most" if gate.direction.value.startswith("lower") else "at least",
                "verdict": vd.get("verdict", "-"),
                "reason": vd.get("reason", ""),
            }
        )
    return rows


def _evidence(folder: Path, events: Sequence[LedgerEvent]) -> tuple[str, list[EvidenceFile]]:
    if not folder.is_dir():
        return "no evidence folder yet", []
    names = evidence.bundle_files(folder)
    if not (folder / evidence.MANIFEST).is_file():
        status, changed, added = "no manifest yet (written at the close-out)", set(), set(names)
    else:
        report = evidence.verify(folder, events)
        changed, added = set(report.changed) | set(report.missing), set(report.added)
        status = "verified" if report.ok else "DOES NOT VERIFY: " + "; ".join(report.problems()[:3])
        names = [*names, evidence.MANIFEST]
    files = [
        EvidenceFile(
            n,
            (folder / n).stat().st_size,
            "changed" if n in changed else "not in manifest" if n in added else "ok",
        )
        for n in names
        if (folder / n).is_file()
    ]
    return status, files


def run_figures(events: Sequence[LedgerEvent]) -> dict[str, Any]:
    """The report's plotly figures (traffic, then each gate), as JSON-ready dicts."""
    if not any(e.kind == "run_started" for e in events):
        return {}
    v = RunView.of(events)
    figures = {"weight": json.loads(report_figures.weight_figure(v).to_json())}
    for name in v.plan.gates:
        figures[f"gate-{name}"] = json.loads(report_figures.gate_figure(v, name).to_json())
    return figures


def run_page(
    record: RunRecord,
    events: Sequence[LedgerEvent],
    wall_now: datetime | None = None,
    state: RunState | None = None,
    view: RunView | None = None,
) -> RunPage:
    wall_now = wall_now or datetime.now(UTC)
    state = state if state is not None else fold(events)
    v = view if view is not None else RunView.of(events)
    now_t = plan_now_t_s(state, wall_now)
    blast = evidence_steps.blast_file(v) if state.started else None
    steps = {
        "preflight": evidence_steps.preflight_text(v) if state.started else None,
        "blast": blast[1] if blast else None,
        "freeze": "\n".join(
            t for t in (evidence_steps.freeze_start_text(v), evidence_steps.freeze_end_text(v)) if t
        )
        or None,
        "first_night": "\n".join(evidence_steps.checkins(v).values()) or None if state.started else None,
    }
    folder = Path(v.plan.evidence_dir)
    status, files = _evidence(folder, events)
    notes = [
        {"at": ts(e.at), "by": e.by, "text": e.text, "proof": (e.identity or {}).get("proof", "")}
        for e in v.of_kind(ParkingLot)
    ]
    ics = [
        {
            "at": ts(e.at), "kind": e.kind, "by": e.by, "reason": e.reason,
            "action": f"handover to {e.to}" if isinstance(e, IcHandover) else e.action,
            "why": e.why if isinstance(e, IcRefused) else None, "proof": (e.identity or {}).get("proof", ""),
        }
        for e in sorted([*v.of_kind(IcDecision), *v.of_kind(IcRefused), *v.of_kind(IcHandover)],
                        key=lambda e: e.seq)
    ]
    return RunPage(
        summary=summary(record, events, wall_now, state),
        timeline=_timeline(state, now_t),
        weights=_weights(events),
        gates=_gates(v) if state.started else [],
        decisions=decision_rows(v),
        ic_decisions=ics,
        war_room=war_room_lines(v),
        parking_lot=notes,
        steps=steps,
        evidence_dir=str(folder),
        evidence_status=status,
        evidence_files=files,
        incident_commanders=current_ics(v.plan, state) if state.started else (),
        can_rollback=not state.ended or state.status.value == "halted",
        war_room_why=[
            {"line": minutes.line(e.to_payload()), "why": e.why} for e in v.of_kind(WarRoom) if e.why
        ],
    )


def evidence_path(record: RunRecord, events: Sequence[LedgerEvent], name: str) -> Path | None:
    """The evidence file `name` of the run, when it is one of the bundle's files (nothing else)."""
    v = RunView.of(events)
    folder = Path(v.plan.evidence_dir)
    if not folder.is_dir():
        return None
    allowed = set(evidence.bundle_files(folder)) | {evidence.MANIFEST}
    path = folder / name
    return path if name in allowed and path.is_file() else None


__all__ = [
    "EvidenceFile",
    "RunPage",
    "Summary",
    "duration",
    "evidence_path",
    "parking_lot",
    "plan_now_t_s",
    "run_figures",
    "run_page",
    "summary",
    "t_label",
]
