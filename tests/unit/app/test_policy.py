"""What the runner does about a decision (`runofshow.app.run.policy`): pure tables, no runner."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from runofshow.app.run.events import Phase, RunStatus, Trigger
from runofshow.app.run.policy import Act, IcAct, Situation, exit_code_for, respond, respond_to_ic
from runofshow.cli.exit_codes import ExitCode
from runofshow.domain.tick import Action, Decision

WHY = ("p95 above 300 ms",)


def decision(action: Action, *, complete: bool = False) -> Decision:
    return Decision(t_s=600.0, action=action, reasons=WHY, stage_complete=complete)


PROCEED, HOLD, ROLLBACK = decision(Action.PROCEED), decision(Action.HOLD), decision(Action.ROLLBACK)
COMPLETE = decision(Action.PROCEED, complete=True)
STAGE = Situation(phase=Phase.STAGE, trigger=Trigger.TICK, stage_no=2, max_holds=2)
NIGHT = Situation(phase=Phase.FIRST_NIGHT, trigger=Trigger.CHECKIN, max_holds=2)


def at(s: Situation, **changes: Any) -> Situation:
    return replace(s, **changes)


@pytest.mark.parametrize(("d", "situation", "act", "trigger"), [
    # canary stages
    (PROCEED, STAGE, Act.NOTHING, None),
    (COMPLETE, STAGE, Act.COMPLETE_STAGE, None),
    (COMPLETE, at(STAGE, holding=True), Act.NOTHING, None),  # the hold's end re-evaluates
    (HOLD, STAGE, Act.HOLD, None),
    (HOLD, at(STAGE, holds=1), Act.HOLD, None),
    (HOLD, at(STAGE, holding=True), Act.NOTHING, None),
    (HOLD, at(STAGE, holds=2), Act.HALT, None),  # a third hold is more than max_holds (2)
    (ROLLBACK, STAGE, Act.ROLLBACK, Trigger.DECISION),
    (ROLLBACK, at(STAGE, trigger=Trigger.ALERT), Act.ROLLBACK, Trigger.ALERT),
    (ROLLBACK, at(STAGE, holding=True), Act.ROLLBACK, Trigger.DECISION),  # a hold never blocks a rollback
    # rolled back meanwhile by another process: nothing more to decide
    (ROLLBACK, at(STAGE, rolling_back=True), Act.NOTHING, None),
    (HOLD, at(STAGE, rolling_back=True, holds=5), Act.NOTHING, None),
    # the first night
    (PROCEED, NIGHT, Act.CHECKIN, None),
    (PROCEED, at(NIGHT, trigger=Trigger.ALERT), Act.NOTHING, None),
    (HOLD, at(NIGHT, trigger=Trigger.ALERT, consecutive_holds=1), Act.CHECKIN, None),
    (HOLD, at(NIGHT, consecutive_holds=2), Act.CHECKIN, None),
    (HOLD, at(NIGHT, consecutive_holds=3), Act.ROLLBACK, Trigger.FIRST_NIGHT),
    (PROCEED, at(NIGHT, night_rollback=("fast burn 15x over 1h",)), Act.ROLLBACK, Trigger.FIRST_NIGHT),
    (ROLLBACK, at(NIGHT, night_rollback=("fast burn",)), Act.ROLLBACK, Trigger.DECISION),  # the engine first
    (COMPLETE, NIGHT, Act.CHECKIN, None),  # no stage to complete at night
])
def test_respond(d: Decision, situation: Situation, act: Act, trigger: Trigger | None) -> None:
    got = respond(d, situation)
    assert (got.act, got.trigger) == (act, trigger)


def test_a_hold_says_which_hold_it_is() -> None:
    assert respond(HOLD, at(STAGE, holds=1)).hold_n == 2


def test_holding_past_max_holds_halts_with_the_stage_and_the_reasons() -> None:
    got = respond(HOLD, at(STAGE, holds=2))
    assert got.reasons == ("stage 2 held 3 times, more than max_holds (2): p95 above 300 ms",)


def test_the_first_nights_rollbacks_say_why() -> None:
    held = respond(HOLD, at(NIGHT, consecutive_holds=3))
    assert held.reasons == ("held 3 check-ins in a row in the first night (max_holds 2): p95 above 300 ms",)
    burn = respond(PROCEED, at(NIGHT, night_rollback=("fast burn",)))
    assert burn.reasons == ("fast burn",)
    assert respond(ROLLBACK, STAGE).reasons == WHY


@pytest.mark.parametrize(("action", "in_stage", "holding", "act"), [
    ("hold", True, False, IcAct.HOLD),
    ("hold", True, True, IcAct.HOLD),
    ("hold", False, False, IcAct.HOLD_NOT_APPLIED),
    ("proceed", True, True, IcAct.END_HOLD),
    ("proceed", True, False, IcAct.NOTHING_HELD),
    ("proceed", False, True, IcAct.NOTHING_HELD),
])
def test_respond_to_ic(action: str, in_stage: bool, holding: bool, act: IcAct) -> None:
    assert respond_to_ic(action, in_stage=in_stage, holding=holding) is act


@pytest.mark.parametrize(("status", "code"), [
    (RunStatus.PROMOTED, ExitCode.OK),
    (RunStatus.ROLLED_BACK, ExitCode.ROLLED_BACK),
    (RunStatus.HALTED, ExitCode.HALTED),
    (RunStatus.PAUSED, ExitCode.HALTED),
    (RunStatus.RUNNING, ExitCode.UNEXPECTED),
    (RunStatus.ROLLING_BACK, ExitCode.UNEXPECTED),
])
def test_one_mapping_from_a_runs_status_to_its_exit_code(status: RunStatus, code: ExitCode) -> None:
    assert exit_code_for(status) == code and ExitCode.of(status) is code
