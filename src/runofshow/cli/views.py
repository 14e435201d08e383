"""Views over ledger events and run records, shared by `run`, `resume`, `runs`, `status`,
`events` and `demo`: one-line summaries for a terminal and JSON rows for machines."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from runofshow.app.run import minutes
from runofshow.app.run.events import EventKind
from runofshow.app.run.state import RunState
from runofshow.domain.timeline import t_label
from runofshow.ports import LedgerEvent, RunRecord


def stage_no(stage: int | None) -> int | None:
    """The 1-based stage number people read (the ledger keeps the 0-based index)."""
    return None if stage is None else stage + 1


def run_row(record: RunRecord) -> dict[str, Any]:
    return {
        "run_id": record.run_id, "release": record.release, "version": record.version,
        "status": record.status, "stage": stage_no(record.stage), "weight": record.weight,
        "started_at": record.started_at.isoformat(),
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


def event_summary(event: LedgerEvent) -> str:
    """What happened, in one line."""
    p: Mapping[str, Any] = event.payload
    kind = event.kind
    if kind == EventKind.RUN_STARTED:
        return f"run {p.get('run_id')} of {p.get('release')} {p.get('version')} (speed {p.get('speed')}x)"
    if kind in (EventKind.STEP_STARTED, EventKind.STEP_COMPLETED):
        verb = "start" if kind == EventKind.STEP_STARTED else ("done" if p.get("ok", True) else "FAILED")
        return f"{p.get('label')} {p.get('title')}: {verb}"
    if kind == EventKind.WEIGHT_INTENT:
        return f"intent {p.get('id')}: set {_w(p.get('weight'))} ({p.get('reason')})"
    if kind == EventKind.WEIGHT_OUTCOME:
        ok = "ok" if p.get("ok") else f"NOT CONFIRMED ({p.get('error') or 'read back differs'})"
        return f"outcome {p.get('id')}: read back {_w(p.get('read_back'))} {ok} [{p.get('resolved_on')}]"
    if kind == EventKind.DECISION:
        return (f"{p.get('trigger')} at {_w(p.get('weight'))}: {p.get('action')} "
                f"{p.get('passing')}/{p.get('gates')} PASS" + (" stage complete" if p.get("stage_complete")
                                                               else "")
                + (f" - {'; '.join(p.get('reasons', [])[:2])}" if p.get("action") != "proceed" else ""))
    if kind == EventKind.HOLD_STARTED:
        return f"hold {p.get('n')}/{p.get('max_holds')} of stage {stage_no(p.get('stage'))}"
    if kind == EventKind.HOLD_ENDED:
        return f"hold {p.get('n')} ended"
    if kind == EventKind.ROLLBACK_STARTED:
        return f"rollback ({p.get('trigger')}): {'; '.join(p.get('reasons', []))}"
    if kind == EventKind.ALERT_RECEIVED:
        return "webhook alert: " + ", ".join(a.get("name", "?") for a in p.get("alerts", []))
    if kind == EventKind.WAR_ROOM:
        return minutes.text(p)
    if kind == EventKind.IC_DECISION:
        return f"IC {p.get('by')}: {p.get('action')} ({p.get('reason')})"
    if kind == EventKind.IC_REFUSED:
        return f"REFUSED {p.get('action')} from {p.get('by')}: {p.get('why')}"
    if kind == EventKind.PARKING_LOT:
        return f"parking lot ({p.get('by')}): {p.get('text')}"
    if kind == EventKind.NOTIFY_FAILED:
        return f"notification {p.get('event')} via {p.get('channel')} failed: {p.get('error')}"
    if kind == EventKind.PAUSED:
        return f"paused at {_w(p.get('weight'))}: {p.get('reason')}"
    if kind == EventKind.RESUMED:
        return f"resumed ({p.get('previous_status')}), weight read back {_w(p.get('weight'))}"
    if kind == EventKind.RUN_ENDED:
        return f"{p.get('status')} (exit {p.get('exit_code')}): {p.get('reason')}"
    return kind


def war_room_line(event: LedgerEvent) -> str | None:
    """The line `run` prints for an event: war-room lines only, exactly as warroom_log.txt has them."""
    if event.kind != EventKind.WAR_ROOM:
        return None
    return minutes.line(event.payload)


def status_view(record: RunRecord, state: RunState, chain_problems: list[str] | None) -> dict[str, Any]:
    """`runofshow status --json`: the runs row plus what the folded events say."""
    last = state.history[-1] if state.history else None
    out = run_row(record)
    out.update({
        "phase": state.phase.value if state.phase else None,
        "t_s": state.last_t_s, "label": label(state.last_t_s),
        "stages_completed": [s + 1 for s in state.stages_completed],
        "holds": state.holds, "resumes": state.resumes, "events": state.last_seq,
        "open_intent": None if state.open_intent is None else state.open_intent.id,
        "last_tick": None if last is None else {"t_s": last.t_s, "weight": last.weight},
        "ended": state.ended, "exit_code": state.exit_code, "reason": state.end_reason,
        "rollback_reasons": list(state.rollback_reasons),
        "chain_ok": None if chain_problems is None else not chain_problems,
    })
    return out


__all__ = ["event_json", "event_summary", "label", "run_row", "stage_no", "status_view", "war_room_line"]
