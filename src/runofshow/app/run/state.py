"""A run's state, derived by folding its ledger events: `fold(events) -> RunState`.

Nothing here reads the world or the clock: the same events always give the same state, which is
what makes `resume` safe. The runner appends an event, then `apply`s it to its state, so the state
it acts on is always the one a fresh `fold` of the ledger would give.

`next_move(state, steps)` answers "what comes next, and at what plan second?" from the state
alone, so the runner's loop is: next move -> wait until it is due -> do it -> append.

Events may come from another process too (`runofshow decide`: an incident commander's decision,
and for a rollback its intent and outcome). The fold does not care who appended an event: a
rollback is "rolled back" only while the last weight read back is 0, so a stage weight set by
a runner that had not yet seen the commander's rollback is rolled back again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from runofshow.app.run import event_types as et
from runofshow.app.run.event_types import RUNNER, Event, origin_of, parse
from runofshow.app.run.events import Phase, RunStatus, tick_from_decision
from runofshow.app.run.traffic import same_weight
from runofshow.domain.plan import Plan
from runofshow.domain.tick import Tick
from runofshow.domain.timeline import Step, StepKind
from runofshow.ports import LedgerEvent


@dataclass(frozen=True)
class Intent:
    """A `weight_intent` that has no `weight_outcome` yet."""

    id: str
    weight: float
    reason: str
    stage: int | None
    t_s: float
    origin: str = RUNNER  # who moves the traffic: RUNNER, or IC (`runofshow decide`)


@dataclass
class RunState:
    run_id: str = ""
    status: RunStatus = RunStatus.RUNNING
    run_started: et.RunStarted | None = None
    clock: dict[str, Any] = field(default_factory=dict)  # speed, anchor_at, plan_anchor_at (latest)
    last_seq: int = 0
    last_t_s: float | None = None
    # steps of the schedule, by index
    steps_completed: list[int] = field(default_factory=list)
    open_step: int | None = None  # started, not completed
    open_step_started_t_s: float | None = None
    # stages
    stage: int | None = None  # the stage whose step was started last
    stage_started_t_s: float | None = None
    stages_started: list[int] = field(default_factory=list)
    stages_completed: list[int] = field(default_factory=list)
    # traffic
    weight: float | None = None  # the last weight the router read back
    open_intent: Intent | None = None
    external_intent: Intent | None = None  # another process's (`runofshow decide`: origin IC)
    intents: int = 0
    # decisions
    history: list[Tick] = field(default_factory=list)
    last_tick_t_s: float | None = None
    last_passing: int | None = None  # gates passing at the last decision
    last_judged: et.DecisionMade | None = None  # the last decision that judged the gates (not an alert's)
    last_decision: et.DecisionMade | None = None
    holds: int = 0  # holds in the current stage
    consecutive_holds: int = 0  # decisions in a row that said hold
    hold_until_t_s: float | None = None  # math.inf: an incident commander's hold (until proceed)
    ic_hold: str | None = None  # who holds the stage, when an incident commander does
    ic_pending_decision: et.IcDecision | None = None  # an IC hold/proceed the runner has not carried out
    current_ic: str | None = None  # who the last IC handover named (None: the plan's `war_room`)
    phase: Phase | None = None
    first_night_started_t_s: float | None = None
    # rollback and the end
    rollback_reasons: tuple[str, ...] = ()
    rollback_trigger: str | None = None
    rolled_back: bool = False
    ended: bool = False
    exit_code: int | None = None
    end_reason: str = ""
    resumes: int = 0
    webhook_refusals: int = 0  # webhook calls refused (401), the suppressed ones included
    last_refusal: et.WebhookRefused | None = None

    # ------------------------------------------------------------------ derived

    @property
    def started(self) -> dict[str, Any]:
        """The run_started payload ({} before it)."""
        return {} if self.run_started is None else self.run_started.to_payload()

    @property
    def ic_pending(self) -> dict[str, Any] | None:
        """The pending IC decision as {seq, action, by, reason} (None when there is none)."""
        d = self.ic_pending_decision
        return None if d is None else {"seq": d.seq, "action": d.action, "by": d.by, "reason": d.reason}

    @property
    def t0_at(self) -> datetime:
        assert self.run_started is not None, "no run_started yet"
        return datetime.fromisoformat(self.run_started.t0_at)

    @property
    def speed(self) -> float:
        return float(self.clock.get("speed", 1.0))

    def plan(self) -> Plan:
        """The run's plan as `run_started` recorded it (gates in their original order: the
        ledger's canonical JSON sorts keys)."""
        started = self.run_started
        data = dict(started.plan) if started is not None else {}
        order = started.gate_order if started is not None else ()
        if order and isinstance(data.get("gates"), Mapping) and set(order) == set(data["gates"]):
            data["gates"] = {name: data["gates"][name] for name in order}
        return Plan.model_validate(data)

    @property
    def holding(self) -> bool:
        return self.hold_until_t_s is not None

    def next_intent_id(self) -> str:
        return f"w{self.intents + 1}"

    # ------------------------------------------------------------------ the fold step

    def apply(self, event: LedgerEvent | Event) -> RunState:
        """Take one event (a ledger row, or one already parsed) into the state, in place, and
        return the state."""
        e = event if isinstance(event, Event) else parse(event)
        self.last_seq = e.seq
        if not isinstance(event, Event):
            self.run_id = event.run_id
        if e.t_s is not None:
            self.last_t_s = e.t_s
        pending = self.ic_pending_decision
        if pending is not None and isinstance(e, _ANSWERS) and e.ic_seq == pending.seq:
            self.ic_pending_decision = None  # the runner's answer to the commander's decision
        handler = _APPLY.get(type(e))
        if handler is not None:
            handler(self, e)
        return self


