"""What the runner does at each move: steps, weights, ticks, holds, rollback, pause, end.

Split from `runofshow.app.runner` (the loop) to keep both readable; `Runner` is the only user.
Every method appends ledger events through `_append`, which applies each event to the folded
state right after the ledger has committed it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from runofshow.app import events as ev
from runofshow.app import traffic
from runofshow.app.clock import clock_params
from runofshow.app.events import EventKind, Phase, RunStatus, Trigger
from runofshow.app.steps import StepContext, StepOutcome, record_only
from runofshow.domain.tick import Action, Alert, Decision, Tick
from runofshow.domain.timeline import StepKind, t_label
from runofshow.errors import RouterError, RunOfShowError
from runofshow.ports import LedgerEvent

if TYPE_CHECKING:
    from runofshow.app.run_state import RunState
    from runofshow.app.runner import RunPorts
    from runofshow.domain.plan import Plan
    from runofshow.domain.timeline import Step

#: kinds after which the runs table (status, stage, weight) is brought up to date
_SYNC = {
    EventKind.WEIGHT_OUTCOME, EventKind.STEP_STARTED, EventKind.ROLLBACK_STARTED, EventKind.PAUSED,
    EventKind.RESUMED, EventKind.RUN_ENDED,
}
_ROLLBACK_ROUNDS = 5
_SET_WEIGHT_TRIES = 3
_EXIT = {RunStatus.PROMOTED: 0, RunStatus.ROLLED_BACK: 3, RunStatus.HALTED: 4}


def _error_text(err: BaseException) -> str:
    return str(err) if isinstance(err, RunOfShowError) else f"{type(err).__name__}: {err}"


class RunnerActs:
    plan: Plan
    ports: RunPorts
    state: RunState
    steps: tuple[Step, ...]
    tick_s: float
    checkin_s: float
    first_night_s: float

    def t_s(self) -> float:  # pragma: no cover - defined by Runner
        raise NotImplementedError

    _decide_fn: Callable[[Plan, Sequence[Tick], float], Decision]

    # ------------------------------------------------------------------ recording

    def _append(self, kind: EventKind, payload: dict[str, Any]) -> LedgerEvent:
        clock = self.ports.clock
        now = clock.now()
        payload.setdefault("t_s", (now - self.state.t0_at).total_seconds())
        event = self.ports.ledger.append(self.state.run_id, kind.value, payload, clock.to_wall(now))
        self.state.apply(event)
        if kind in _SYNC:
            self._sync_record()
        self._emit(event)
        return event

    def _sync_record(self) -> None:
        s = self.state
        self.ports.ledger.update_run(s.run_id, status=s.status.value, stage=s.stage, weight=s.weight)

    def _emit(self, event: LedgerEvent) -> None:
        if self.ports.on_event is not None:
            try:
                self.ports.on_event(event, self.state)
            except Exception:  # noqa: BLE001 - a view must never stop the run
                pass

    def _label(self, t_s: float | None = None) -> str:
        t = self.t_s() if t_s is None else t_s
        return t_label(timedelta(minutes=round(t / 60)))

    def _stage_no(self) -> int:
        return (self.state.stage or 0) + 1

    def _war_room(self, text: str) -> None:
        self._append(EventKind.WAR_ROOM, {"text": text, "label": self._label()})

    def _notify(self, event: str, text: str, fields: dict[str, Any] | None = None,
                annotate: bool = False) -> None:
        """Tell the channels; a failure is recorded and the run goes on."""
        targets: list[tuple[str, Any]] = []
        if self.ports.notifier is not None:
            targets.append(("notifier", lambda: self.ports.notifier.notify(event, text, fields or {})))
        if annotate and self.ports.annotator is not None:
            wall = self.ports.clock.to_wall(self.ports.clock.now())
            tags = ["runofshow", self.plan.release.version, event]
            targets.append(("annotator", lambda: self.ports.annotator.annotate(wall, text, tags)))
        for channel, send in targets:
            try:
                send()
            except Exception as err:  # noqa: BLE001 - a notifier failure never stops the run
                self._append(EventKind.NOTIFY_FAILED, {"channel": channel, "event": event,
                                                       "error": _error_text(err)})

    # ------------------------------------------------------------------ reading the world

    def _read_weight(self) -> float | None:
        try:
            return self.ports.router.current_weight()
        except RouterError:
            return None

    def _firing(self, quiet: bool = False) -> tuple[Alert, ...]:
        if self.ports.alerts is None:
            return ()
        try:
            return tuple(self.ports.alerts.firing(self.ports.clock.to_wall(self.ports.clock.now())))
        except Exception as err:  # noqa: BLE001 - a failing feed is no alerts plus a line
            if not quiet:
                self._war_room(f"alert feed failed: {_error_text(err)}")
            return ()

    # ------------------------------------------------------------------ traffic: intent, act, outcome

    def _intent(self, weight: float, reason: str) -> str:
        intent_id = self.state.next_intent_id()
        self._append(EventKind.WEIGHT_INTENT,
                     ev.intent_payload(intent_id, weight, reason, self.state.stage, self.t_s()))
        return intent_id

    def _outcome(self, intent_id: str, weight: float, read_back: float | None, *, attempts: int = 1,
                 error: str | None = None, resolved_on: str = "act") -> None:
        self._append(EventKind.WEIGHT_OUTCOME, ev.outcome_payload(
            intent_id, weight, read_back, self.t_s(), attempts=attempts, error=error,
            resolved_on=resolved_on))

    def _set_stage_weight(self, index: int) -> None:
        step = self.steps[index]
        assert step.weight is not None
        error = ""
        for attempt in range(_SET_WEIGHT_TRIES):
            intent_id = self._intent(step.weight, "stage")
            try:
                got: float | None = traffic.shift(self.ports.router, step.weight)
                error = ""
            except RouterError as err:
                got, error = self._read_weight(), str(err)
            self._outcome(intent_id, step.weight, got, error=error or None)
            if not error:
                self._war_room(f"Stage {self._stage_no()} ({step.weight:g}%) start | weight read back "
                               f"{got:g}% | IC: Proceed")
                self._notify("stage", f"{self.plan.release.version}: stage {self._stage_no()} "
                             f"({step.weight:g}%) started", {"weight": step.weight}, annotate=True)
                return
            if attempt < _SET_WEIGHT_TRIES - 1:
                self.ports.clock.sleep(self.ports.rollback_backoff_s * 2 ** attempt)
        self._start_rollback(Trigger.DECISION, (f"could not set the canary weight to {step.weight:g}%: "
                                                f"{error}",))

    def _start_rollback(self, trigger: Trigger, reasons: tuple[str, ...] | list[str]) -> None:
        reasons = tuple(reasons) or ("rollback",)
        self._append(EventKind.ROLLBACK_STARTED, {
            "trigger": trigger.value, "reasons": list(reasons), "stage": self.state.stage,
            "weight": self.state.weight,
        })
        self._war_room(f"ROLLBACK ({trigger.value}) | {ev.reasons_text(reasons)} | IC: Rollback")

    def _rollback(self) -> None:
        """Set 0 % until the router reads back 0 % (bounded; raises RouterError if it never does)."""
        last = ""
        for _ in range(_ROLLBACK_ROUNDS):
            intent_id = self._intent(0.0, "rollback")
            try:
                attempts = traffic.rollback(self.ports.router, attempts=self.ports.rollback_attempts,
                                            backoff_s=self.ports.rollback_backoff_s,
                                            sleep=self.ports.clock.sleep)
                got: float | None = 0.0
                last = ""
            except RouterError as err:
                attempts, got, last = self.ports.rollback_attempts, self._read_weight(), str(err)
            self._outcome(intent_id, 0.0, got, attempts=attempts, error=last or None)
            if self.state.rolled_back:
                self._war_room(f"ROLLBACK complete | weight read back 0% after {attempts} attempt(s)")
                self._notify("rollback", f"{self.plan.release.version}: rolled back to 0% "
                             f"({ev.reasons_text(self.state.rollback_reasons)})",
                             {"reasons": "; ".join(self.state.rollback_reasons)}, annotate=True)
                return
            self._war_room(f"rollback not confirmed: {last}")
        raise RouterError(f"rollback did not reach 0 % after {_ROLLBACK_ROUNDS} rounds: {last}",
                          adapter=type(self.ports.router).__name__)

    # ------------------------------------------------------------------ steps

    def _context(self, index: int) -> StepContext:
        now = self.ports.clock.now()
        return StepContext(
            plan=self.plan, run_id=self.state.run_id, index=index, step=self.steps[index],
            t_s=(now - self.state.t0_at).total_seconds(), at=now, evidence_dir=self.plan.evidence_dir,
            after_rollback=self.state.rolled_back, weight=self.state.weight,
        )

    def _phase_speed(self, phase: str) -> None:
        """Switch the clock to the phase's speed (a demo's), recording the new clock."""
        speed = self.ports.phase_speeds.get(phase)
        set_speed = getattr(self.ports.clock, "set_speed", None)
        if speed is None or set_speed is None or speed == self.ports.clock.speed:
            return
        set_speed(speed)
        self._append(EventKind.CLOCK_CHANGED, {**clock_params(self.ports.clock), "phase": phase})

    def _start_step(self, index: int) -> None:
        step = self.steps[index]
        if step.kind is StepKind.STAGE and step.stage == 0:
            self._phase_speed("stages")
        elif step.kind is StepKind.FIRST_NIGHT:
            self._phase_speed("first_night")
        if step.kind is StepKind.STAGE and self.ports.stage_gate is not None:
            assert step.stage is not None
            allowed, reason = self.ports.stage_gate(self.ports.clock.now(), step.stage)
            if not allowed:
                self._end(RunStatus.HALTED, f"window closed before {step.title}: {reason}")
                return
        self._append(EventKind.STEP_STARTED, ev.step_payload(index, step, self.t_s()))
        if step.kind is StepKind.FIRST_NIGHT:
            self._war_room(f"First night starts | check-ins every {self.plan.timeline.checkin_every_min:g} "
                           f"min for {self.plan.timeline.first_night_h:g} h")
        elif step.kind is not StepKind.STAGE:
            self._war_room(f"{step.title} (planned at {step.label})")

    def _run_step(self, index: int) -> None:
        step = self.steps[index]
        handler = self.ports.step_handlers.get(step.kind, record_only)
        try:
            outcome = handler(self._context(index)) or StepOutcome()
        except Exception as err:  # noqa: BLE001 - recorded; before T0 it halts the run
            before_t0 = step.offset.total_seconds() < 0
            outcome = StepOutcome(details={"error": _error_text(err)}, ok=False,
                                  halt=f"{step.title} failed: {_error_text(err)}" if before_t0 else None)
        if outcome.halt and not self.state.rolled_back:
            self._war_room(f"{step.title} | FAILED | {outcome.halt}")
            self._end(RunStatus.HALTED, outcome.halt, details=dict(outcome.details))
            return
        self._append(EventKind.STEP_COMPLETED, ev.step_payload(
            index, step, self.t_s(), details=dict(outcome.details), ok=outcome.ok))
        if step.kind is StepKind.PROMOTED:
            self._war_room(f"Canary complete ({' -> '.join(f'{s.weight:g}' for s in self.plan.stages)}%), "
                           "entering first-night monitoring")
            self._notify("promoted", f"{self.plan.release.version}: canary complete at 100%",
                         annotate=True)
        else:
            self._war_room(f"{step.title} | {'done' if outcome.ok else 'FAILED'}")

    def _finish_first_night(self) -> None:
        index = self.state.open_step
        assert index is not None
        self._run_step(index)

    # ------------------------------------------------------------------ ticks

    def _tick(self, trigger: Trigger) -> None:
        s, clock, plan = self.state, self.ports.clock, self.plan
        now = clock.now()
        t_s = (now - s.t0_at).total_seconds()
        first_night = s.phase is Phase.FIRST_NIGHT
        window = self.checkin_s if first_night and trigger is Trigger.CHECKIN else self.tick_s
        query_window = max(window / clock.speed, self.ports.min_query_window_s)
        source_error = None
        try:
            baseline, canary = self.ports.metrics.observe(clock.to_wall(now), query_window)
        except Exception as err:  # noqa: BLE001 - any source failure is NoData plus a war-room line
            baseline = canary = None
            source_error = _error_text(err)
            self._war_room(f"metrics source failed: {source_error} | NoData")
        alerts = self._firing()
        stage = s.stage if s.stage is not None else len(plan.stages) - 1
        tick = Tick(t_s=t_s, weight=s.weight or 0.0, stage=stage, baseline=ev.clean_sample(baseline),
                    canary=ev.clean_sample(canary), alerts=alerts)
        history = [*s.history, tick]
        decision = self._decide_fn(plan, history, t_s)
        watch: tuple[str, ...] = ()
        if first_night and self.ports.first_night_watch is not None:
            try:
                watch = tuple(self.ports.first_night_watch(plan, history, t_s))
            except Exception as err:  # noqa: BLE001 - a broken hook is a line, not a crash
                self._war_room(f"first-night watch failed: {_error_text(err)}")
        payload = ev.decision_payload(
            tick, decision, label=self._label(t_s), phase=s.phase or Phase.STAGE, trigger=trigger,
            window_s=window, query_window_s=query_window, gates=len(plan.gates), holds=s.holds,
            source_error=source_error)
        if watch:
            payload["first_night_watch"] = list(watch)
        self._append(EventKind.DECISION, payload)
        if decision.action is Action.ROLLBACK:
            self._start_rollback(Trigger.ALERT if trigger is Trigger.ALERT else Trigger.DECISION,
                                 decision.reasons)
        elif watch:
            self._start_rollback(Trigger.FIRST_NIGHT, watch)
        elif first_night and decision.action is Action.HOLD and s.consecutive_holds > plan.decision.max_holds:
            # at 100 % there is no baseline traffic to clear the canary: a breach that persists
            # past max_holds check-ins is the canary's, and the stable version is the safe place
            self._start_rollback(Trigger.FIRST_NIGHT, (
                f"held {s.consecutive_holds} check-ins in a row in the first night (max_holds "
                f"{plan.decision.max_holds}): {ev.reasons_text(decision.reasons)}",))
        elif first_night:
            if decision.action is Action.HOLD or trigger is Trigger.CHECKIN:
                self._war_room(f"First night check-in | {ev.metrics_line(plan, tick.canary)} | "
                               f"{decision.passing}/{len(plan.gates)} PASS | {decision.action.value}"
                               + (f" ({ev.reasons_text(decision.reasons)})" if decision.action is Action.HOLD
                                  else ""))
        elif decision.action is Action.HOLD:
            self._hold(decision, t_s)
        elif decision.stage_complete and not s.holding:
            self._complete_stage(decision, tick)

    def _hold(self, decision: Decision, t_s: float) -> None:
        s = self.state
        if s.holding:
            return
        n, limit = s.holds + 1, self.plan.decision.max_holds
        if n > limit:
            self._end(RunStatus.HALTED, f"stage {self._stage_no()} held {n} times, more than max_holds "
                      f"({limit}): {ev.reasons_text(decision.reasons)}")
            return
        hold_s = self.plan.decision.hold_min * 60
        self._append(EventKind.HOLD_STARTED, {
            "stage": s.stage, "n": n, "max_holds": limit, "hold_s": hold_s, "until_t_s": t_s + hold_s,
            "reasons": list(decision.reasons),
        })
        self._war_room(f"Stage {self._stage_no()} | HOLD {n}/{limit} for {hold_s / 60:g} min | "
                       f"{ev.reasons_text(decision.reasons)} | IC: Hold")
        self._notify("hold", f"{self.plan.release.version}: stage {self._stage_no()} held "
                     f"({ev.reasons_text(decision.reasons)})")

    def _complete_stage(self, decision: Decision, tick: Tick) -> None:
        s = self.state
        index = s.open_step
        assert index is not None
        started = s.stage_started_t_s or 0.0
        ticks = sum(1 for t in s.history if t.stage == s.stage and t.t_s >= started)
        self._append(EventKind.STEP_COMPLETED, ev.step_payload(
            index, self.steps[index], tick.t_s, ok=True,
            details={"ticks": ticks, "holds": s.holds, "passing": decision.passing,
                     "gates": len(self.plan.gates)}))
        self._war_room(f"Stage {self._stage_no()} complete | {ev.metrics_line(self.plan, tick.canary)} | "
                       f"{decision.passing}/{len(self.plan.gates)} metrics PASS | IC: Proceed")

    # ------------------------------------------------------------------ pause and end

    def _pause(self, reason: str) -> None:
        weight = self._read_weight()
        intent = self.state.open_intent
        if intent is not None:
            self._outcome(intent.id, intent.weight, weight, resolved_on="pause")
        self._append(EventKind.PAUSED, {"reason": reason, "weight": weight})
        shown = "unknown" if weight is None else f"{weight:g}%"
        self._war_room(f"PAUSED | weight {shown} | {reason}")

    def _pause_after_error(self, err: BaseException) -> None:
        """Best effort on the way out of an error: record the weight read back and pause."""
        if self.state.ended or self.state.status is RunStatus.PAUSED:
            return
        try:
            self._pause(f"stopped by an error: {_error_text(err)}")
        except Exception:  # noqa: BLE001 - the original error is what the caller must see
            pass

    def _end(self, status: RunStatus, reason: str, details: dict[str, Any] | None = None) -> None:
        """Record the end; `run_ended` is the run's last event."""
        weight = self._read_weight()
        self._war_room(f"{status.value.upper()} | {reason}")
        self._notify(status.value, f"{self.plan.release.version}: {status.value} ({reason})",
                     annotate=True)
        payload = ev.ended_payload(status, _EXIT[status], reason, weight, self.t_s())
        if details:
            payload["details"] = details
        self._append(EventKind.RUN_ENDED, payload)
