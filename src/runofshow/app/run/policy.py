"""What the runner does about a decision: pure rules, beside `next_move` (`runofshow.app.run.state`).

    respond(decision, situation)   -> Response    (roll back, hold, halt, check in, complete, nothing)
    respond_to_ic(action, ...)     -> IcResponse  (an incident commander's hold or proceed)
    exit_code_for(status)          -> int         (the code a run's end is recorded and exits with)
    loop_bound(plan, steps)        -> int         (moves past which the runner's loop is broken)

`decide` (`runofshow.domain.decide`) judges the canary; these rules say what that judgement means
for the run where it stands: a hold past `max_holds` halts the stage, a hold that lasts past
`max_holds` check-ins in the first night rolls back (at 100 % there is no baseline left to clear
the canary), the first night's burn watch rolls back even when the gates pass. Nothing here reads
the clock, the ledger or the world; the tick handler (`runofshow.app.run.tick_handler`) does that
and carries the response out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from runofshow.app.run.events import Phase, RunStatus, Trigger, reasons_text
from runofshow.domain.plan import Plan
from runofshow.domain.tick import Action, Decision
from runofshow.domain.timeline import Step


class Act(StrEnum):
    """What the runner does after a decision tick."""

    NOTHING = "nothing"  # carry on: the next tick will tell
    ROLLBACK = "rollback"  # start rolling back (trigger and reasons in the response)
    HOLD = "hold"  # hold the stage (one more hold, `hold_n` of `max_holds`)
    HALT = "halt"  # held more than max_holds: stop, traffic left where it is, for people to decide
    CHECKIN = "checkin"  # a first-night check-in line (and, at a check-in, its notification)
    COMPLETE_STAGE = "complete_stage"  # the stage passed: complete it; the next stage follows


@dataclass(frozen=True)
class Situation:
    """Where the run stands after the decision was recorded (from its folded state)."""

    phase: Phase
    trigger: Trigger
    stage_no: int = 1  # 1-based, for the halt's reason
    rolling_back: bool = False  # another process (the incident commander) rolled back meanwhile
    holding: bool = False
    holds: int = 0  # holds so far in this stage
    consecutive_holds: int = 0  # decisions in a row that said hold, this one included
    max_holds: int = 2
    night_rollback: Sequence[str] = ()  # the first night's burn watch: reasons to roll back now


@dataclass(frozen=True)
class Response:
    act: Act
    trigger: Trigger | None = None  # for a rollback
    reasons: tuple[str, ...] = ()  # for a rollback or a halt
    hold_n: int = 0  # for a hold: which hold of the stage this is (1-based)


NOTHING = Response(Act.NOTHING)


def respond(decision: Decision, s: Situation) -> Response:
    """What to do about `decision` where the run stands."""
    if s.rolling_back:
        return NOTHING  # rolled back meanwhile by another process: nothing left to decide
    if decision.action is Action.ROLLBACK:
        trigger = Trigger.ALERT if s.trigger is Trigger.ALERT else Trigger.DECISION
        return Response(Act.ROLLBACK, trigger, tuple(decision.reasons))
    if s.night_rollback:
        return Response(Act.ROLLBACK, Trigger.FIRST_NIGHT, tuple(s.night_rollback))
    held = decision.action is Action.HOLD
    if s.phase is Phase.FIRST_NIGHT:
        if held and s.consecutive_holds > s.max_holds:
            # at 100 % there is no baseline traffic to clear the canary: a breach that persists
            # past max_holds check-ins is the canary's, and the stable version is the safe place
            return Response(Act.ROLLBACK, Trigger.FIRST_NIGHT, (
                f"held {s.consecutive_holds} check-ins in a row in the first night (max_holds "
                f"{s.max_holds}): {reasons_text(decision.reasons)}",))
        if held or s.trigger is Trigger.CHECKIN:
            return Response(Act.CHECKIN)
        return NOTHING
    if held:
        if s.holding:
            return NOTHING  # already held: the hold's end re-evaluates
        n = s.holds + 1
        if n > s.max_holds:
            return Response(Act.HALT, reasons=(
                f"stage {s.stage_no} held {n} times, more than max_holds ({s.max_holds}): "
                f"{reasons_text(decision.reasons)}",))
        return Response(Act.HOLD, hold_n=n)
    if decision.stage_complete and not s.holding:
        return Response(Act.COMPLETE_STAGE)
    return NOTHING


class IcAct(StrEnum):
    """What the runner does with an incident commander's hold or proceed."""

    HOLD = "hold"  # hold the stage until the commander proceeds
    HOLD_NOT_APPLIED = "hold_not_applied"  # no canary stage is running: a line says so
    END_HOLD = "end_hold"  # a proceed ends the hold and completes the stage
    NOTHING_HELD = "nothing_held"  # a proceed with nothing held: a line says so


def respond_to_ic(action: str, *, in_stage: bool, holding: bool) -> IcAct:
    """An accepted IC `action` ("hold" or "proceed") where the run stands; `in_stage`: a canary
    stage is running (not the first night, not before T0)."""
    if action == "hold":
        return IcAct.HOLD if in_stage else IcAct.HOLD_NOT_APPLIED
    return IcAct.END_HOLD if in_stage and holding else IcAct.NOTHING_HELD


#: The one mapping from a run's status to the exit code its `run_ended` event records (read by
#: old ledgers' readers and reports) and the CLI exits with (`runofshow.cli.exit_codes.ExitCode`
#: names these numbers). A run that stops while still running or rolling back is unexpected.
EXIT_CODE_OF_STATUS: dict[RunStatus, int] = {
    RunStatus.PROMOTED: 0, RunStatus.ROLLED_BACK: 3, RunStatus.HALTED: 4, RunStatus.PAUSED: 4,
}
UNEXPECTED_EXIT_CODE = 1


def exit_code_for(status: RunStatus) -> int:
    return EXIT_CODE_OF_STATUS.get(status, UNEXPECTED_EXIT_CODE)


def loop_bound(plan: Plan, steps: Sequence[Step]) -> int:
    """How many moves a run may take at most (every stage held to the limit, every tick of the
    first night, with room to spare): a loop that passes it is broken."""
    d, tick_s = plan.decision, plan.decision.tick_interval_s
    stages_s = sum(s.hold_min for s in plan.stages) * 60
    holds_s = len(plan.stages) * (d.max_holds + 1) * d.hold_min * 60
    pre_s = -min(s.offset for s in steps).total_seconds()
    ticks = (pre_s + stages_s + holds_s) / tick_s + plan.timeline.first_night_h * 3600 / tick_s
    return int(8 * ticks) + 50 * len(steps) + 10_000


__all__ = ["EXIT_CODE_OF_STATUS", "NOTHING", "UNEXPECTED_EXIT_CODE", "Act", "IcAct", "Response", "Situation",
           "exit_code_for", "loop_bound", "respond", "respond_to_ic"]