#: the events by which the runner answers an incident commander's decision (they carry its ic_seq)
_ANSWERS = (et.HoldStarted, et.HoldEnded, et.RollbackStarted, et.WarRoom)


def _run_started(s: RunState, e: et.RunStarted) -> None:
    s.run_started = e
    s.run_id = e.run_id or s.run_id
    s.clock = e.clock
    s.status = RunStatus.RUNNING


def _clock_changed(s: RunState, e: et.ClockChanged) -> None:
    s.clock = e.clock


def _step_started(s: RunState, e: et.StepStarted) -> None:
    s.open_step, s.open_step_started_t_s = e.index, _t(e)
    if e.step_kind == StepKind.STAGE.value and e.stage is not None:
        if e.stage != s.stage:
            s.holds, s.hold_until_t_s, s.ic_hold = 0, None, None
        s.stage, s.stage_started_t_s, s.phase = e.stage, _t(e), Phase.STAGE
        if e.stage not in s.stages_started:
            s.stages_started.append(e.stage)
    elif e.step_kind == StepKind.FIRST_NIGHT.value:
        s.phase, s.first_night_started_t_s = Phase.FIRST_NIGHT, _t(e)
        s.hold_until_t_s, s.ic_hold = None, None


def _step_completed(s: RunState, e: et.StepCompleted) -> None:
    if e.index not in s.steps_completed:
        s.steps_completed.append(e.index)
    if s.open_step == e.index:
        s.open_step, s.open_step_started_t_s = None, None
    if e.step_kind == StepKind.STAGE.value and e.stage is not None and e.stage not in s.stages_completed:
        s.stages_completed.append(e.stage)
    if e.step_kind == StepKind.FIRST_NIGHT.value:
        s.phase = None


def is_external(intent_id: str) -> bool:
    """An intent of another process (`runofshow decide`, ids `ic<seq>`), not the runner's own (`w<n>`).
    Intents record their origin now; this tells it from the id alone."""
    return origin_of(intent_id) != RUNNER


def _weight_intent(s: RunState, e: et.WeightIntent) -> None:
    intent = Intent(id=e.id, weight=e.weight, reason=e.reason, stage=e.stage, t_s=_t(e), origin=e.origin)
    if e.external:
        s.external_intent = intent
    else:
        s.intents += 1
        s.open_intent = intent


