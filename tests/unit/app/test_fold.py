"""`fold` and `next_move` (app/run/state.py) as tables: events in, state and next move out; and the
property that folding a recorded run's events at once equals applying them one by one."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runofshow.app.run import event_types as et
from runofshow.app.run.event_parts import StepInfo
from runofshow.app.run.events import Phase, RunStatus
from runofshow.app.run.state import Move, Next, RunState, fold, next_move
from runofshow.domain.plan import Plan
from runofshow.domain.timeline import schedule
from runofshow.ports import LedgerEvent
from tests.fixtures.ledgers.make_fixtures import NAMES, read_events

STEPS = schedule(Plan())  # 0-3 before T0, 4-8 the stages (1, 5, 25, 50, 100 %), 9 promoted, 10 night, 11 close
TICK_S, CHECKIN_S, NIGHT_S = 60.0, 3600.0, 24 * 3600.0
T0 = "2026-12-05T04:00:00+00:00"


def started() -> et.RunStarted:
    return et.RunStarted(run_id="r1", version="v1", t0_at=T0, speed=1.0, anchor_at=T0, plan_anchor_at=T0,
                         steps=tuple(StepInfo.of(i, s) for i, s in enumerate(STEPS)))


def step(index: int, t_s: float, *, done: bool = False, **kw: Any) -> et.StepEvent:
    info = StepInfo.of(index, STEPS[index])
    cls = et.StepCompleted if done else et.StepStarted
    return cls(index=index, step_kind=info.kind, label=info.label, title=info.title, offset_s=info.offset_s,
               stage=info.stage, weight=info.weight, t_s=t_s, **kw)


def before_t0() -> list[et.Event]:
    out: list[et.Event] = [started()]
    for i in range(4):
        out += [step(i, STEPS[i].offset.total_seconds()), step(i, STEPS[i].offset.total_seconds(), done=True)]
    return out


def intent(id_: str, weight: float, t_s: float, origin: str = "") -> et.WeightIntent:
    return et.WeightIntent(id=id_, weight=weight, reason="stage", stage=0, t_s=t_s, origin=origin)


def outcome(id_: str, weight: float, read_back: float | None, t_s: float) -> et.WeightOutcome:
    return et.WeightOutcome(id=id_, weight=weight, read_back=read_back, ok=read_back == weight, t_s=t_s)


def stage_one_at_1pct() -> list[et.Event]:
    return [*before_t0(), step(4, 0.0), intent("w1", 1.0, 0.0, "runner"), outcome("w1", 1.0, 1.0, 1.0)]


def decision(t_s: float, action: str = "proceed", passing: int = 6) -> et.DecisionMade:
    return et.DecisionMade(t_s=t_s, label="T+1", stage=0, weight=1.0, action=action, passing=passing, gates=6)


def numbered(events: list[et.Event]) -> list[et.Event]:
    from dataclasses import replace
    return [replace(e, seq=i) for i, e in enumerate(events, start=1)]


# --------------------------------------------------------------------------- fold as a table

FOLD_TABLE: list[tuple[str, list[et.Event], dict[str, Any]]] = [
    ("nothing yet", [], {"status": RunStatus.RUNNING, "run_started": None, "ended": False}),
    ("started", [started()], {"run_id": "r1", "clock": {"speed": 1.0, "anchor_at": T0, "plan_anchor_at": T0}}),
    ("a step open", [started(), step(0, -1800.0)], {"open_step": 0, "open_step_started_t_s": -1800.0}),
    ("before T0 done", before_t0(), {"steps_completed": [0, 1, 2, 3], "open_step": None, "stage": None}),
    ("stage 1 started", [*before_t0(), step(4, 0.0)],
     {"stage": 0, "phase": Phase.STAGE, "stages_started": [0], "stage_started_t_s": 0.0}),
    ("the runner's intent is open", [*before_t0(), step(4, 0.0), intent("w1", 1.0, 0.0)],
     {"open_intent.id": "w1", "open_intent.origin": "runner", "intents": 1, "external_intent": None}),
    ("an old IC intent (origin from its id)", [*before_t0(), intent("ic7", 0.0, 5.0)],
     {"external_intent.id": "ic7", "external_intent.origin": "ic", "open_intent": None, "intents": 0}),
    ("an intent whose origin is recorded", [*before_t0(), intent("x1", 0.0, 5.0, origin="ic")],
     {"external_intent.id": "x1", "open_intent": None}),
    ("the outcome closes the intent", stage_one_at_1pct(), {"open_intent": None, "weight": 1.0}),
    ("an unread outcome keeps the weight",
     [*stage_one_at_1pct(), intent("w2", 5.0, 60.0), outcome("w2", 5.0, None, 61.0)], {"weight": 1.0}),
    ("decisions build the history",
     [*stage_one_at_1pct(), decision(60.0), decision(120.0, "hold", 5), decision(180.0, "hold", 5)],
     {"last_tick_t_s": 180.0, "last_passing": 5, "consecutive_holds": 2, "history.len": 3}),
    ("a proceed resets the hold streak",
     [*stage_one_at_1pct(), decision(60.0, "hold"), decision(120.0)], {"consecutive_holds": 0}),
    ("a hold", [*stage_one_at_1pct(), et.HoldStarted(stage=0, n=1, hold_s=900.0, until_t_s=960.0, t_s=60.0)],
     {"holds": 1, "hold_until_t_s": 960.0, "holding": True, "ic_hold": None}),
    ("an IC hold lasts until proceed",
     [*stage_one_at_1pct(), et.HoldStarted(stage=0, n=0, until_t_s=None, by="IC alice", ic_seq=3, t_s=60.0)],
     {"hold_until_t_s": math.inf, "ic_hold": "IC alice"}),
    ("a hold ended",
     [*stage_one_at_1pct(), et.HoldStarted(stage=0, n=1, until_t_s=960.0, t_s=60.0), et.HoldEnded(stage=0, n=1)],
     {"holds": 1, "hold_until_t_s": None, "holding": False}),
    ("the next stage resets the holds",
     [*stage_one_at_1pct(), et.HoldStarted(stage=0, n=1, until_t_s=960.0, t_s=60.0), step(4, 900.0, done=True),
      step(5, 900.0)], {"holds": 0, "stage": 1, "stages_completed": [0], "hold_until_t_s": None}),
    ("rolling back", [*stage_one_at_1pct(), et.RollbackStarted(trigger="decision", reasons=("5xx",), t_s=60.0)],
     {"status": RunStatus.ROLLING_BACK, "rollback_reasons": ("5xx",), "rollback_trigger": "decision",
      "rolled_back": False}),
    ("rolled back when 0 reads back",
     [*stage_one_at_1pct(), et.RollbackStarted(trigger="decision", t_s=60.0), intent("w2", 0.0, 60.0),
      outcome("w2", 0.0, 0.0, 61.0)], {"rolled_back": True, "weight": 0.0}),
    ("a stage weight read back after an IC rollback undoes 'rolled back'",
     [*stage_one_at_1pct(), et.RollbackStarted(trigger="ic", t_s=60.0), intent("ic9", 0.0, 60.0),
      outcome("ic9", 0.0, 0.0, 61.0), intent("w2", 5.0, 62.0), outcome("w2", 5.0, 5.0, 63.0)],
     {"rolled_back": False, "weight": 5.0, "external_intent": None}),
    ("paused", [*stage_one_at_1pct(), et.Paused(reason="ctrl-c", weight=1.0, t_s=70.0)],
     {"status": RunStatus.PAUSED, "weight": 1.0}),
    ("a pause while rolling back keeps rolling back",
     [*stage_one_at_1pct(), et.RollbackStarted(trigger="decision", t_s=60.0), et.Paused(reason="x", t_s=61.0)],
     {"status": RunStatus.ROLLING_BACK}),
    ("resumed", [*stage_one_at_1pct(), et.Paused(reason="x", weight=1.0, t_s=70.0),
                 et.Resumed(weight=1.0, clock={"speed": 2.0}, previous_status="paused", t_s=80.0)],
     {"status": RunStatus.RUNNING, "resumes": 1, "clock": {"speed": 2.0}, "last_t_s": 80.0}),
    ("the clock changed", [started(), et.ClockChanged(speed=60.0, anchor_at="a", plan_anchor_at="b", phase="x")],
     {"clock": {"speed": 60.0, "anchor_at": "a", "plan_anchor_at": "b"}, "speed": 60.0}),
    ("first night", [*stage_one_at_1pct(), step(10, 5400.0)],
     {"phase": Phase.FIRST_NIGHT, "first_night_started_t_s": 5400.0}),
    ("first night done", [*stage_one_at_1pct(), step(10, 5400.0), step(10, 91800.0, done=True)], {"phase": None}),
    ("ended", [*stage_one_at_1pct(), et.RunEnded(status="promoted", exit_code=0, reason="ok", weight=100.0)],
     {"ended": True, "status": RunStatus.PROMOTED, "exit_code": 0, "end_reason": "ok", "weight": 100.0}),
    ("a halted run resumed", [*stage_one_at_1pct(), et.RunEnded(status="halted", exit_code=4, reason="x"),
                              et.Resumed(weight=1.0)],
     {"ended": False, "status": RunStatus.RUNNING, "exit_code": None}),
    ("an IC rolls a halted run back", [*stage_one_at_1pct(), et.RunEnded(status="halted", exit_code=4),
                                       et.RollbackStarted(trigger="ic")],
     {"ended": False, "status": RunStatus.ROLLING_BACK}),
    ("kinds the fold does not use change nothing but seq and t_s",
     [started(), et.WarRoom(observation="x", t_s=-1.0), et.ParkingLot(text="y"), et.NotifyFailed(channel="c"),
      et.AlertReceived(t_s=-0.5), et.IcRefused(action="hold", why="no")],
     {"last_t_s": -0.5, "open_step": None, "status": RunStatus.RUNNING}),
]


def _attr(state: RunState, path: str) -> Any:
    if path.endswith(".len"):
        return len(_attr(state, path[:-4]))
    value: Any = state
    for part in path.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize(("events", "expected"), [pytest.param(e, x, id=name) for name, e, x in FOLD_TABLE])
def test_fold(events: list[et.Event], expected: dict[str, Any]) -> None:
    state = fold(numbered(events))
    assert state.last_seq == len(events)
    assert {k: _attr(state, k) for k in expected} == expected


def test_an_ic_hold_or_proceed_waits_until_the_runner_answers_it() -> None:
    events = numbered([*stage_one_at_1pct(), et.IcDecision(action="hold", by="alice", reason="look")])
    seq = events[-1].seq
    state = fold(events)
    assert state.ic_pending == {"seq": seq, "action": "hold", "by": "alice", "reason": "look"}
    assert next_move(state, STEPS, tick_s=TICK_S, checkin_s=CHECKIN_S, first_night_s=NIGHT_S) == \
        Next(Move.IC_DECISION)
    state.apply(et.WarRoom(observation="unrelated", ic_seq=seq + 100, seq=seq + 1))
    assert state.ic_pending is not None
    state.apply(et.HoldStarted(stage=0, n=0, until_t_s=None, by="alice", ic_seq=seq, seq=seq + 2))
    assert state.ic_pending is None and state.ic_hold == "alice"
    assert fold([*events, et.IcDecision(action="rollback", by="bob", seq=seq + 1)]).ic_pending is not None


# --------------------------------------------------------------------------- next_move as a table

NEXT_TABLE: list[tuple[str, list[et.Event], Next | None]] = [
    ("first the freeze, at T-30", [started()], Next(Move.START_STEP, due_t_s=-1800.0, index=0)),
    ("a started step before T0 runs", [started(), step(0, -1800.0)], Next(Move.RUN_STEP, index=0)),
    ("then the war room", [started(), step(0, -1800.0), step(0, -1800.0, done=True)],
     Next(Move.START_STEP, due_t_s=-1200.0, index=1)),
    ("stage 1 waits for T0", before_t0(), Next(Move.START_STEP, due_t_s=0.0, index=4)),
    ("a started stage sets its weight", [*before_t0(), step(4, 0.0)], Next(Move.SET_WEIGHT, index=4)),
    ("an open intent is resolved first", [*before_t0(), step(4, 0.0), intent("w1", 1.0, 0.0)],
     Next(Move.RESOLVE_INTENT)),
    ("another process's intent is waited for", [*stage_one_at_1pct(), intent("ic9", 0.0, 30.0)],
     Next(Move.AWAIT_EXTERNAL)),
    ("the first tick one interval into the stage", stage_one_at_1pct(), Next(Move.TICK, due_t_s=60.0)),
    ("the next tick one interval after the last", [*stage_one_at_1pct(), decision(60.0)],
     Next(Move.TICK, due_t_s=120.0)),
    ("a hold that ends before the next tick", [*stage_one_at_1pct(), decision(60.0, "hold"),
                                               et.HoldStarted(stage=0, n=1, until_t_s=90.0, t_s=60.0)],
     Next(Move.END_HOLD, due_t_s=90.0)),
    ("a hold that ends later ticks meanwhile", [*stage_one_at_1pct(), decision(60.0, "hold"),
                                                et.HoldStarted(stage=0, n=1, until_t_s=960.0, t_s=60.0)],
     Next(Move.TICK, due_t_s=120.0)),
    ("a weight the router does not hold is set again",
     [*stage_one_at_1pct(), intent("w2", 1.0, 50.0), outcome("w2", 1.0, 0.5, 51.0)], Next(Move.SET_WEIGHT, index=4)),
    ("a completed stage: the next starts now", [*stage_one_at_1pct(), step(4, 900.0, done=True)],
     Next(Move.START_STEP, index=5)),
    ("rolling back sets 0 %", [*stage_one_at_1pct(), et.RollbackStarted(trigger="decision")], Next(Move.ROLLBACK)),
    ("rolled back: the close-out starts",
     [*stage_one_at_1pct(), et.RollbackStarted(trigger="decision"), intent("w2", 0.0, 60.0),
      outcome("w2", 0.0, 0.0, 61.0)], Next(Move.START_STEP, index=11)),
    ("rolled back, close-out started: it runs",
     [*stage_one_at_1pct(), et.RollbackStarted(trigger="decision"), intent("w2", 0.0, 60.0),
      outcome("w2", 0.0, 0.0, 61.0), step(11, 70.0)], Next(Move.RUN_STEP, index=11)),
    ("rolled back and closed out: the end",
     [*stage_one_at_1pct(), et.RollbackStarted(trigger="decision"), intent("w2", 0.0, 60.0),
      outcome("w2", 0.0, 0.0, 61.0), step(11, 70.0), step(11, 70.0, done=True)], Next(Move.END)),
    ("first night: a check-in every hour", [*stage_one_at_1pct(), step(10, 5400.0)],
     Next(Move.TICK, due_t_s=5400.0 + CHECKIN_S)),
    ("first night: the last check-in is the finish",
     [*stage_one_at_1pct(), step(10, 5400.0), et.DecisionMade(t_s=5400.0 + NIGHT_S - 10, phase="first_night")],
     Next(Move.FINISH_FIRST_NIGHT, due_t_s=5400.0 + NIGHT_S)),
    ("ended: nothing", [*stage_one_at_1pct(), et.RunEnded(status="promoted", exit_code=0)], None),
    ("every step done: the end", [started(), *[step(i, 0.0, done=True) for i in range(len(STEPS))]],
     Next(Move.END)),
]


@pytest.mark.parametrize(("events", "expected"), [pytest.param(e, x, id=name) for name, e, x in NEXT_TABLE])
def test_next_move(events: list[et.Event], expected: Next | None) -> None:
    state = fold(numbered(events))
    assert next_move(state, STEPS, tick_s=TICK_S, checkin_s=CHECKIN_S, first_night_s=NIGHT_S) == expected


# --------------------------------------------------------------------------- prefix fold == apply one by one


def _recorded() -> list[LedgerEvent]:
    return [e for name in NAMES for e in read_events(name)]


RECORDED = _recorded()
BY_RUN: dict[str, list[LedgerEvent]] = {}
for _e in RECORDED:
    BY_RUN.setdefault(_e.run_id, []).append(_e)
RUNS = sorted(BY_RUN)


def _snapshot(state: RunState) -> dict[str, Any]:
    return {k: v for k, v in vars(state).items()}


@settings(max_examples=60, deadline=None)
@given(run=st.sampled_from(RUNS), data=st.data())
def test_folding_a_prefix_equals_applying_its_events_one_by_one(run: str, data: st.DataObject) -> None:
    events = BY_RUN[run]
    n = data.draw(st.integers(min_value=0, max_value=len(events)), label="prefix")
    state = RunState()
    for e in events[:n]:
        state.apply(e)
    assert _snapshot(state) == _snapshot(fold(events[:n]))
    # and the typed events fold the same as the ledger rows they came from
    typed = fold(et.parse_all(events[:n]))
    assert {k: v for k, v in _snapshot(typed).items() if k != "run_id"} == \
        {k: v for k, v in _snapshot(state).items() if k != "run_id"}


@settings(max_examples=40, deadline=None)
@given(run=st.sampled_from(RUNS), data=st.data())
def test_a_folded_prefix_takes_the_rest_one_by_one_to_the_whole_fold(run: str, data: st.DataObject) -> None:
    """What `resume` relies on: a state folded up to any event, then taking the rest, is the whole fold."""
    events = BY_RUN[run]
    n = data.draw(st.integers(min_value=0, max_value=len(events)), label="prefix")
    state = fold(events[:n])
    for e in events[n:]:
        state.apply(e)
    assert _snapshot(state) == _snapshot(fold(events))


def test_the_recorded_runs_end_as_their_ledgers_say() -> None:
    ends = sorted(fold(events).status.value for events in BY_RUN.values())
    assert ends == ["promoted", "promoted", "rolled_back"]
    assert all(datetime.fromisoformat(fold(e).started["t0_at"]).tzinfo == UTC for e in BY_RUN.values())
