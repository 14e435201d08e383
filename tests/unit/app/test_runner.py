"""Whole T-30 .. T+24h runs through the bootstrap with in-memory fakes and a fake clock (ms each)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from runofshow.adapters.memory import (
    FakeClock,
    InMemoryLedger,
    InMemoryRouter,
    RecordingNotifier,
    StaticAlerts,
)
from runofshow.app.bootstrap import RunOptions, resume_run, start_run
from runofshow.app.run.clock import CompressedClock, clock_params, resumed_clock
from runofshow.app.run.events import EventKind, RunStatus
from runofshow.app.run.runner import Runner
from runofshow.app.run.state import fold
from runofshow.domain.connections import WebJsonSettings
from runofshow.domain.plan import Plan
from runofshow.domain.tick import Action, Alert, Decision, TrackSample
from runofshow.errors import MetricsUnavailableError
from tests.helpers import passing_t10_handlers

HEALTHY = {"http_p95_ms": 150.0, "http_5xx_pct": 0.2, "ws_lag_s": 3.0, "idempotency_conflict_pct": 0.1,
           "csp_violations": 1.0, "pgbouncer_pool_util_pct": 40.0}
ROLLBACK_ALERT = Alert("CanaryCrashLooping", {"auto_rollback": "true", "track": "canary"})


class TrafficMetrics:
    """Both tracks at a steady 3000 requests a tick split by the router's weight, a little noise,
    and per-track overrides from `canary_from` (plan seconds since T0 -> values)."""

    def __init__(self, router: InMemoryRouter, clock: FakeClock, seed: int = 1) -> None:
        self.router, self.clock, self.rng = router, clock, random.Random(seed)
        self.t0 = None
        self.canary_changes: list[tuple[float, dict[str, float]]] = []
        self.baseline_changes: list[tuple[float, dict[str, float]]] = []
        self.windows: list[float] = []

    def _values(self, changes: list[tuple[float, dict[str, float]]], share: float) -> dict[str, float | None]:
        t_s = (self.clock.now() - self.t0).total_seconds() if self.t0 else 0.0
        jitter = self.rng.uniform
        values: dict[str, float | None] = {k: v * (1 + jitter(-0.05, 0.05)) for k, v in HEALTHY.items()}
        values["csp_violations"] = HEALTHY["csp_violations"] * share  # a count: it follows the traffic
        for since, override in changes:
            if t_s >= since:
                values.update(override)
        return values

    def observe(self, at: Any, window_s: float) -> tuple[TrackSample, TrackSample]:
        self.windows.append(window_s)
        w = self.router.current_weight() / 100
        return (TrackSample(self._values(self.baseline_changes, 1 - w), requests=3000 * (1 - w) or None),
                TrackSample(self._values(self.canary_changes, w), requests=3000 * w or None))


def world(plan: Plan | None = None, **overrides: Any) -> tuple[Runner, Any]:
    plan = plan or Plan()
    clock = overrides.pop("clock", None) or FakeClock()
    router = overrides.pop("router", None) or InMemoryRouter()
    ledger = overrides.pop("ledger", None) or InMemoryLedger()
    metrics = overrides.pop("metrics", None) or TrafficMetrics(router, clock)
    alerts = overrides.pop("alerts", None) or StaticAlerts()
    handlers = {**passing_t10_handlers(), **overrides.pop("step_handlers", {})}
    w, runner = start_run(plan, RunOptions(check_windows=False), environ={}, ledger=ledger, clock=clock,
                          router=router, metrics=metrics, alerts=alerts, step_handlers=handlers, **overrides)
    if isinstance(metrics, TrafficMetrics):
        metrics.t0 = runner.state.t0_at
    return runner, w


def kinds(ledger: InMemoryLedger, run_id: str, kind: EventKind) -> list[dict[str, Any]]:
    return [dict(e.payload) for e in ledger.events(run_id) if e.kind == kind.value]


def stage_steps(ledger: InMemoryLedger, run_id: str, kind: EventKind) -> list[int]:
    return [p["stage"] for p in kinds(ledger, run_id, kind) if p["kind"] == "stage"]


def assert_whole_history(ledger: InMemoryLedger, run_id: str) -> None:
    """Every intent has exactly one outcome, the chain verifies, decisions move forward in time."""
    assert ledger.verify_chain(run_id) == []
    intents = [p["id"] for p in kinds(ledger, run_id, EventKind.WEIGHT_INTENT)]
    outcomes = [p["id"] for p in kinds(ledger, run_id, EventKind.WEIGHT_OUTCOME)]
    assert sorted(intents) == sorted(outcomes) and len(set(intents)) == len(intents)
    times = [p["t_s"] for p in kinds(ledger, run_id, EventKind.DECISION)]
    assert times == sorted(times)


# --------------------------------------------------------------------------- the happy path


def test_a_healthy_canary_is_promoted_through_the_whole_timeline() -> None:
    ledger, router = InMemoryLedger(), InMemoryRouter()
    runner, _ = world(ledger=ledger, router=router)
    assert runner.run() is RunStatus.PROMOTED
    rid = runner.state.run_id
    assert router.changes == [1, 5, 25, 50, 100]
    assert stage_steps(ledger, rid, EventKind.STEP_STARTED) == [0, 1, 2, 3, 4]
    assert stage_steps(ledger, rid, EventKind.STEP_COMPLETED) == [0, 1, 2, 3, 4]
    steps = [p["kind"] for p in kinds(ledger, rid, EventKind.STEP_COMPLETED)]
    assert steps[:4] == ["freeze_start", "war_room", "preflight", "blast_radius"]
    assert steps[-3:] == ["promoted", "first_night", "close_out"]
    ended = kinds(ledger, rid, EventKind.RUN_ENDED)
    assert ended[0]["status"] == "promoted" and ended[0]["exit_code"] == 0
    record = ledger.run(rid)
    assert (record.status, record.stage, record.weight) == ("promoted", 4, 100.0)
    decisions = kinds(ledger, rid, EventKind.DECISION)
    checkins = [d for d in decisions if d["phase"] == "first_night"]
    assert len(checkins) == 23  # hourly from T+2.5h until the first night ends at T+25.5h
    last = ended[0]["t_s"]
    assert last == pytest.approx((90 + 24 * 60) * 60, abs=1)
    assert_whole_history(ledger, rid)


def test_a_decision_event_keeps_every_input_and_verdict() -> None:
    ledger = InMemoryLedger()
    runner, _ = world(ledger=ledger)
    runner.run()
    d = kinds(ledger, runner.state.run_id, EventKind.DECISION)[3]
    assert set(d["inputs"]) == {"baseline", "canary", "alerts"}
    assert set(d["inputs"]["canary"]["values"]) == set(HEALTHY)
    assert d["inputs"]["canary"]["requests"] == pytest.approx(30.0)  # 1 % of 3000
    assert len(d["verdicts"]) == 6
    assert {"metric", "verdict", "reason", "canary", "baseline"} <= set(d["verdicts"][0])
    assert d["engine"].startswith("runofshow-decide/") and d["reasons"]
    assert d["stage"] == 0 and d["weight"] == 1.0 and d["window_s"] == 60.0
    started = kinds(ledger, runner.state.run_id, EventKind.RUN_STARTED)[0]
    assert started["plan"]["release"]["version"] == "v1.4.0" and len(started["steps"]) == 12


def test_the_state_folded_from_the_ledger_is_the_runners_state() -> None:
    ledger = InMemoryLedger()
    runner, _ = world(ledger=ledger)
    runner.run()
    folded = fold(ledger.events(runner.state.run_id))
    assert folded.history == runner.state.history
    assert folded.status is RunStatus.PROMOTED
    assert (folded.stages_completed, folded.weight) == ([0, 1, 2, 3, 4], 100.0)


# --------------------------------------------------------------------------- rolling back


def test_a_canary_only_breach_rolls_back_and_later_stages_never_start() -> None:
    ledger, router = InMemoryLedger(), InMemoryRouter()
    clock = FakeClock()
    metrics = TrafficMetrics(router, clock)
    metrics.canary_changes.append((35 * 60, {"http_5xx_pct": 6.0}))
    runner, _ = world(ledger=ledger, router=router, clock=clock, metrics=metrics)
    assert runner.run() is RunStatus.ROLLED_BACK
    rid = runner.state.run_id
    assert router.current_weight() == 0 and router.changes == [1, 5, 25, 0]
    assert stage_steps(ledger, rid, EventKind.STEP_STARTED) == [0, 1, 2]
    rb = kinds(ledger, rid, EventKind.ROLLBACK_STARTED)[0]
    assert rb["trigger"] == "decision" and "http_5xx_pct" in rb["reasons"][0]
    assert 35 * 60 <= rb["t_s"] <= 40 * 60
    outcome = kinds(ledger, rid, EventKind.WEIGHT_OUTCOME)[-1]
    assert outcome["weight"] == 0 and outcome["read_back"] == 0 and outcome["ok"]
    steps = [p["kind"] for p in kinds(ledger, rid, EventKind.STEP_COMPLETED)]
    assert steps[-1] == "close_out" and "promoted" not in steps
    assert ledger.run(rid).status == "rolled_back"
    assert_whole_history(ledger, rid)


def test_a_breach_the_baseline_shares_is_not_the_canarys() -> None:
    router, clock = InMemoryRouter(), FakeClock()
    metrics = TrafficMetrics(router, clock)
    metrics.canary_changes.append((35 * 60, {"http_p95_ms": 420.0}))
    metrics.baseline_changes.append((35 * 60, {"http_p95_ms": 420.0}))
    metrics.canary_changes.append((50 * 60, {"http_p95_ms": 150.0}))
    metrics.baseline_changes.append((50 * 60, {"http_p95_ms": 150.0}))
    runner, _ = world(router=router, clock=clock, metrics=metrics)
    assert runner.run() is RunStatus.PROMOTED


def test_a_webhook_alert_rolls_back_at_once_not_at_the_next_tick() -> None:
    ledger, clock, alerts = InMemoryLedger(), FakeClock(), StaticAlerts()
    runner, _ = world(ledger=ledger, clock=clock, alerts=alerts)
    fire_at = runner.state.t0_at + timedelta(minutes=20, seconds=7)

    def webhook() -> None:  # what the Alertmanager receiver does when the POST arrives
        alerts.fire(ROLLBACK_ALERT)
        runner.alert_arrived(ROLLBACK_ALERT)

    clock.call_at(fire_at, webhook)
    assert runner.run() is RunStatus.ROLLED_BACK
    rid = runner.state.run_id
    received = kinds(ledger, rid, EventKind.ALERT_RECEIVED)[0]
    rb = kinds(ledger, rid, EventKind.ROLLBACK_STARTED)[0]
    zero = [p for p in kinds(ledger, rid, EventKind.WEIGHT_OUTCOME) if p["weight"] == 0][0]
    assert received["t_s"] == rb["t_s"] == zero["t_s"] == 20 * 60 + 7  # the tick would be at 21:00
    assert rb["trigger"] == "alert" and "CanaryCrashLooping" in rb["reasons"][0]
    alert_tick = kinds(ledger, rid, EventKind.DECISION)[-1]
    assert alert_tick["trigger"] == "alert"
    assert alert_tick["inputs"]["alerts"][0]["name"] == "CanaryCrashLooping"


def test_a_polled_alert_rolls_back_at_the_next_tick() -> None:
    ledger, clock, alerts = InMemoryLedger(), FakeClock(), StaticAlerts()
    runner, _ = world(ledger=ledger, clock=clock, alerts=alerts)
    clock.call_at(runner.state.t0_at + timedelta(minutes=20, seconds=7), lambda: alerts.fire(ROLLBACK_ALERT))
    assert runner.run() is RunStatus.ROLLED_BACK
    rb = kinds(ledger, runner.state.run_id, EventKind.ROLLBACK_STARTED)[0]
    assert rb["t_s"] == 21 * 60


def test_a_fast_slo_burn_in_the_first_night_rolls_back_at_the_next_check_in() -> None:
    router, clock = InMemoryRouter(), FakeClock()
    metrics = TrafficMetrics(router, clock)
    metrics.canary_changes.append((6 * 3600, {"http_5xx_pct": 6.0}))
    ledger = InMemoryLedger()
    runner, _ = world(ledger=ledger, router=router, clock=clock, metrics=metrics)
    assert runner.run() is RunStatus.ROLLED_BACK
    rid = runner.state.run_id
    rb = kinds(ledger, rid, EventKind.ROLLBACK_STARTED)[0]
    # 6 % errors against a 99.9 % SLO: a 60x burn over 1 h and 5 m, far past the page's 14.4x
    assert rb["trigger"] == "first_night" and rb["reasons"][0].startswith("SLO fast burn: page")
    assert 6 * 3600 <= rb["t_s"] <= 7 * 3600 and router.current_weight() == 0
    checkins = [d for d in kinds(ledger, rid, EventKind.DECISION) if d["phase"] == "first_night"]
    assert all(d["burn"]["source"].startswith("the error-rate gate") for d in checkins)
    assert checkins[0]["burn"]["severity"] == "ok" and checkins[-1]["burn"]["severity"] == "page"
    assert checkins[-1]["burn"]["windows"]["1h"] == pytest.approx(60.0, rel=0.06)


def test_a_regression_in_the_first_night_still_rolls_back() -> None:
    router, clock = InMemoryRouter(), FakeClock()
    metrics = TrafficMetrics(router, clock)
    metrics.canary_changes.append((6 * 3600, {"http_5xx_pct": 6.0}))
    ledger = InMemoryLedger()
    plan = Plan.model_validate({"timeline": {"rollback_on_fast_burn": False}})
    runner, _ = world(plan, ledger=ledger, router=router, clock=clock, metrics=metrics)
    assert runner.run() is RunStatus.ROLLED_BACK
    rb = kinds(ledger, runner.state.run_id, EventKind.ROLLBACK_STARTED)[0]
    # without the burn-rate rollback the gates still catch it: the engine rolls back, or (at 100 %
    # the baseline has no traffic to compare with) a hold that lasts past max_holds (3) check-ins
    # is rolled back by the runner
    assert rb["trigger"] == "decision" or (rb["trigger"] == "first_night" and "held 4 check-ins" in rb["reasons"][0])
    assert 6 * 3600 <= rb["t_s"] <= 6 * 3600 + 4 * 3600 and router.current_weight() == 0


def test_the_first_night_watch_hook_can_roll_back() -> None:
    calls: list[float] = []

    def slo_burn(plan: Plan, history: Any, now_s: float) -> tuple[str, ...]:
        calls.append(now_s)
        return ("SLO burn rate 16 over 1h",) if now_s > 10 * 3600 else ()

    ledger = InMemoryLedger()
    runner, _ = world(ledger=ledger, first_night_watch=slo_burn)
    assert runner.run() is RunStatus.ROLLED_BACK
    rb = kinds(ledger, runner.state.run_id, EventKind.ROLLBACK_STARTED)[0]
    assert rb["trigger"] == "first_night" and rb["reasons"] == ["SLO burn rate 16 over 1h"]
    assert calls and min(calls) > 90 * 60


def test_a_router_that_fails_for_a_while_is_rolled_back_until_it_reads_zero() -> None:
    router, clock = InMemoryRouter(), FakeClock()
    metrics = TrafficMetrics(router, clock)
    metrics.canary_changes.append((35 * 60, {"http_5xx_pct": 6.0}))
    clock.call_at(clock.now() + timedelta(minutes=30 + 35), lambda: setattr(router, "fail_sets", 13))
    ledger = InMemoryLedger()
    runner, _ = world(ledger=ledger, router=router, clock=clock, metrics=metrics)
    assert runner.run() is RunStatus.ROLLED_BACK
    zeros = [p for p in kinds(ledger, runner.state.run_id, EventKind.WEIGHT_OUTCOME) if p["weight"] == 0]
    assert [z["ok"] for z in zeros] == [False, True] and router.current_weight() == 0


# --------------------------------------------------------------------------- holding, halting


def always_hold(plan: Plan, history: Any, now_s: float) -> Decision:
    return Decision(now_s, Action.HOLD, ("p95 trending toward 300 ms",))


def test_holding_past_max_holds_halts_and_leaves_traffic_where_it_is() -> None:
    ledger, router = InMemoryLedger(), InMemoryRouter()
    runner, _ = world(ledger=ledger, router=router, decide=always_hold)
    assert runner.run() is RunStatus.HALTED
    rid = runner.state.run_id
    holds = kinds(ledger, rid, EventKind.HOLD_STARTED)
    assert [h["n"] for h in holds] == [1, 2, 3]
    assert holds[1]["t_s"] - holds[0]["t_s"] >= 15 * 60
    ended = kinds(ledger, rid, EventKind.RUN_ENDED)[0]
    assert ended["status"] == "halted" and "max_holds" in ended["reason"] and ended["weight"] == 1
    assert router.current_weight() == 1 and ledger.run(rid).status == "halted"


def test_a_closed_window_halts_before_the_stage() -> None:
    ledger = InMemoryLedger()
    runner, _ = world(ledger=ledger, stage_gate=lambda at, stage: (stage < 2, "market open (09:30-18:00)"))
    assert runner.run() is RunStatus.HALTED
    rid = runner.state.run_id
    assert stage_steps(ledger, rid, EventKind.STEP_STARTED) == [0, 1]
    assert "window closed" in kinds(ledger, rid, EventKind.RUN_ENDED)[0]["reason"]


def test_the_incident_commander_can_stop_the_run() -> None:
    clock, ledger = FakeClock(), InMemoryLedger()
    runner, _ = world(clock=clock, ledger=ledger)
    stop_at = runner.state.t0_at + timedelta(minutes=5)
    clock.call_at(stop_at, lambda: runner.request_stop("ic-on-call: hold it"))
    assert runner.run() is RunStatus.HALTED
    assert "incident commander" in kinds(ledger, runner.state.run_id, EventKind.RUN_ENDED)[0]["reason"]


# --------------------------------------------------------------------------- no data, failing ports


def test_a_failing_metrics_source_is_no_data_then_a_rollback() -> None:
    ledger, router = InMemoryLedger(), InMemoryRouter()

    class Down:
        def observe(self, at: Any, window_s: float) -> Any:
            raise MetricsUnavailableError("prometheus http://127.0.0.1:9090: ConnectError",
                                          adapter="prometheus")

    runner, _ = world(ledger=ledger, router=router, metrics=Down())
    assert runner.run() is RunStatus.ROLLED_BACK
    rid = runner.state.run_id
    decisions = kinds(ledger, rid, EventKind.DECISION)
    assert [d["action"] for d in decisions] == ["hold"] * 5 + ["rollback"]
    assert all(d["source_error"] and d["inputs"]["canary"] is None for d in decisions)
    lines = [p["text"] for p in kinds(ledger, rid, EventKind.WAR_ROOM)]
    assert sum("metrics source failed" in line.lower() for line in lines) == 6
    assert router.current_weight() == 0


def test_nan_is_no_data_never_zero() -> None:
    router, clock, ledger = InMemoryRouter(), FakeClock(), InMemoryLedger()
    metrics = TrafficMetrics(router, clock)
    metrics.canary_changes.append((0, {"http_5xx_pct": float("nan")}))
    runner, _ = world(router=router, clock=clock, metrics=metrics, ledger=ledger)
    runner.run()
    first = kinds(ledger, runner.state.run_id, EventKind.DECISION)[0]
    assert first["inputs"]["canary"]["values"]["http_5xx_pct"] is None
    assert first["action"] == "hold"


def test_a_failing_notifier_never_stops_the_run() -> None:
    ledger = InMemoryLedger()
    notifier = RecordingNotifier(fail=1000)
    runner, _ = world(ledger=ledger, notifier=notifier)
    assert runner.run() is RunStatus.PROMOTED
    failed = kinds(ledger, runner.state.run_id, EventKind.NOTIFY_FAILED)
    assert failed and notifier.calls == len(failed)


# --------------------------------------------------------------------------- Ctrl-C


@pytest.mark.parametrize(("choice", "status", "weight"), [("pause", RunStatus.PAUSED, 5.0),
                                                         ("rollback", RunStatus.ROLLED_BACK, 0.0)])
def test_ctrl_c_asks_to_pause_or_roll_back(choice: str, status: RunStatus, weight: float) -> None:
    clock, ledger, router = FakeClock(), InMemoryLedger(), InMemoryRouter()
    asked: list[float | None] = []

    def ask(state: Any) -> str:
        asked.append(state.weight)
        return choice

    runner, _ = world(clock=clock, ledger=ledger, router=router, on_interrupt=ask)
    clock.call_at(runner.state.t0_at + timedelta(minutes=20, seconds=30), runner.interrupt)
    assert runner.run() is status
    assert asked == [5.0] and router.current_weight() == weight
    if choice == "pause":
        paused = kinds(ledger, runner.state.run_id, EventKind.PAUSED)[0]
        assert paused["weight"] == 5.0 and ledger.run(runner.state.run_id).status == "paused"


# --------------------------------------------------------------------------- crash and resume


class Crash(BaseException):
    """The process died (SIGKILL): nothing after it runs, nothing is recorded."""


class DyingLedger:
    """Passes appends to `inner` until the `n`-th, which kills the process before it commits."""

    def __init__(self, inner: InMemoryLedger, n: int) -> None:
        self.inner, self.n, self.count = inner, n, 0

    def append(self, run_id: str, kind: str, payload: Any, at: Any) -> Any:
        self.count += 1
        if self.count >= self.n:
            raise Crash(kind)
        return self.inner.append(run_id, kind, payload, at)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def crash_then_resume(n: int) -> tuple[InMemoryLedger, InMemoryRouter, str, RunStatus]:
    inner, router, clock = InMemoryLedger(), InMemoryRouter(), FakeClock()
    metrics = TrafficMetrics(router, clock)
    runner, _ = world(ledger=DyingLedger(inner, n), router=router, clock=clock, metrics=metrics)
    with pytest.raises(Crash):
        runner.run()
    rid = runner.state.run_id
    clock.advance(90)  # a minute and a half to notice and restart
    _, resumed = resume_run(rid, RunOptions(check_windows=False), environ={}, ledger=inner, clock=clock,
                            router=router, metrics=metrics, alerts=StaticAlerts(),
                            step_handlers=passing_t10_handlers())
    return inner, router, rid, resumed.run()


def test_an_intent_without_an_outcome_is_resolved_on_resume_by_reading_back() -> None:
    probe = InMemoryLedger()
    runner, _ = world(ledger=probe)
    runner.run()
    events = probe.events(runner.state.run_id)
    # die while appending the outcome of the 5 % intent: the router has already moved
    n = next(e.seq for e in events if e.kind == "weight_outcome" and e.payload["weight"] == 5)
    inner, router, rid, status = crash_then_resume(n)
    assert status is RunStatus.PROMOTED
    resumed = kinds(inner, rid, EventKind.RESUMED)[0]
    assert resumed["open_intent"] is not None and resumed["weight"] == 5
    outcome = [p for p in kinds(inner, rid, EventKind.WEIGHT_OUTCOME) if p["id"] == resumed["open_intent"]][0]
    assert outcome["resolved_on"] == "resume" and outcome["read_back"] == 5 and outcome["ok"]
    assert router.changes == [1, 5, 25, 50, 100]
    assert_whole_history(inner, rid)


@pytest.mark.parametrize("n", [2, 5, 9, 12, 14, 16, 17, 30, 45, 61, 95, 96, 130, 150, 180, 186, 189])
def test_a_resumed_run_never_repeats_or_skips_a_stage(n: int) -> None:
    inner, router, rid, status = crash_then_resume(n)
    assert status is RunStatus.PROMOTED
    assert stage_steps(inner, rid, EventKind.STEP_STARTED) == [0, 1, 2, 3, 4]
    assert stage_steps(inner, rid, EventKind.STEP_COMPLETED) == [0, 1, 2, 3, 4]
    completed = Counter(p["index"] for p in kinds(inner, rid, EventKind.STEP_COMPLETED))
    assert set(completed.values()) == {1} and len(completed) == 12
    assert len(kinds(inner, rid, EventKind.RESUMED)) == 1
    assert router.current_weight() == 100
    assert_whole_history(inner, rid)


def test_a_crash_during_a_rollback_finishes_the_rollback_on_resume() -> None:
    probe, router, clock = InMemoryLedger(), InMemoryRouter(), FakeClock()
    metrics = TrafficMetrics(router, clock)
    metrics.canary_changes.append((35 * 60, {"http_5xx_pct": 6.0}))
    runner, _ = world(ledger=probe, router=router, clock=clock, metrics=metrics)
    runner.run()
    n = next(e.seq for e in probe.events(runner.state.run_id) if e.kind == "rollback_started") + 1
    inner, router, clock = InMemoryLedger(), InMemoryRouter(), FakeClock()
    metrics = TrafficMetrics(router, clock)
    metrics.canary_changes.append((35 * 60, {"http_5xx_pct": 6.0}))
    runner, _ = world(ledger=DyingLedger(inner, n), router=router, clock=clock, metrics=metrics)
    with pytest.raises(Crash):
        runner.run()
    assert router.current_weight() == 25  # died before the rollback touched the router
    _, resumed = resume_run(runner.state.run_id, RunOptions(check_windows=False), environ={}, ledger=inner,
                            clock=clock, router=router, metrics=metrics, alerts=StaticAlerts())
    assert resumed.run() is RunStatus.ROLLED_BACK and router.current_weight() == 0
    assert len(kinds(inner, runner.state.run_id, EventKind.ROLLBACK_STARTED)) == 1


def test_resuming_a_finished_run_changes_nothing() -> None:
    ledger = InMemoryLedger()
    runner, _ = world(ledger=ledger)
    assert runner.run() is RunStatus.PROMOTED
    before = len(ledger.events(runner.state.run_id))
    _, again = resume_run(runner.state.run_id, RunOptions(check_windows=False), environ={}, ledger=ledger,
                          clock=FakeClock(), router=InMemoryRouter(), metrics=object(),
                          alerts=StaticAlerts())
    assert again.run() is RunStatus.PROMOTED and len(ledger.events(runner.state.run_id)) == before


def test_a_halted_run_can_be_resumed() -> None:
    ledger, router, clock = InMemoryLedger(), InMemoryRouter(), FakeClock()
    runner, _ = world(ledger=ledger, router=router, clock=clock,
                      stage_gate=lambda at, stage: (stage < 2, "market open"))
    assert runner.run() is RunStatus.HALTED
    _, resumed = resume_run(runner.state.run_id, RunOptions(check_windows=False), environ={}, ledger=ledger,
                            clock=clock, router=router, metrics=TrafficMetrics(router, clock),
                            alerts=StaticAlerts())
    assert resumed.run() is RunStatus.PROMOTED
    assert stage_steps(ledger, runner.state.run_id, EventKind.STEP_STARTED) == [0, 1, 2, 3, 4]


# --------------------------------------------------------------------------- time is injected


def test_speed_compresses_every_duration_and_the_query_windows() -> None:
    wall = FakeClock()
    started = wall.now()
    clock = CompressedClock(60, wall=wall)
    ledger, router = InMemoryLedger(), InMemoryRouter()
    metrics = TrafficMetrics(router, clock)  # type: ignore[arg-type]
    plan = Plan(metrics_source=WebJsonSettings())  # no Prometheus floor under the windows
    runner, _ = world(plan, ledger=ledger, router=router, clock=clock, metrics=metrics)
    assert runner.run() is RunStatus.PROMOTED
    plan_s = (30 + 90 + 24 * 60) * 60
    assert (wall.now() - started).total_seconds() == pytest.approx(plan_s / 60, rel=1e-3)
    assert set(metrics.windows) == {1.0, 60.0}  # a 60 s tick and a 60 min check-in, at 60x
    evs = ledger.events(runner.state.run_id)
    assert (evs[-1].at - evs[0].at).total_seconds() == pytest.approx(plan_s / 60, rel=1e-3)  # wall time
    assert evs[-1].payload["t_s"] == pytest.approx((90 + 24 * 60) * 60, abs=60)  # plan time


def test_a_clock_can_change_speed_and_a_resumed_clock_carries_plan_time_on() -> None:
    wall = FakeClock()
    clock = CompressedClock(60, wall=wall)
    start = clock.now()
    wall.advance(10)
    assert (clock.now() - start).total_seconds() == pytest.approx(600)
    clock.set_speed(3600)
    wall.advance(1)
    assert (clock.now() - start).total_seconds() == pytest.approx(4200)
    recorded = clock_params(clock)
    wall.advance(2)  # the process was down for 2 s of wall time
    again = resumed_clock(recorded, wall=wall)
    assert (again.now() - start).total_seconds() >= 4200 + 2 * 3600 - 1
    assert again.speed == 3600


def test_phase_speeds_run_the_stages_slower_than_the_night() -> None:
    wall = FakeClock()
    started = wall.now()
    clock = CompressedClock(3600, wall=wall)
    ledger = InMemoryLedger()
    runner, _ = world(ledger=ledger, clock=clock, phase_speeds={"stages": 60, "first_night": 3600})
    assert runner.run() is RunStatus.PROMOTED
    expected = 30 * 60 / 3600 + 90 * 60 / 60 + 24 * 3600 / 3600
    assert (wall.now() - started).total_seconds() == pytest.approx(expected, rel=0.02)
    changes = kinds(ledger, runner.state.run_id, EventKind.CLOCK_CHANGED)
    assert [(c["phase"], c["speed"]) for c in changes] == [("stages", 60), ("first_night", 3600)]


def test_the_plan_read_back_from_the_ledger_keeps_its_gate_order() -> None:
    ledger = InMemoryLedger()
    runner, _ = world(ledger=ledger)
    state = fold(ledger.events(runner.state.run_id))
    assert list(state.started["plan"]["gates"]) == sorted(Plan().gates)  # the ledger sorts keys
    assert state.plan().gate_names == Plan().gate_names