def _weight_outcome(s: RunState, e: et.WeightOutcome) -> None:
    if s.open_intent is not None and s.open_intent.id == e.id:
        s.open_intent = None
    if s.external_intent is not None and s.external_intent.id == e.id:
        s.external_intent = None
    if e.read_back is not None:
        s.weight = e.read_back
    if s.status is RunStatus.ROLLING_BACK and s.weight is not None:
        # rolled back while the weight reads back 0: a later non-zero read-back (a stage weight
        # set by a runner that had not yet seen another process's rollback) undoes it
        s.rolled_back = same_weight(s.weight, 0.0)


def _decision(s: RunState, e: et.DecisionMade) -> None:
    s.history.append(tick_from_decision(e))
    s.last_tick_t_s = _t(e)
    s.last_passing = e.passing
    s.last_decision = e
    if e.verdicts:
        s.last_judged = e
    s.consecutive_holds = s.consecutive_holds + 1 if e.action == "hold" else 0


def _hold_started(s: RunState, e: et.HoldStarted) -> None:
    s.holds = e.n
    s.hold_until_t_s = math.inf if e.until_t_s is None else e.until_t_s
    s.ic_hold = (e.by or "IC") if e.until_t_s is None else None


def _hold_ended(s: RunState, e: et.HoldEnded) -> None:
    s.hold_until_t_s, s.ic_hold = None, None


def _rollback_started(s: RunState, e: et.RollbackStarted) -> None:
    if s.ended and s.status is RunStatus.HALTED:  # an incident commander rolls a halted run back
        s.ended, s.exit_code, s.end_reason = False, None, ""
    s.status = RunStatus.ROLLING_BACK
    s.rollback_reasons = e.reasons
    s.rollback_trigger = e.trigger or None
    s.hold_until_t_s, s.ic_hold, s.ic_pending_decision = None, None, None


def _ic_decision(s: RunState, e: et.IcDecision) -> None:
    if e.action in ("hold", "proceed"):
        s.ic_pending_decision = e


def _ic_handover(s: RunState, e: et.IcHandover) -> None:
    s.current_ic = e.to or s.current_ic


def _paused(s: RunState, e: et.Paused) -> None:
    if e.weight is not None:
        s.weight = e.weight
    if s.status is not RunStatus.ROLLING_BACK:
        s.status = RunStatus.PAUSED


def _resumed(s: RunState, e: et.Resumed) -> None:
    s.resumes += 1
    if e.clock:
        s.clock = dict(e.clock)
    if e.weight is not None:
        s.weight = e.weight
    if s.status is RunStatus.HALTED:  # a halted run waits for people; resuming takes it up again
        s.ended, s.exit_code, s.end_reason = False, None, ""
    if s.status in (RunStatus.PAUSED, RunStatus.HALTED):
        s.status = RunStatus.RUNNING


def _run_ended(s: RunState, e: et.RunEnded) -> None:
    s.ended = True
    s.status = RunStatus(e.status)
    s.exit_code = e.exit_code
    s.end_reason = e.reason
    if e.weight is not None:
        s.weight = e.weight


def _webhook_refused(s: RunState, e: et.WebhookRefused) -> None:
    s.webhook_refusals += 1 + max(0, e.suppressed)
    s.last_refusal = e


def _t(e: Event) -> float:
    return 0.0 if e.t_s is None else e.t_s


_APPLY: dict[type, Callable[[RunState, Any], None]] = {
    et.RunStarted: _run_started,
    et.ClockChanged: _clock_changed,
    et.StepStarted: _step_started,
    et.StepCompleted: _step_completed,
    et.WeightIntent: _weight_intent,
    et.WeightOutcome: _weight_outcome,
    et.DecisionMade: _decision,
    et.HoldStarted: _hold_started,
    et.HoldEnded: _hold_ended,
    et.RollbackStarted: _rollback_started,
    et.IcDecision: _ic_decision,
    et.IcHandover: _ic_handover,
    et.WebhookRefused: _webhook_refused,
    et.Paused: _paused,
    et.Resumed: _resumed,
    et.RunEnded: _run_ended,
}


