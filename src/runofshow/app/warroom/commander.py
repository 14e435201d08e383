"""The war room's two use cases: an incident commander's decision, and a parking-lot note.

    decide(run_id, "rollback", by="alice", reason="...", ledger=..., router=...)  -> Decided
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
dead: `rollback_started` (trigger ic), then intent, act (`runofshow.app.run.traffic.rollback`
through the plan's router), read back and outcome, and the war-room lines; the running runner
sees the run rolled back and closes it out (exit 3). With the `memory` router, which lives in
the runner's process, the runner sets 0 % itself as soon as it sees `rollback_started`.

Notes are anyone's: theory and opinion go to the parking lot (`parking_lot` events,
`evidence/parking_lot.txt`), never to the war-room log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runofshow.app.run import events as ev
from runofshow.app.run import minutes, notify, traffic
from runofshow.app.run.clock import resumed_clock
from runofshow.app.run.events import EventKind, Phase, RunStatus, Trigger
from runofshow.app.run.state import RunState, fold
from runofshow.app.steps.preflight import Override
from runofshow.domain.plan import Plan
from runofshow.errors import InputError, LedgerError, RouterError
from runofshow.ports import Annotator, Ledger, LedgerEvent, Notifier, TrafficRouter

ACTIONS = ("proceed", "hold", "rollback")
#: rollback triggers that were automatic: the engine, an alert, the first night's burn
AUTO_TRIGGERS = (Trigger.DECISION.value, Trigger.ALERT.value, Trigger.FIRST_NIGHT.value)
#: wall seconds the deciding process gives its rollback notification before recording failures
NOTIFY_FLUSH_S = 2.0


@dataclass(frozen=True)
class Decided:
    """What `decide` did: accepted or refused (and why), and for a rollback the weight read back."""

    accepted: bool
    action: str
    by: str
    message: str
    weight: float | None = None
    seq: int | None = None  # the ic_decision (or ic_refused) event


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def is_incident_commander(plan: Plan, name: str) -> bool:
    return any(_same(name, ic) for ic in plan.war_room.incident_commanders)


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


def _load(ledger: Ledger, run_id: str) -> RunState:
    try:
        state = fold(ledger.events(run_id))
    except LedgerError as err:
        if "no run" in str(err):
            raise InputError(f"no run '{run_id}' in {getattr(ledger, 'name', 'the ledger')}") from None
        raise
    if not state.started:
        raise InputError(f"run '{run_id}' never started (it has no run_started event)")
    return state


def _t_s(state: RunState, wall_now: datetime) -> float:
    """Plan seconds since T0 now, on the run's recorded clock (`--speed` runs are compressed)."""
    clock = resumed_clock(state.clock, wall=_Wall(wall_now)) if state.clock else None
    plan_now = clock.now() if clock is not None else wall_now
    return (plan_now - state.t0_at).total_seconds()


class _Wall:
    """A wall clock frozen at one instant (for mapping it to the run's plan time)."""

    realtime = False

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def _refusal(state: RunState, plan: Plan, action: str, by: str) -> str | None:
    """Why the decision cannot be accepted, or None."""
    if not is_incident_commander(plan, by):
        return f"'{by}' is not an incident commander ({', '.join(plan.war_room.incident_commanders)})"
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


def _last_signal(plan: Plan, state: RunState) -> tuple[str | None, str | None]:
    if not state.history:
        return None, None
    canary = state.history[-1].canary
    metrics = minutes.metrics_text(plan, None if canary is None else canary.values)
    gates = None if state.last_passing is None else f"{state.last_passing}/{len(plan.gates)} PASS"
    return metrics, gates


