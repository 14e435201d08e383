"""Views over ledger events and run records, shared by `run`, `resume`, `runs`, `status`,
`events` and `demo`: one-line summaries for a terminal and JSON rows for machines."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from runofshow.app.run import event_types as et
from runofshow.app.run import minutes
from runofshow.app.run.state import RunState
from runofshow.domain.timeline import t_label
from runofshow.ports import Lease, LedgerEvent, RunRecord


def stage_no(stage: int | None) -> int | None:
    """The 1-based stage number people read (the ledger keeps the 0-based index)."""
    return None if stage is None else stage + 1


def run_row(record: RunRecord, lease: Lease | None = None) -> dict[str, Any]:
    """A runs row; with team mode's lease (else None): owner, lease_expires_at, epoch, and for a
    queued run held back by a cap (a worker's or its plan's) status `waiting` with the cap's reason."""
    waiting = None if lease is None or lease.status != "queued" else lease.waiting
    return {
        "run_id": record.run_id, "release": record.release, "version": record.version,
        "status": "waiting" if waiting else record.status, "stage": stage_no(record.stage),
        "weight": record.weight, "waiting": waiting,
        "started_at": record.started_at.isoformat(),
        "owner": None if lease is None else lease.owner,
        "lease_expires_at": None if lease is None or lease.expires_at is None
        else lease.expires_at.isoformat(),
        "epoch": None if lease is None else lease.epoch,
    }


def label(t_s: float | None) -> str:
    if t_s is None:
        return "T?"
    return t_label(timedelta(minutes=round(t_s / 60)))


def event_json(event: LedgerEvent) -> str:
    return json.dumps({
        "run_id": event.run_id, "seq": event.seq, "at": event.at.isoformat(), "kind": event.kind,
        "payload": event.payload, "prev_hash": event.prev_hash, "hash": event.hash,
    }, sort_keys=True, ensure_ascii=False)


def _w(value: Any) -> str:
    return "?" if value is None else f"{float(value):g}%"


def event_summary(event: LedgerEvent | et.Event) -> str:
    """What happened, in one line."""
    e = event if isinstance(event, et.Event) else et.parse(event)
    match e:
        case et.RunStarted():
            return f"run {e.run_id} of {e.release} {e.version} (speed {e.speed}x)"
        case et.StepStarted():
            return f"{e.label} {e.title}: start"
        case et.StepCompleted():
            return f"{e.label} {e.title}: {'done' if e.ok else 'FAILED'}"
        case et.WeightIntent():
            return f"intent {e.id}: set {_w(e.weight)} ({e.reason})"
        case et.WeightOutcome():
            ok = "ok" if e.ok else f"NOT CONFIRMED ({e.error or 'read back differs'})"
            return f"outcome {e.id}: read back {_w(e.read_back)} {ok} [{e.resolved_on}]"
        case et.DecisionMade():
            judged = f"{e.passing}/{e.gates} PASS" if e.verdicts or not e.alerts else "no gate judged"
            return (f"{e.trigger} at {_w(e.weight)}: {e.action} {judged}"
                    + (" stage complete" if e.stage_complete else "")
                    + (f" - {_why(e)}" if e.action != "proceed" else ""))
        case et.HoldStarted():
            return f"hold {e.n}/{e.max_holds} of stage {stage_no(e.stage)}"
        case et.HoldEnded():
            return f"hold {e.n} ended"
        case et.RollbackStarted():
            return f"rollback ({e.trigger}): {'; '.join(e.reasons)}"
        case et.AlertReceived():
            return "webhook alert: " + ", ".join(a.name for a in e.alerts)
        case et.WarRoom():
            return minutes.text(e.to_payload())
        case et.IcDecision():
            return f"IC {e.by}: {e.action} ({e.reason})"
        case et.IcRefused():
            return f"REFUSED {e.action} from {e.by}: {e.why}"
        case et.ParkingLot():
            return f"parking lot ({e.by}): {e.text}"
        case et.WebhookRefused():
            more = f" (+{e.suppressed} more not recorded one by one)" if e.suppressed else ""
            return f"webhook call refused from {e.source}: {e.reason}{more}"
        case et.NotifyFailed():
            return f"notification {e.event} via {e.channel} failed: {e.error}"
        case et.Paused():
            return f"paused at {_w(e.weight)}: {e.reason}"
        case et.Resumed():
            return f"resumed ({e.previous_status}), weight read back {_w(e.weight)}"
        case et.Takeover():
            return f"taken over by {e.new_owner} from {e.old_owner or '?'} (epoch {e.epoch})"
        case et.RunEnded():
            return f"{e.status} (exit {e.exit_code}): {e.reason}"
    return e.kind


def war_room_line(event: LedgerEvent | et.Event) -> str | None:
    """The line `run` prints for an event: war-room lines only, exactly as warroom_log.txt has them."""
    e = event if isinstance(event, et.Event) else et.parse(event)
    return minutes.line(e.to_payload()) if isinstance(e, et.WarRoom) else None


def _refusal(e: et.WebhookRefused | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"at": e.refused_at, "t_s": e.t_s, "source": e.source, "reason": e.reason}


def _why(e: et.DecisionMade) -> str:
    """The decision's sentence without its head (`hold at 5 %: `, the line says it), else its reasons."""
    if e.sentence:
        head, _, rest = e.sentence.partition(": ")
        return rest if rest and head.startswith(e.action) else e.sentence
    return "; ".join(e.reasons[:2])


def _last_decision(e: et.DecisionMade | None) -> dict[str, Any] | None:
    """The last tick's decision and why, in one sentence (older ledgers: its first reasons)."""
    if e is None:
        return None
    why = e.sentence or "; ".join(e.reasons[:2]) or None
    return {"t_s": e.t_s, "label": e.label, "action": e.action, "why": why}


def status_view(record: RunRecord, state: RunState, chain_problems: list[str] | None,
                lease: Lease | None = None) -> dict[str, Any]:
    """`runofshow status --json`: the runs row (and lease) plus what the folded events say."""
    last = state.history[-1] if state.history else None
    out = run_row(record, lease)
    out.update({
        "phase": state.phase.value if state.phase else None,
        "t_s": state.last_t_s, "label": label(state.last_t_s),
        "stages_completed": [s + 1 for s in state.stages_completed],
        "holds": state.holds, "resumes": state.resumes, "events": state.last_seq,
        "open_intent": None if state.open_intent is None else state.open_intent.id,
        "last_tick": None if last is None else {"t_s": last.t_s, "weight": last.weight},
        "ended": state.ended, "exit_code": state.exit_code, "reason": state.end_reason,
        "rollback_reasons": list(state.rollback_reasons),
        "last_decision": _last_decision(state.last_decision),
        "webhook_refusals": state.webhook_refusals, "last_webhook_refusal": _refusal(state.last_refusal),
        "chain_ok": None if chain_problems is None else not chain_problems,
    })
    return out


__all__ = ["event_json", "event_summary", "label", "run_row", "stage_no", "status_view", "war_room_line"]