def fold(events: Iterable[LedgerEvent | Event]) -> RunState:
    """The state of a run after `events` (in seq order)."""
    state = RunState()
    for event in events:
        state.apply(event)
    return state


# --------------------------------------------------------------------------- what comes next


class Move(StrEnum):
    RESOLVE_INTENT = "resolve_intent"  # an intent without an outcome: read the router back
    AWAIT_EXTERNAL = "await_external"  # another process is moving traffic (an IC's rollback): wait
    IC_DECISION = "ic_decision"  # carry out an incident commander's hold or proceed
    ROLLBACK = "rollback"  # rolling back: set 0 % until it reads back 0
    START_STEP = "start_step"  # begin step `index`
    RUN_STEP = "run_step"  # a started non-stage step: run its handler and complete it
    SET_WEIGHT = "set_weight"  # the stage's weight is not what the router holds: set it
    TICK = "tick"  # observe, decide, act
    END_HOLD = "end_hold"  # the hold's time has passed
    FINISH_FIRST_NIGHT = "finish_first_night"
    END = "end"  # every step done (or rolled back and closed out): record run_ended


@dataclass(frozen=True)
class Next:
    move: Move
    due_t_s: float | None = None  # None: now
    index: int | None = None


def _close_out_index(steps: Sequence[Step]) -> int:
    return next(i for i, s in enumerate(steps) if s.kind is StepKind.CLOSE_OUT)


def next_move(
    state: RunState, steps: Sequence[Step], *, tick_s: float, checkin_s: float, first_night_s: float,
) -> Next | None:
    """The next thing the runner must do, and the plan second (since T0) it is due; None when ended."""
    if state.ended:
        return None
    if state.open_intent is not None:
        return Next(Move.RESOLVE_INTENT)
    if state.external_intent is not None:
        return Next(Move.AWAIT_EXTERNAL)
    if state.ic_pending is not None:
        return Next(Move.IC_DECISION)
    if state.status is RunStatus.ROLLING_BACK and not state.rolled_back:
        return Next(Move.ROLLBACK)
    if state.rolled_back:
        close = _close_out_index(steps)
        if close in state.steps_completed:
            return Next(Move.END)
        if state.open_step == close:
            return Next(Move.RUN_STEP, index=close)
        return Next(Move.START_STEP, index=close)
    if state.open_step is not None:
        step = steps[state.open_step]
        if step.kind is StepKind.STAGE:
            assert step.weight is not None
            if state.weight is None or not same_weight(state.weight, step.weight):
                return Next(Move.SET_WEIGHT, index=state.open_step)
            started = state.stage_started_t_s or 0.0
            last = started if state.last_tick_t_s is None else max(state.last_tick_t_s, started)
            due = last + tick_s  # the first tick of a stage comes one interval after it starts
            if state.hold_until_t_s is not None and state.hold_until_t_s <= due:
                return Next(Move.END_HOLD, due_t_s=state.hold_until_t_s)
            return Next(Move.TICK, due_t_s=due)
        if step.kind is StepKind.FIRST_NIGHT:
            start = state.first_night_started_t_s or 0.0
            end = start + first_night_s
            last = state.last_tick_t_s if state.last_tick_t_s is not None else start
            last = max(last, start)
            if last + checkin_s < end:
                return Next(Move.TICK, due_t_s=last + checkin_s)
            return Next(Move.FINISH_FIRST_NIGHT, due_t_s=end)
        return Next(Move.RUN_STEP, index=state.open_step)
    done = set(state.steps_completed)
    for index, step in enumerate(steps):
        if index in done:
            continue
        if step.offset.total_seconds() < 0 or (step.kind is StepKind.STAGE and step.stage == 0):
            return Next(Move.START_STEP, due_t_s=step.offset.total_seconds(), index=index)
        return Next(Move.START_STEP, index=index)
    return Next(Move.END)


__all__ = ["Intent", "Move", "Next", "RunState", "fold", "is_external", "next_move"]
