"""One decision-maker: `decide` and `note` (runofshow.app.warroom.commander), alone and against a running
runner (in-memory fakes, fake clock; the decision comes in at an exact plan instant as it would
from another process: appended to the ledger, then the runner told the ledger changed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from runofshow.adapters.memory import (
    FakeClock,
    InMemoryLedger,
    InMemoryRouter,
    RecordingAnnotator,
    RecordingNotifier,
    ScriptedMetrics,
)
from runofshow.app.bootstrap import RunOptions, start_run
from runofshow.app.run.events import EventKind, RunStatus
from runofshow.app.run.state import fold
from runofshow.app.steps.preflight import Override
from runofshow.app.warroom import commander as warroom
from runofshow.domain.plan import Plan
from runofshow.domain.tick import TrackSample
from runofshow.errors import InputError, RunNotFoundError
from runofshow.reports.evidence_render import RunView, parking_lot, war_room_lines
from tests.helpers import passing_t10_handlers

GOOD = {"http_p95_ms": 142, "http_5xx_pct": 0.02, "ws_lag_s": 8, "idempotency_conflict_pct": 0.1,
        "csp_violations": 3, "pgbouncer_pool_util_pct": 40}
PLAN = Plan.model_validate({"war_room": {"incident_commanders": ["alice", "Bob Smith"]}})


class Run:
    """A run on fakes, with decisions scheduled at plan minutes since T0."""

    def __init__(self, script: list[Any] | None = None, plan: Plan = PLAN) -> None:
        self.clock, self.router, self.ledger = FakeClock(), InMemoryRouter(), InMemoryLedger()
        good = TrackSample(values=GOOD, requests=5000)
        self.world, self.runner = start_run(
            plan, RunOptions(check_windows=False), environ={}, ledger=self.ledger, clock=self.clock,
            router=self.router, metrics=ScriptedMetrics(script or [(good, good)]), alerts=None,
            notifier=None, annotator=None, step_handlers=passing_t10_handlers())
        self.rid = self.runner.state.run_id
        self.results: list[warroom.Decided] = []

    def at(self, minute: float, action: str, by: str = "alice", reason: str = "because",
           router: bool = True) -> None:
        def fire() -> None:
            self.results.append(warroom.ic_decide(
                self.rid, action, by=by, reason=reason, ledger=self.ledger, now=self.clock.now,
                router=(lambda plan: self.router) if router else None, sleep=lambda s: None))
            self.runner.ledger_changed()

        self.clock.call_at(self.runner.state.t0_at + timedelta(minutes=minute), fire)

    def kinds(self, kind: EventKind) -> list[dict[str, Any]]:
        return [dict(e.payload) for e in self.ledger.events(self.rid) if e.kind == kind.value]

    def lines(self) -> list[str]:
        return war_room_lines(RunView.of(self.ledger.events(self.rid)))


def test_an_ic_rollback_acts_at_once_and_the_runner_closes_out() -> None:
    run = Run()
    run.at(20, "rollback", by="alice", reason="p95 climbing on the order book")
    assert run.runner.run() is RunStatus.ROLLED_BACK
    [result] = run.results
    assert result.accepted and result.weight == 0.0 and run.router.current_weight() == 0
    rb = run.kinds(EventKind.ROLLBACK_STARTED)
    assert len(rb) == 1 and rb[0]["trigger"] == "ic" and rb[0]["reasons"] == ["IC alice: p95 climbing on the order book"]
    assert run.router.changes == [1, 5, 0]  # no stage weight after the rollback
    intents = [p["id"] for p in run.kinds(EventKind.WEIGHT_INTENT)]
    assert sorted(intents) == sorted(p["id"] for p in run.kinds(EventKind.WEIGHT_OUTCOME))
    assert any(i.startswith("ic") for i in intents)
    ended = run.kinds(EventKind.RUN_ENDED)[0]
    assert ended["status"] == "rolled_back" and ended["weight"] == 0
    lines = run.lines()
    assert ":20 | Stage 2 (5%) ROLLBACK (ic): p95 climbing on the order book | p95=142ms 5xx=0.02% ws=8s " \
           "idemp=0.1% csp=3 pool=40% | 6/6 PASS | IC alice: Rollback" in lines
    assert ":20 | ROLLBACK complete, weight read back 0% after 1 attempt(s)" in lines
    assert run.ledger.verify_chain(run.rid) == []


def test_an_ic_rollback_is_announced_like_the_runners_and_a_failing_channel_is_recorded_first() -> None:
    """The commander rolls back through the runner's own recorder and traffic mover: the same
    notification and Grafana mark, and a failed channel recorded before the outcome (nothing may
    follow the runner's run_ended)."""
    notifier, annotator = RecordingNotifier(fail=1), RecordingAnnotator()
    run = Run()
    result: list[warroom.Decided] = []

    def fire() -> None:
        result.append(warroom.ic_decide(run.rid, "rollback", by="alice", reason="p95 climbing", ledger=run.ledger,
                                        now=run.clock.now, router=lambda plan: run.router, sleep=lambda s: None,
                                        notifier=notifier, annotator=annotator))
        run.runner.ledger_changed()

    run.clock.call_at(run.runner.state.t0_at + timedelta(minutes=20), fire)
    assert run.runner.run() is RunStatus.ROLLED_BACK and result[0].weight == 0.0
    [(_, text, tags)] = annotator.annotations
    assert text.startswith("🚨 v1.4.0 canary ROLLED BACK at Stage 2 (5%), canary traffic 0%: IC alice: p95 climbing")
    assert tuple(tags) == ("runofshow", "v1.4.0", "rollback")
    kinds = [e.kind for e in run.ledger.events(run.rid)]
    ic_outcome = next(i for i, e in enumerate(run.ledger.events(run.rid))
                      if e.kind == "weight_outcome" and e.payload["id"].startswith("ic"))
    failed = kinds.index("notify_failed")
    assert failed < ic_outcome and run.kinds(EventKind.NOTIFY_FAILED)[0]["channel"] == "notifier"
    rb = run.kinds(EventKind.ROLLBACK_STARTED)[0]
    assert rb["trigger"] == "ic" and rb["by"] == "IC alice" and rb["ic_seq"] == kinds.index("ic_decision") + 1


def test_anyone_else_is_refused_and_the_refusal_is_logged() -> None:
    run = Run()
    run.at(20, "rollback", by="mallory", reason="I think it is slow")
    assert run.runner.run() is RunStatus.PROMOTED  # the run went on
    [result] = run.results
    assert not result.accepted and "'mallory' is not an incident commander (alice, Bob Smith)" in result.message
    [refused] = run.kinds(EventKind.IC_REFUSED)
    assert refused["by"] == "mallory" and refused["action"] == "rollback" and refused["reason"] == "I think it is slow"
    assert not run.kinds(EventKind.ROLLBACK_STARTED) and not run.kinds(EventKind.IC_DECISION)


def test_an_ic_hold_holds_until_the_ic_proceeds_and_the_proceed_advances_the_stage() -> None:
    run = Run()
    run.at(20, "hold", by="bob  smith", reason="watch the WebSocket lag")
    run.at(50, "proceed", by="Bob Smith", reason="lag is flat")
    assert run.runner.run() is RunStatus.PROMOTED
    assert [r.accepted for r in run.results] == [True, True]
    [hold] = run.kinds(EventKind.HOLD_STARTED)
    assert hold["until_t_s"] is None and hold["by"] == "IC bob smith" and hold["stage"] == 1
    stage2 = [p for p in run.kinds(EventKind.STEP_COMPLETED) if p["kind"] == "stage" and p["stage"] == 1][0]
    assert stage2["t_s"] == pytest.approx(50 * 60, abs=1) and stage2["details"]["by"] == "IC Bob Smith"
    lines = run.lines()
    assert any(ln.startswith(":20 | Stage 2 (5%) HOLD until the incident commander proceeds: watch the "
                             "WebSocket lag |") and ln.endswith("| IC bob smith: Hold") for ln in lines)
    assert any(ln.startswith(":50 | Stage 2 (5%) complete |") and ln.endswith("| IC Bob Smith: Proceed")
               for ln in lines)
    assert any(ln.startswith(":50 | Stage 3 (25%) start") and ln.endswith("| IC Bob Smith: Proceed") for ln in lines)
    # every stage after the proceed keeps its own 15 minutes: 3 at T+50, 4 at T+65, 5 at T+80
    starts = [p["t_s"] / 60 for p in run.kinds(EventKind.STEP_STARTED) if p["kind"] == "stage"]
    assert starts[2:] == pytest.approx([50, 65, 80], abs=0.1)


def test_a_proceed_with_nothing_held_changes_nothing() -> None:
    run = Run()
    run.at(20, "proceed", reason="looks fine")
    assert run.runner.run() is RunStatus.PROMOTED
    assert any(ln == ":20 | IC proceed: nothing is held, the run goes on (looks fine) | IC alice: Proceed"
               for ln in run.lines())
    starts = [p["t_s"] / 60 for p in run.kinds(EventKind.STEP_STARTED) if p["kind"] == "stage"]
    assert starts == pytest.approx([0, 15, 30, 45, 60], abs=0.1)


def test_a_proceed_cannot_override_an_auto_trigger_rollback() -> None:
    good = TrackSample(values=GOOD, requests=5000)
    bad = TrackSample(values={**GOOD, "http_5xx_pct": 6.0}, requests=5000)
    run = Run([(good, good)] * 20 + [(good, bad)])
    assert run.runner.run() is RunStatus.ROLLED_BACK
    # the runner died right after the automatic rollback's outcome, before closing out
    events = run.ledger.events(run.rid)
    cut = next(e.seq for e in events if e.kind == "weight_outcome" and e.payload["weight"] == 0)
    ledger = InMemoryLedger()
    ledger.create_run(run.ledger.run(run.rid))
    for e in events[:cut]:
        ledger.append(run.rid, e.kind, e.payload, e.at)
    result = warroom.ic_decide(run.rid, "proceed", by="alice", reason="it was a blip", ledger=ledger)
    assert not result.accepted and "cannot override an auto-trigger rollback (decision:" in result.message
    assert ledger.events(run.rid)[-1].kind == "ic_refused"
    # after the end, nothing is accepted but rolling back a halted run
    assert "the run has ended (rolled_back" in warroom.ic_decide(
        run.rid, "hold", by="alice", reason="x", ledger=run.ledger).message


def test_a_hold_needs_a_running_canary_stage() -> None:
    run = Run()
    run.at(-5, "hold", reason="not yet")
    run.at(24 * 60, "hold", reason="too late")
    assert run.runner.run() is RunStatus.PROMOTED
    assert [r.message for r in run.results] == ["refused: nothing to hold: no canary stage has started",
                                               "refused: nothing to hold: the first night"]


def test_with_an_in_memory_router_the_runner_itself_sets_zero() -> None:
    run = Run()
    run.at(20, "rollback", reason="drill", router=False)
    assert run.runner.run() is RunStatus.ROLLED_BACK
    outcomes = run.kinds(EventKind.WEIGHT_OUTCOME)
    assert outcomes[-1]["read_back"] == 0 and not outcomes[-1]["id"].startswith("ic")
    assert len(run.kinds(EventKind.ROLLBACK_STARTED)) == 1


def test_a_stage_weight_set_after_another_process_rolled_back_is_rolled_back_again() -> None:
    """The fold: rolled back only while the last weight read back is 0."""
    run = Run()
    run.at(20, "rollback", reason="drill")
    assert run.runner.run() is RunStatus.ROLLED_BACK
    events = run.ledger.events(run.rid)
    i = next(i for i, e in enumerate(events) if e.kind == "weight_outcome" and e.payload["id"].startswith("ic"))
    state = fold(events[: i + 1])
    assert state.rolled_back
    late = events[i].__class__(**{**events[i].__dict__, "seq": events[i].seq + 1,
                                  "payload": {**events[i].payload, "id": "w9", "weight": 25, "read_back": 25}})
    assert not state.apply(late).rolled_back


def test_a_halted_run_can_be_rolled_back_by_the_ic() -> None:
    run = Run()
    run.runner.ports.step_handlers.update(passing_t10_handlers(failing=("backup",)))
    assert run.runner.run() is RunStatus.HALTED
    assert not warroom.ic_decide(run.rid, "proceed", by="alice", reason="x", ledger=run.ledger).accepted
    result = warroom.ic_decide(run.rid, "rollback", by="alice", reason="no canary tonight", ledger=run.ledger,
                            router=lambda plan: run.router)
    assert result.accepted and result.weight == 0
    state = fold(run.ledger.events(run.rid))
    assert not state.ended and state.rolled_back and run.ledger.run(run.rid).status == "rolling_back"


def test_notes_go_to_the_parking_lot_never_the_war_room() -> None:
    run = Run()
    assert run.runner.run() is RunStatus.PROMOTED
    event = warroom.note(run.rid, "I think the latency\nis the network", by="carol", ledger=run.ledger,
                         now=run.clock.now)
    assert event.kind == "parking_lot" and event.payload == {"text": "I think the latency is the network",
                                                            "by": "carol", "t_s": pytest.approx(event.payload["t_s"])}
    view = RunView.of(run.ledger.events(run.rid))
    assert "| carol | I think the latency is the network" in parking_lot(view)
    assert not any("network" in ln for ln in war_room_lines(view))
    with pytest.raises(InputError, match="the note is empty"):
        warroom.note(run.rid, "  ", by="carol", ledger=run.ledger)


def test_bad_input_is_refused_before_anything_is_recorded() -> None:
    run = Run()
    n = len(run.ledger.events(run.rid))
    with pytest.raises(InputError, match="'pause' is not one of proceed, hold, rollback"):
        warroom.ic_decide(run.rid, "pause", by="alice", reason="x", ledger=run.ledger)
    with pytest.raises(InputError, match="--reason"):
        warroom.ic_decide(run.rid, "hold", by="alice", reason=" ", ledger=run.ledger)
    with pytest.raises(RunNotFoundError, match="no run 'nope'"):
        warroom.ic_decide("nope", "hold", by="alice", reason="x", ledger=run.ledger)
    assert len(run.ledger.events(run.rid)) == n


def test_only_an_incident_commander_may_override_the_preflight() -> None:
    assert warroom.check_override(PLAN, Override("  bob   SMITH ", "drill")) == Override("Bob Smith", "drill")
    run = Run()
    with pytest.raises(InputError, match="'mallory' is not an incident commander of this plan"):
        warroom.check_override(PLAN, Override("mallory", "trust me"), ledger=run.ledger, run_id=run.rid)
    assert run.ledger.events(run.rid)[-1].payload["action"] == "override_preflight"
    with pytest.raises(InputError, match="--as NAME"):
        start_run(PLAN, RunOptions(preflight_override=Override("", "x")), environ={}, ledger=InMemoryLedger(),
                  clock=FakeClock(), router=InMemoryRouter(), metrics=ScriptedMetrics())
