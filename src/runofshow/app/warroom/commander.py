"""The war room's two use cases: an incident commander's decision, and a parking-lot note.

    ic_decide(run_id, "rollback", by="alice", reason="...", ledger=..., router=...)  -> Decided
    note(run_id, "I think it is the network", by="bob", ledger=...)                -> the event

One decision-maker. The plan names the incident commander(s) (`war_room.incident_commanders`,
read from the run's own `run_started` event); a decision from anyone else is refused: an
`ic_refused` event records who asked what and why it was refused, and the CLI exits 2. So is a
proceed after an automatic rollback (an IC cannot override an auto-trigger), any decision on a run
that has ended (except rolling back a halted one: rollback is always allowed), and a hold when no
canary stage is running.

An accepted decision is an `ic_decision` event. A hold or proceed is carried out by the runner at
its next move (it polls the ledger while it waits), or by `runofshow resume` if no runner is
running. A rollback acts at once, in the deciding process, whether the runner is busy, stuck or
dead, with the runner's own pieces (`runofshow.app.run.recorder.Recorder`,
`runofshow.app.run.traffic_mover`): intent, `rollback_started` (trigger ic), act through the
plan's router, read back, the war-room lines and the notification, then the outcome; the running runner
sees the run rolled back and closes it out (exit 3). With the `memory` router, which lives in
the runner's process, the runner sets 0 % itself as soon as it sees `rollback_started`.

Notes are anyone's: theory and opinion go to the parking lot (`parking_lot` events,
`evidence/parking_lot.txt`), never to the war-room log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from runofshow.app.run import events as ev
from runofshow.app.run import minutes
from runofshow.app.run.clock import RunClock, SystemClock, resumed_clock
from runofshow.app.run.events import EventKind, Phase, RunStatus, Trigger
from runofshow.app.run.recorder import Recorder, load_state
from runofshow.app.run.state import RunState
from runofshow.app.run.traffic_mover import TrafficMover, start_rollback
from runofshow.app.steps.preflight import Override
from runofshow.domain.plan import Plan
from runofshow.errors import InputError
from runofshow.ports import Annotator, Ledger, LedgerEvent, Notifier, TrafficRouter

ACTIONS = ("proceed", "hold", "rollback")
#: rollback triggers that were automatic: the engine, an alert, the first night's burn
AUTO_TRIGGERS = (Trigger.DECISION.value, Trigger.ALERT.value, Trigger.FIRST_NIGHT.value)
#: wall seconds the deciding process gives its rollback notification before recording failures
NOTIFY_FLUSH_S = 2.0


@dataclass(frozen=True)
class Decided:
    """What `ic_decide` did: accepted or refused (and why), and for a rollback the weight read back."""

    accepted: bool
    action: str
    by: str
    message: str
    weight: float | None = None
    seq: int | None = None  # the ic_decision (or ic_refused) event


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def is_incident_commander(plan: Plan, name: str) -> bool:
    """`name` may hold the IC role in this plan (whether or not they hold it now)."""
    return any(_same(name, ic) for ic in plan.war_room.incident_commanders)


def current_ics(plan: Plan, state: RunState | None = None) -> tuple[str, ...]:
    """Who holds the IC role of the run now: the last handover's `to`; before any, the plan's
    `war_room.ic`; without one, every incident commander of the plan."""
    if state is not None and state.current_ic:
        return (state.current_ic,)
    if plan.war_room.ic:
        return (next(ic for ic in plan.war_room.incident_commanders if _same(ic, plan.war_room.ic or "")),)
    return tuple(plan.war_room.incident_commanders)


def holds_ic(plan: Plan, state: RunState | None, name: str) -> bool:
    return any(_same(name, ic) for ic in current_ics(plan, state))


def not_holding(plan: Plan, state: RunState | None, name: str) -> str:
    """Why `name` may not act as the IC now: who does."""
    ics = current_ics(plan, state)
    return f"'{name}' does not hold the IC role now ({', '.join(ics)} {'does' if len(ics) == 1 else 'do'})"


def require_incident_commander(plan: Plan, name: str | None, what: str) -> str:
    """The name as the plan spells it, when it is one of the plan's incident commanders; InputError
    (exit 2) otherwise."""
    ics = ", ".join(plan.war_room.incident_commanders)
    if not name or not name.strip():
        raise InputError(f"{what}: say who decides with --as NAME (incident commanders: {ics})")
    for ic in plan.war_room.incident_commanders:
        if _same(name, ic):
            return ic  # as the plan spells it
    raise InputError(f"{what}: '{name}' is not an incident commander of this plan ({ics})")


def _run_clock(state: RunState, wall: SystemClock) -> RunClock:
    """The run's plan time on this process's wall clock (`--speed` runs are compressed)."""
    return resumed_clock(state.clock, wall=wall) if state.clock else wall


@dataclass
class _Outlets:
    notifier: Notifier | None = None
    annotator: Annotator | None = None
    on_event: Callable[[LedgerEvent, RunState], None] | None = None


def _refusal(state: RunState, plan: Plan, action: str, by: str) -> str | None:
    """Why the decision cannot be accepted, or None."""
    if not is_incident_commander(plan, by) and not holds_ic(plan, state, by):
        return f"'{by}' is not an incident commander ({', '.join(plan.war_room.incident_commanders)})"
    if not holds_ic(plan, state, by):
        return not_holding(plan, state, by)
    s = state
    if s.ended and not (action == "rollback" and s.status is RunStatus.HALTED):
        return f"the run has ended ({s.status.value}: {s.end_reason})"
    if action == "rollback":
        return None  # always allowed
    if s.status is RunStatus.ROLLING_BACK or s.rolled_back:
        if s.rollback_trigger in AUTO_TRIGGERS:
            return (f"an IC {action} cannot override an auto-trigger rollback ({s.rollback_trigger}: "
                    f"{ev.reasons_text(s.rollback_reasons)})")
        return f"the run is rolling back ({ev.reasons_text(s.rollback_reasons)})"
    if s.status is RunStatus.HALTED:
        return f"the run is halted ({s.end_reason}); resume it first"
    if action == "hold" and s.phase is not Phase.STAGE:
        where = "the first night" if s.phase is Phase.FIRST_NIGHT else "no canary stage has started"
        return f"nothing to hold: {where}"
    return None


def ic_decide(
    run_id: str, action: str, *, by: str, reason: str, ledger: Ledger,
    router: Callable[[Plan], TrafficRouter] | None = None, notifier: Notifier | None = None,
    annotator: Annotator | None = None, now: Callable[[], datetime] = lambda: datetime.now(UTC),
    attempts: int = 10, backoff_s: float = 1.0, sleep: Callable[[float], None] = time.sleep,
) -> Decided:
    """Record the incident commander's decision (or its refusal); a rollback acts at once through
    `router(plan)` (None: the plan's router lives in the runner, which acts on it)."""
    if action not in ACTIONS:
        raise InputError(f"ACTION: '{action}' is not one of {', '.join(ACTIONS)}")
    if not reason or not reason.strip():
        raise InputError("--reason: say why (it is recorded with the decision)")
    by, reason = " ".join(by.split()), " ".join(reason.split())
    state = load_state(ledger, run_id)
    plan = state.plan()
    wall = SystemClock(now, sleep)
    rec = Recorder(plan, state, ledger=ledger, clock=_run_clock(state, wall),
                   outlets=_Outlets(notifier, annotator))
    why = _refusal(state, plan, action, by)
    if why is not None:
        event = rec.append(EventKind.IC_REFUSED, {"action": action, "by": by, "reason": reason, "why": why})
        return Decided(False, action, by, f"refused: {why}", state.weight, event.seq)
    decision = rec.append(EventKind.IC_DECISION, {"action": action, "by": by, "reason": reason})
    if action != "rollback":
        what = "holds the stage" if action == "hold" else "carries it out"
        return Decided(True, action, by, f"accepted: the runner {what} at its next move (or on resume)",
                       state.weight, decision.seq)
    target = router(plan) if router is not None else None
    try:
        return _rollback(rec, target, by, reason, decision.seq, attempts, backoff_s, wall.sleep)
    finally:
        close = getattr(target, "close", None)
        if callable(close):
            close()


def _rollback(rec: Recorder, target: TrafficRouter | None, by: str, reason: str, seq: int, attempts: int,
              backoff_s: float, sleep: Callable[[float], None]) -> Decided:
    """The IC's rollback, at once, with the runner's own pieces: the intent first (a runner that
    sees it waits for this process's outcome, and never acts twice), `rollback_started` and its
    line, the act with retries, the line and the notification, then the outcome (after which the
    runner may close the run out, and nothing may follow its run_ended)."""
    signer = minutes.ic(by)
    intent = f"ic{seq}"
    mover = None if target is None else TrafficMover(rec, target, attempts=attempts, backoff_s=backoff_s,
                                                     sleep=sleep)
    if mover is not None:
        mover.intent(0.0, "rollback", intent_id=intent)
    start_rollback(rec, Trigger.IC, [f"{signer}: {reason}"], by=signer, said=reason, ic_seq=seq, always=True)
    if mover is None:  # the plan's router lives in the runner: it sets 0 % at its next move
        return Decided(True, "rollback", by, "accepted: the runner sets 0 % at its next move",
                       rec.state.weight, seq)
    moved = mover.try_rollback()
    mover.report_rollback(moved, confirmed=moved.error is None)
    rec.flush_notifications(NOTIFY_FLUSH_S, kept=True)
    mover.outcome(intent, 0.0, moved.read_back, attempts=moved.attempts, error=moved.error)
    if moved.error is not None:
        return Decided(True, "rollback", by, f"rollback NOT confirmed: {moved.error}", moved.read_back, seq)
    return Decided(True, "rollback", by, "rolled back: weight read back 0%", 0.0, seq)


def handover(run_id: str, to: str, *, by: str, reason: str = "", ledger: Ledger,
             now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Decided:
    """The IC hands the role over to `to` (an incident commander or member of the plan's war room):
    an `ic_handover` event and its war-room line; from then on only `to` decides and hands over.
    Refused (an `ic_refused` event, action handover) when `by` does not hold the role now, `to` is
    not in the war room (or an observer), or the run has ended."""
    by, to, reason = " ".join(by.split()), " ".join(to.split()), " ".join(reason.split())
    if not by:
        raise InputError("--as: say who hands over (the current incident commander)")
    if not to:
        raise InputError("--to: say who takes the IC role")
    rec = recorder_for(run_id, ledger=ledger, now=now)
    plan, state = rec.plan, rec.state
    role = plan.war_room.role_of(to)
    why = None
    if not holds_ic(plan, state, by):
        why = not_holding(plan, state, by)
    elif role not in ("ic", "member"):
        why = f"'{to}' is not an incident commander or member of this war room"
    elif holds_ic(plan, state, to) and len(current_ics(plan, state)) == 1:
        why = f"'{to}' already holds the IC role"
    elif state.ended:
        why = f"the run has ended ({state.status.value}: {state.end_reason})"
    if why is not None:
        event = rec.append(EventKind.IC_REFUSED,
                           {"action": "handover", "by": by, "reason": reason, "why": why, "to": to})
        return Decided(False, "handover", by, f"refused: {why}", state.weight, event.seq)
    named = next(n for n in (*plan.war_room.incident_commanders, *plan.war_room.members) if _same(n, to))
    event = rec.append(EventKind.IC_HANDOVER, {"by": by, "to": named, "reason": reason})
    said = f": {reason}" if reason else ""
    rec.war_room(f"IC handover: {by} hands the incident commander role to {named}{said}",
                 decision=f"IC is {named}", by=minutes.ic(by), ic_seq=event.seq)
    return Decided(True, "handover", by, f"accepted: {named} is the incident commander now", state.weight,
                   event.seq)


def check_override(plan: Plan, override: Override, *, ledger: Ledger | None = None, run_id: str = "",
                   now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Override:
    """The preflight override with the commander's name as the plan spells it; InputError (exit 2)
    when `--as` is not an incident commander (recorded as `ic_refused` in an existing run)."""
    try:
        name = require_incident_commander(plan, override.by, "--override-preflight")
    except InputError as err:
        if ledger is not None and run_id:
            ledger.append(run_id, EventKind.IC_REFUSED.value, {
                "action": "override_preflight", "by": override.by, "reason": override.reason,
                "why": str(err), "t_s": None}, now())
        raise
    return Override(name, override.reason)


def note(run_id: str, text: str, *, by: str, ledger: Ledger,
         now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> LedgerEvent:
    """A parking-lot note (anyone's): theory and opinion, kept out of the war-room log."""
    if not text or not text.strip():
        raise InputError("TEXT: the note is empty")
    if not by or not by.strip():
        raise InputError("--as: say who is writing the note")
    rec = recorder_for(run_id, ledger=ledger, now=now)
    return rec.append(EventKind.PARKING_LOT, {"text": " ".join(text.split()), "by": " ".join(by.split())})


def recorder_for(run_id: str, *, ledger: Ledger,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Recorder:
    """A recorder over the run as the ledger has it, on this process's wall clock: what a person's
    entry in the war room (a note, feedback) is appended through. RunNotFoundError for no such run."""
    state = load_state(ledger, run_id)
    return Recorder(state.plan(), state, ledger=ledger, clock=_run_clock(state, SystemClock(now, time.sleep)),
                    outlets=_Outlets())


__all__ = ["ACTIONS", "AUTO_TRIGGERS", "Decided", "check_override", "current_ics", "handover", "holds_ic",
           "ic_decide", "is_incident_commander", "not_holding", "note", "recorder_for",
           "require_incident_commander"]
