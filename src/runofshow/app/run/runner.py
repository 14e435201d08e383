"""The runner: walks a plan's timeline as a persistent state machine over the ledger.

    state = fold(ledger events)                      (runofshow.app.run.state)
    loop:  next move -> wait until due -> do it -> append event -> apply it

The runner owns the loop and builds the collaborators that do each move:

    Recorder       appends to the ledger, keeps the folded state in step, war-room lines, messages
    TrafficMover   intent, act, read back, outcome; rolling back to 0 % with retries
    StepRunner     the T-minus steps' handlers and what each completed step says
    TickHandler    one decision tick: metrics -> decide -> record -> respond (`policy.respond`)

A resumed run reads the world back (weight, alerts), records `resumed`, and carries on from the
folded state: a completed stage is never repeated or skipped, the decision history stays whole.

Waiting goes through the clock (`RunClock.wait`), and is cut short by an Alertmanager webhook
(`alert_arrived`: decide and roll back at once, not at the next tick), by Ctrl-C (`interrupt`:
ask to pause or roll back), by `request_stop` (halt) and by events another process appended to
the ledger: `runofshow decide` (the incident commander's hold, proceed or rollback -- a rollback
is already done when the runner sees it) and `runofshow note`. The runner looks for them at every
move and, while it waits, every `ledger_poll_s` wall seconds (or when `ledger_changed()` says so).
The loop is bounded. Port failures are contained: a metrics source failure is NoData plus a
war-room line, a notifier failure a `notify_failed` event, a webhook call the alert receiver
refused a `webhook_refused` event (`refusals.take`, rate-limited); a router that cannot reach 0 % after
every retry raises, leaving the run `rolling_back` for `resume`. `run()` returns the run's
status; the CLI turns it into an exit code.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from runofshow.app.run import events as ev
from runofshow.app.run.clock import RunClock, clock_params
from runofshow.app.run.events import EventKind, Phase, RunStatus, Trigger
from runofshow.app.run.policy import loop_bound
from runofshow.app.run.recorder import Recorder, error_text
from runofshow.app.run.refusals import RefusalLog
from runofshow.app.run.state import Move, Next, RunState, fold, next_move
from runofshow.app.run.step_runner import StepRunner
from runofshow.app.run.steps import StepHandler, default_handlers
from runofshow.app.run.tick_handler import DecideFn, FirstNightWatch, TickHandler
from runofshow.app.run.traffic_mover import TrafficMover, start_rollback
from runofshow.domain.decide import engine_name
from runofshow.domain.plan import Plan
from runofshow.domain.tick import Alert
from runofshow.domain.timeline import StepKind, schedule
from runofshow.errors import LeaseLostError
from runofshow.ports import AlertFeed, Annotator, Ledger, LedgerEvent, MetricsSource, Notifier, RunRecord
from runofshow.ports import TrafficRouter as Router

log = logging.getLogger(__name__)

#: "may a canary stage start at this plan-time instant?" -> (allowed, reason)
StageGateFn = Callable[[datetime, int], tuple[bool, str]]
#: what to do on Ctrl-C: "pause" (leave traffic, resumable) or "rollback"
InterruptChoice = Callable[[RunState], str]
#: wall seconds the runner waits for another process's traffic change (an IC's rollback) to report
#: its outcome before it reads the router back itself
EXTERNAL_WAIT_S = 30.0


class RunPorts:
    """Everything the runner touches, built by `runofshow.app.bootstrap` (or by tests)."""

    def __init__(
        self, *, ledger: Ledger, router: Router, metrics: MetricsSource, clock: RunClock,
        alerts: AlertFeed | None = None, notifier: Notifier | None = None,
        annotator: Annotator | None = None, step_handlers: dict[StepKind, StepHandler] | None = None,
        stage_gate: StageGateFn | None = None, first_night_watch: FirstNightWatch | None = None,
        on_interrupt: InterruptChoice | None = None, min_query_window_s: float = 0.0,
        on_event: Callable[[LedgerEvent, RunState], None] | None = None,
        decide: DecideFn | None = None, rollback_attempts: int = 10, rollback_backoff_s: float = 1.0,
        phase_speeds: dict[str, float] | None = None, ledger_poll_s: float | None = None,
        min_checkin_window_s: float = 0.0,
    ) -> None:
        self.ledger, self.router, self.metrics, self.clock = ledger, router, metrics, clock
        self.alerts, self.notifier, self.annotator = alerts, notifier, annotator
        self.step_handlers: dict[StepKind, StepHandler] = {**default_handlers(), **(step_handlers or {})}
        self.stage_gate, self.first_night_watch = stage_gate, first_night_watch
        self.on_interrupt, self.on_event = on_interrupt, on_event
        self.min_query_window_s = min_query_window_s
        #: a first-night check-in looks back at least this many wall seconds (a demo's hour is one
        #: second of wall time: too few requests to judge a rate without reading noise as a breach)
        self.min_checkin_window_s = min_checkin_window_s
        self.decide = decide
        self.rollback_attempts, self.rollback_backoff_s = rollback_attempts, rollback_backoff_s
        #: clock speed from the start of the stages and of the first night ("stages", "first_night"),
        #: and while a blocking T-10 step runs ("steps": the preflight and the blast-radius load
        #: take real seconds), when the clock can change speed (a demo's); the time before T0 runs
        #: at the clock's own
        self.phase_speeds = dict(phase_speeds or {})
        #: while waiting, look for other processes' events this often (wall seconds); None: only
        #: at each move and when `Runner.ledger_changed()` is called (tests with a fake clock)
        self.ledger_poll_s = ledger_poll_s


def new_run_id(plan: Plan, at: datetime) -> str:
    return f"{plan.release.version}-{at.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(2)}"


class Runner:
    """One run. Build with `Runner.start(...)` (a new run) or `Runner.resume(...)`."""

    def __init__(self, plan: Plan, ports: RunPorts, state: RunState) -> None:
        self.plan, self.ports = plan, ports
        self.steps = schedule(plan)
        self.tick_s = plan.decision.tick_interval_s
        self.checkin_s = plan.timeline.checkin_every_min * 60
        self.first_night_s = plan.timeline.first_night_h * 3600
        self.recorder = Recorder(plan, state, ledger=ports.ledger, clock=ports.clock, outlets=ports)
        self.mover = TrafficMover(self.recorder, ports.router, attempts=ports.rollback_attempts,
                                  backoff_s=ports.rollback_backoff_s, sleep=ports.clock.sleep)
        self.step_runner = StepRunner(plan, self.steps, self.recorder, self.mover, ports)
        self.ticks = TickHandler(plan, self.steps, self.recorder, self.mover, ports)
        self._wake = threading.Event()
        self.refusals = RefusalLog(self.recorder, ports.clock, wake=self._wake)  # `take` from any thread
        self._lock = threading.Lock()
        self._inbox: list[Alert] = []
        self._interrupted = False
        self._stop_reason: str | None = None
        self._alert_tick = False
        self._ledger_dirty = False
        self._external_since: tuple[str, float] | None = None  # (intent id, t_s first seen)

    @property
    def state(self) -> RunState:
        """The run's folded state (the recorder keeps it equal to the fold of the ledger)."""
        return self.recorder.state

    # ------------------------------------------------------------------ construction

    @classmethod
    def start(
        cls, plan: Plan, ports: RunPorts, *, run_id: str | None = None, t0_at: datetime | None = None,
        state_url: str = "", meta: dict[str, Any] | None = None, submitted: bool = False,
    ) -> Runner:
        """Create the run in the ledger (`run_started`) and return its runner. A `submitted` run
        (`runofshow submit`, team mode) is in the runs table already, under `run_id`."""
        clock = ports.clock
        now = clock.now()
        steps = schedule(plan)
        first = min(s.offset for s in steps)
        t0 = t0_at or now - min(first, timedelta(0))
        wall_now = clock.to_wall(now)
        rid = run_id or new_run_id(plan, wall_now)
        plan_json = plan.model_dump(mode="json")
        if not submitted:
            ports.ledger.create_run(RunRecord(
                run_id=rid, release=plan.release.name, version=plan.release.version,
                status=RunStatus.RUNNING.value, stage=None, weight=None, started_at=wall_now, plan=plan_json,
            ))
        payload = {
            "run_id": rid, "release": plan.release.name, "version": plan.release.version,
            "service": plan.release.service, "plan": plan_json, "gate_order": list(plan.gates),
            **clock_params(clock),
            "t0_at": t0.isoformat(), "started_at": wall_now.isoformat(),
            "steps": [ev.step_json(i, s) for i, s in enumerate(steps)], "state": state_url,
            "engine": engine_name(plan.decision.judge),
            "t_s": (now - t0).total_seconds(), **(meta or {}),
        }
        event = ports.ledger.append(rid, EventKind.RUN_STARTED.value, payload, wall_now)
        runner = cls(plan, ports, fold([event]))
        runner.recorder.emit(event)
        return runner

    @classmethod
    def resume(cls, run_id: str, ports: RunPorts) -> Runner:
        """Take a run up again: fold its events, read the world back, record `resumed`."""
        state = fold(ports.ledger.events(run_id))
        plan = state.plan()
        runner = cls(plan, ports, state)
        if state.ended and state.status is not RunStatus.HALTED:
            return runner  # promoted or rolled back: nothing left to do
        rec = runner.recorder
        weight = ports.router.current_weight()
        alerts = runner.ticks.firing()
        resolved = None
        if state.open_intent is not None:
            resolved = state.open_intent.id
            runner.mover.outcome(state.open_intent.id, state.open_intent.weight, weight, resolved_on="resume")
        previous = state.status.value
        rec.append(EventKind.RESUMED, {
            "weight": weight, "alerts": ev.alerts_json(alerts), "previous_status": previous,
            "open_intent": resolved, "clock": clock_params(ports.clock),
        })
        rec.war_room(f"Resumed ({previous})", metrics=f"weight read back {weight:g}%, "
                     f"{len(alerts)} alert(s) firing")
        if alerts and state.phase is not None:
            runner._alert_tick = True
        return runner

    # ------------------------------------------------------------------ thread-safe requests

    def alert_arrived(self, alert: Alert) -> None:
        """An Alertmanager webhook delivered a matching alert: decide at once (any thread)."""
        with self._lock:
            self._inbox.append(alert)
        self._wake.set()

    def notify_failed(self, channel: str, event: str, error: str) -> None:
        """A notification channel gave up (any thread): recorded at the next safe point."""
        self.recorder.notify_failed(channel, event, error)
        self._wake.set()

    def record_later(self, kind: EventKind, payload: dict[str, Any]) -> None:
        """Another thread's event (the war room's communications): recorded at the next safe point."""
        self.recorder.record_later(kind, payload)
        self._wake.set()

    def ledger_changed(self) -> None:
        """Another process appended to this run's ledger (any thread): take it in at once."""
        self._ledger_dirty = True
        self._wake.set()

    def interrupt(self) -> None:
        """Ctrl-C: at the next safe point ask whether to pause or roll back (any thread)."""
        self._interrupted = True
        self._wake.set()

    def request_stop(self, reason: str) -> None:
        """The incident commander stops the run: halt, traffic left where it is (any thread)."""
        self._stop_reason = reason
        self._wake.set()

    # ------------------------------------------------------------------ the loop

    def t_s(self) -> float:
        return self.recorder.t_s()

    def run(self) -> RunStatus:
        """Run until the end or a pause; return the run's status (promoted, rolled back, halted,
        paused)."""
        if self.state.ended:
            return self.state.status
        self.recorder.sync_record()
        try:
            for _ in range(loop_bound(self.plan, self.steps)):
                self._wake.clear()
                if self._handle_requests():
                    break
                nxt = next_move(self.state, self.steps, tick_s=self.tick_s, checkin_s=self.checkin_s,
                                first_night_s=self.first_night_s)
                if nxt is None:
                    break
                if self._alert_tick and self.state.phase is not None and nxt.move is Move.TICK:
                    self._alert_tick = False
                    self.ticks.tick(Trigger.ALERT)
                    continue
                if nxt.due_t_s is not None:
                    remaining = nxt.due_t_s - self.t_s()
                    if remaining > 1e-6:
                        self._between_moves(remaining)
                        continue
                self._do(nxt)
            else:
                raise RuntimeError(f"run {self.state.run_id}: the runner's loop passed its bound")
        except BaseException as err:
            self._pause_after_error(err)
            raise
        return self.state.status

    def _between_moves(self, remaining: float) -> None:
        """Wait for the next move; in the first night poll alerts every tick interval meanwhile, and
        look at the ledger every `ledger_poll_s` wall seconds for other processes' events."""
        wait = remaining
        if self.state.phase is Phase.FIRST_NIGHT and self.ports.alerts is not None:
            wait = min(remaining, self.tick_s)
        poll = self.ports.ledger_poll_s
        clock = self.ports.clock
        slices = 1 if not poll else max(1, min(1_000_000, int(wait / (poll * clock.speed)) + 1))
        step = wait / slices
        for _ in range(slices):
            if clock.wait(self._wake, step):
                return
            if poll and self.recorder.catch_up():
                return  # an incident commander or a note: the loop looks again at once
        if wait < remaining and self.state.phase is Phase.FIRST_NIGHT:
            firing = self.ticks.firing(quiet=True)
            if any(a.matches(self.plan.alert_source.match_labels) for a in firing):
                self._alert_tick = True

    def _handle_requests(self) -> bool:
        """Alerts, Ctrl-C and stop requests, at a safe point. True when the loop must end."""
        rec = self.recorder
        with self._lock:
            inbox, self._inbox = self._inbox, []
        rec.record_failures()
        self.refusals.record_due()
        if self.ports.ledger_poll_s or self._ledger_dirty:
            self._ledger_dirty = False
            rec.catch_up()
        if inbox:
            rec.append(EventKind.ALERT_RECEIVED, {
                "alerts": ev.alerts_json(self.ticks.plan_timed(inbox)), "source": "webhook",
                "received_at": self.ports.clock.to_wall(self.ports.clock.now()).isoformat(),
            })
            if self.state.phase is not None and self.state.status is RunStatus.RUNNING:
                self._alert_tick = True
        if self._stop_reason is not None and not self.state.ended:
            reason, self._stop_reason = self._stop_reason, None
            rec.end(RunStatus.HALTED, f"stopped by the incident commander: {reason}",
                    self.mover.read_weight())
            return True
        if self._interrupted and not self.state.ended:
            self._interrupted = False
            choice = "pause"
            if self.ports.on_interrupt is not None:
                try:
                    choice = self.ports.on_interrupt(self.state)
                except (KeyboardInterrupt, EOFError):
                    choice = "pause"
            if choice == "rollback" and self.state.status is not RunStatus.ROLLING_BACK:
                start_rollback(self.recorder, Trigger.INTERRUPT, ("rolled back by the operator (Ctrl-C)",),
                               by="operator")
            elif choice != "rollback":
                self.mover.pause("interrupted (Ctrl-C or SIGTERM): traffic left where it is; resume to "
                                 "continue")
                return True
        return False

    def _do(self, nxt: Next) -> None:
        move = nxt.move
        if move is Move.IC_DECISION:
            self.ticks.carry_out_ic()
        elif move is Move.AWAIT_EXTERNAL:
            self._await_external()
        elif move is Move.RESOLVE_INTENT:
            intent = self.state.open_intent
            assert intent is not None
            self.mover.outcome(intent.id, intent.weight, self.mover.read_weight(), resolved_on="resume")
        elif move is Move.ROLLBACK:
            self.mover.roll_back_to_zero()
        elif move is Move.START_STEP:
            assert nxt.index is not None
            self.step_runner.start(nxt.index)
        elif move is Move.RUN_STEP:
            assert nxt.index is not None
            self.step_runner.run(nxt.index)
        elif move is Move.SET_WEIGHT:
            assert nxt.index is not None
            self._set_stage_weight(nxt.index)
        elif move is Move.TICK:
            self.ticks.tick(Trigger.CHECKIN if self.state.phase is Phase.FIRST_NIGHT else Trigger.TICK)
        elif move is Move.END_HOLD:
            self.ticks.hold_over()
        elif move is Move.FINISH_FIRST_NIGHT:
            index = self.state.open_step
            assert index is not None
            self.step_runner.run(index)
        elif move is Move.END:
            weight = self.mover.read_weight()
            if self.state.rolled_back:
                self.recorder.end(RunStatus.ROLLED_BACK, ev.reasons_text(self.state.rollback_reasons), weight)
            else:
                self.recorder.end(RunStatus.PROMOTED, f"{self.plan.release.version} promoted and the first "
                                  "night is complete", weight)

    def _set_stage_weight(self, index: int) -> None:
        step = self.steps[index]
        assert step.weight is not None
        moved = self.mover.set_stage_weight(step.weight)
        if moved is None:
            return  # rolled back meanwhile (another process): the loop sets 0 % again
        if moved.error is None:
            self.ticks.stage_started(step.weight, moved)
            return
        start_rollback(self.recorder, Trigger.DECISION, (
            f"could not set the canary weight to {step.weight:g}%: {moved.error}",))

    def _await_external(self) -> None:
        """Another process (`runofshow decide`) is rolling back: let it finish and record its
        outcome (nothing may follow the run_ended the runner would write). If it never does, read
        the router back and record that instead, as a resume would."""
        ext = self.state.external_intent
        assert ext is not None
        if self._external_since is None or self._external_since[0] != ext.id:
            self._external_since = (ext.id, self.t_s())
        limit = EXTERNAL_WAIT_S * self.ports.clock.speed
        waited = self.t_s() - self._external_since[1]
        if waited < limit:
            self._between_moves(limit - waited)
            return
        self.recorder.war_room(f"No outcome from the other process's traffic change ({ext.id}) in "
                               f"{EXTERNAL_WAIT_S:g} s: reading the router back")
        self.mover.outcome(ext.id, ext.weight, self.mover.read_weight(), resolved_on="timeout")

    # ------------------------------------------------------------------ on the way out

    def _pause_after_error(self, err: BaseException) -> None:
        """Best effort on the way out of an error: record the weight read back and pause."""
        if self.state.ended or self.state.status is RunStatus.PAUSED or isinstance(err, LeaseLostError):
            return  # a lost lease: the run is another worker's now, nothing of this one is recorded
        try:
            self.mover.pause(f"stopped by an error: {error_text(err)}")
        except Exception as pause_err:  # the original error is what the caller must see
            log.warning("could not record the pause after %s: %s", error_text(err), pause_err)


__all__ = ["EXTERNAL_WAIT_S", "InterruptChoice", "RunPorts", "Runner", "StageGateFn", "new_run_id"]