def decide(
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
    state = _load(ledger, run_id)
    plan = state.plan()

    def append(kind: EventKind, payload: dict[str, Any]) -> LedgerEvent:
        at = now()
        payload["t_s"] = _t_s(state, at)
        event = ledger.append(run_id, kind.value, payload, at)
        state.apply(event)
        return event

    why = _refusal(state, plan, action, by)
    if why is not None:
        event = append(EventKind.IC_REFUSED, {"action": action, "by": by, "reason": reason, "why": why})
        return Decided(False, action, by, f"refused: {why}", state.weight, event.seq)
    decision = append(EventKind.IC_DECISION, {"action": action, "by": by, "reason": reason})
    if action != "rollback":
        what = "holds the stage" if action == "hold" else "carries it out"
        return Decided(True, action, by, f"accepted: the runner {what} at its next move (or on resume)",
                       state.weight, decision.seq)
    return _rollback(state, plan, by, reason, decision.seq, _Recorder(ledger, append), router, notifier,
                     annotator, attempts, backoff_s, sleep)


@dataclass(frozen=True)
class _Recorder:
    ledger: Ledger
    append: Callable[[EventKind, dict[str, Any]], LedgerEvent]

    def sync(self, state: RunState) -> None:
        """The runs table (status, stage, weight), as the runner keeps it."""
        s = state
        self.ledger.update_run(s.run_id, status=s.status.value, stage=s.stage, weight=s.weight)


def _rollback(
    state: RunState, plan: Plan, by: str, reason: str, seq: int, rec: _Recorder,
    router: Callable[[Plan], TrafficRouter] | None, notifier: Notifier | None, annotator: Annotator | None,
    attempts: int, backoff_s: float, sleep: Callable[[float], None],
) -> Decided:
    append = rec.append
    signer = minutes.ic(by)
    stage = state.stage
    title = "Pre-T0" if stage is None else f"Stage {stage + 1} ({plan.stages[stage].weight:g}%)"
    metrics, gates = _last_signal(plan, state)
    target = router(plan) if router is not None else None
    intent = f"ic{seq}"
    # the intent first: a runner that sees it waits for this process's outcome (never acts twice)
    if target is not None:
        append(EventKind.WEIGHT_INTENT, ev.intent_payload(intent, 0.0, "rollback", stage, 0.0))
    append(EventKind.ROLLBACK_STARTED, {"trigger": Trigger.IC.value, "reasons": [f"{signer}: {reason}"],
                                        "stage": stage, "weight": state.weight, "by": signer, "ic_seq": seq})
    append(EventKind.WAR_ROOM, minutes.war_room_payload(
        f"{title} ROLLBACK (ic): {reason}", metrics=metrics, gates=gates, decision="Rollback", by=signer))
    rec.sync(state)
    if target is None:
        return Decided(True, "rollback", by, "accepted: the runner sets 0 % at its next move", state.weight,
                       seq)
    error: str | None = None
    try:
        n = traffic.rollback(target, attempts=attempts, backoff_s=backoff_s, sleep=sleep)
        got: float | None = 0.0
    except RouterError as err:
        n, error = attempts, str(err)
        try:
            got = target.current_weight()
        except RouterError:
            got = None
    finally:
        close = getattr(target, "close", None)
        if callable(close):
            close()
    # the war-room line before the outcome: the outcome lets the runner close the run out, and
    # nothing may follow its run_ended
    line = (f"Rollback not confirmed: {error}" if error else
            f"ROLLBACK complete, weight read back 0% after {n} attempt(s)")
    append(EventKind.WAR_ROOM, minutes.war_room_payload(line))
    text = notify.rollback(plan.release.version, None if stage is None else stage + 1,
                           None if stage is None else plan.stages[stage].weight, [f"{signer}: {reason}"])
    if error is None:
        _tell(notifier, annotator, text, plan, state, append)
    append(EventKind.WEIGHT_OUTCOME, ev.outcome_payload(intent, 0.0, got, 0.0, attempts=n, error=error))
    rec.sync(state)
    if error is not None:
        return Decided(True, "rollback", by, f"rollback NOT confirmed: {error}", got, seq)
    return Decided(True, "rollback", by, "rolled back: weight read back 0%", 0.0, seq)


def _tell(notifier: Notifier | None, annotator: Annotator | None, text: str, plan: Plan,
          state: RunState, append: Callable[[EventKind, dict[str, Any]], LedgerEvent]) -> None:
    """The rollback notification and Grafana annotation; failures are recorded, never raised."""
    sends: list[tuple[str, Callable[[], None]]] = []
    if notifier is not None:
        fields = {"run_id": state.run_id, "version": plan.release.version, "trigger": "ic"}
        sends.append(("notifier", lambda: notifier.notify(notify.Event.ROLLBACK.value, text, fields)))
    if annotator is not None:
        tags: Sequence[str] = ("runofshow", plan.release.version, notify.Event.ROLLBACK.value)
        sends.append(("annotator", lambda: annotator.annotate(datetime.now(UTC), text, tags)))
    for channel, send in sends:
        try:
            send()
        except Exception as err:  # a notification never stops a rollback
            append(EventKind.NOTIFY_FAILED, {"channel": channel, "event": "rollback",
                                             "error": f"{type(err).__name__}: {err}"})
    # a fan-out delivers in the background: give it a moment, then record what failed, before the
    # outcome (after which the runner may end the run, and nothing follows run_ended)
    for target in {id(x): x for x in (notifier, annotator) if x is not None}.values():
        flush = getattr(target, "flush", None)
        if callable(flush):
            flush(NOTIFY_FLUSH_S)
        for f in list(getattr(target, "failures", ())):
            append(EventKind.NOTIFY_FAILED, {"channel": str(f.channel), "event": str(f.event),
                                             "error": str(f.error)})


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
    state = _load(ledger, run_id)
    at = now()
    payload = {"text": " ".join(text.split()), "by": " ".join(by.split()), "t_s": _t_s(state, at)}
    return ledger.append(run_id, EventKind.PARKING_LOT.value, payload, at)


__all__ = ["ACTIONS", "AUTO_TRIGGERS", "Decided", "check_override", "decide", "is_incident_commander",
           "note", "require_incident_commander"]
