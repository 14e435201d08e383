"""What the runner does at each move: recording, traffic, steps, rollback, pause, end.

Split from `runofshow.app.run.runner` (the loop) and `runofshow.app.run.runner_ticks` (ticks, holds, the
incident commander's decisions) to keep each readable; `Runner` is the only user. Every method
appends ledger events through `_append`, which applies each event to the folded state right after
the ledger has committed it. Events another process appended in between (`runofshow decide`,
`runofshow note`) are taken in first, in order, so the state is always what a fresh fold of the
ledger would give.

War-room lines are recorded with their parts (`runofshow.app.run.minutes`); notifications use the
seed's texts (`runofshow.app.run.notify`) and go to the notifier and, for stage transitions,
rollbacks and the canary's completion, to the Grafana annotator. Neither may stop or slow the run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from runofshow.app.run import events as ev
from runofshow.app.run import minutes, notify, traffic
from runofshow.app.run.clock import clock_params
from runofshow.app.run.events import EventKind, RunStatus, Trigger
from runofshow.app.run.steps import StepContext, StepOutcome, record_only
from runofshow.domain.tick import Alert, Decision, Tick
from runofshow.domain.timeline import StepKind, t_label
from runofshow.errors import RouterError, RunOfShowError
from runofshow.ports import LedgerEvent

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from runofshow.app.run.runner import RunPorts
    from runofshow.app.run.state import RunState
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
#: steps that block on the outside world; a demo runs them in real time (phase speed "steps")
_BLOCKING = (StepKind.PREFLIGHT, StepKind.BLAST_RADIUS)
#: wall seconds the runner waits, at the end, for queued notifications before recording failures
END_FLUSH_S = 1.0


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
    _lock: threading.Lock
    _failures: list[dict[str, str]]
    _advanced_by: str  # who let the last stage proceed: "auto" or "IC <name>"
    _preflight: dict[str, Any]  # the T-10 results so far, for the IC's confirmation message

    def t_s(self) -> float:  # pragma: no cover - defined by Runner
        raise NotImplementedError

    _decide_fn: Callable[[Plan, Sequence[Tick], float], Decision]

    # ------------------------------------------------------------------ recording

    def _append(self, kind: EventKind, payload: dict[str, Any]) -> LedgerEvent:
        clock = self.ports.clock
        now = clock.now()
        payload.setdefault("t_s", (now - self.state.t0_at).total_seconds())
        event = self.ports.ledger.append(self.state.run_id, kind.value, payload, clock.to_wall(now))
        if event.seq > self.state.last_seq + 1:  # another process appended in between
            missed = self.ports.ledger.events(self.state.run_id, after_seq=self.state.last_seq)
            self._take_in(e for e in missed if e.seq < event.seq)
        self.state.apply(event)
        if kind in _SYNC:
            self._sync_record()
        self._emit(event)
        return event

    def _take_in(self, events: Iterable[LedgerEvent]) -> int:
        """Apply events another process appended (in seq order); how many were new."""
        n = 0
        for event in events:
            if event.seq <= self.state.last_seq:
                continue
            self.state.apply(event)
            self._emit(event)
            n += 1
        return n

    def _catch_up(self) -> int:
        """Take in whatever other processes appended since the last event we know (a cheap query)."""
        try:
            return self._take_in(self.ports.ledger.events(self.state.run_id, after_seq=self.state.last_seq))
        except RunOfShowError:
            return 0  # the ledger will answer next time; our own appends would fail loudly

    def _sync_record(self) -> None:
        s = self.state
        self.ports.ledger.update_run(s.run_id, status=s.status.value, stage=s.stage, weight=s.weight)

    def _emit(self, event: LedgerEvent) -> None:
        if self.ports.on_event is not None:
            try:
                self.ports.on_event(event, self.state)
            except Exception:  # a view must never stop the run
                log.warning("a view of %s failed", event.kind, exc_info=True)

    def _label(self, t_s: float | None = None) -> str:
        t = self.t_s() if t_s is None else t_s
        return t_label(timedelta(minutes=round(t / 60)))

    def _stage_no(self) -> int:
        return (self.state.stage or 0) + 1

    def _stage_title(self, stage: int | None = None) -> str:
        i = self.state.stage if stage is None else stage
        if i is None:
            return "Pre-T0"
        return f"Stage {i + 1} ({self.plan.stages[i].weight:g}%)"

    def _war_room(self, observation: str, *, metrics: str | None = None, gates: str | None = None,
                  decision: str | None = None, by: str = minutes.AUTO, **extra: Any) -> None:
        """One war-room line, Observation -> Metric -> Decision, recorded with its parts."""
        payload = minutes.war_room_payload(observation, metrics=metrics, gates=gates, decision=decision,
                                           by=by, label=self._label())
        payload.update(extra)
        self._append(EventKind.WAR_ROOM, payload)

    def _last_signal(self) -> tuple[str | None, str | None]:
        """The last tick's canary metrics and gate count, for a war-room line."""
        s = self.state
        if not s.history:
            return None, None
        tick = s.history[-1]
        metrics = minutes.metrics_text(self.plan, None if tick.canary is None else tick.canary.values)
        gates = None if s.last_passing is None else f"{s.last_passing}/{len(self.plan.gates)} PASS"
        return metrics, gates

    def _notify(self, event: notify.Event, text: str, fields: dict[str, Any] | None = None,
                annotate: bool = False) -> None:
        """Tell the channels (and Grafana, with `annotate`); a failure is recorded, the run goes on."""
        targets: list[tuple[str, Any]] = []
        details = {"run_id": self.state.run_id, "version": self.plan.release.version, **(fields or {})}
        if self.ports.notifier is not None:
            targets.append(("notifier", lambda: self.ports.notifier.notify(event.value, text, details)))
        if annotate and self.ports.annotator is not None:
            wall = self.ports.clock.to_wall(self.ports.clock.now())
            tags = ["runofshow", self.plan.release.version, event.value]
            targets.append(("annotator", lambda: self.ports.annotator.annotate(wall, text, tags)))
        for channel, send in targets:
            try:
                send()
            except Exception as err:  # a notifier failure never stops the run
                self._append(EventKind.NOTIFY_FAILED, {"channel": channel, "event": event.value,
                                                       "error": _error_text(err)})

    def _record_failures(self) -> None:
        """Notification failures reported by the channels' threads, into the ledger."""
        with self._lock:
            failures, self._failures = self._failures, []
        for failure in failures:
            self._append(EventKind.NOTIFY_FAILED, dict(failure))

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
        except Exception as err:  # a failing feed is no alerts plus a line
            if not quiet:
                self._war_room(f"Alert feed failed: {_error_text(err)}")
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
            if self.state.status is RunStatus.ROLLING_BACK:
                return  # rolled back meanwhile (another process): the loop sets 0 % again
            if not error:
                self._stage_started_line(step.weight, got)
                return
            if attempt < _SET_WEIGHT_TRIES - 1:
                self.ports.clock.sleep(self.ports.rollback_backoff_s * 2 ** attempt)
        self._start_rollback(Trigger.DECISION, (f"could not set the canary weight to {step.weight:g}%: "
                                                f"{error}",))

    def _stage_started_line(self, weight: float, got: float | None) -> None:
        read = f"weight read back {got:g}%" if got is not None else "weight not read back"
        if self.state.stage == 0:
            what, (metrics, gates) = f"{self._stage_title()} start", (f"Traffic opened, {read}", None)
        else:
            what, (metrics, gates) = f"{self._stage_title()} start ({read})", self._last_signal()
        by, self._advanced_by = self._advanced_by, minutes.AUTO
        self._war_room(what, metrics=metrics, gates=gates, decision="Proceed", by=by)
        observed = "" if self.state.stage == 0 else (metrics or "")
        self._notify(notify.Event.STAGE, notify.stage_transition(
            self.plan.release.version, self._stage_no(), weight, observed),
            {"stage": self._stage_no(), "weight": weight}, annotate=True)

    def _start_rollback(self, trigger: Trigger, reasons: tuple[str, ...] | list[str],
                        by: str = minutes.AUTO) -> None:
        if self.state.status is RunStatus.ROLLING_BACK:
            return  # already rolling back (perhaps by the incident commander, from another process)
        reasons = tuple(reasons) or ("rollback",)
        self._append(EventKind.ROLLBACK_STARTED, {
            "trigger": trigger.value, "reasons": list(reasons), "stage": self.state.stage,
            "weight": self.state.weight, "by": by,
        })
        metrics, gates = self._last_signal()
        self._war_room(f"{self._stage_title()} ROLLBACK ({trigger.value}): {ev.reasons_text(reasons)}",
                       metrics=metrics, gates=gates, decision="Rollback", by=by)

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
                self._rolled_back_line(attempts)
                return
            self._war_room(f"Rollback not confirmed: {last}")
        raise RouterError(f"rollback did not reach 0 % after {_ROLLBACK_ROUNDS} rounds: {last}",
                          adapter=type(self.ports.router).__name__)

    def _rolled_back_line(self, attempts: int) -> None:
        self._war_room(f"ROLLBACK complete, weight read back 0% after {attempts} attempt(s)")
        stage = self.state.stage
        weight = self.plan.stages[stage].weight if stage is not None else None
        self._notify(notify.Event.ROLLBACK, notify.rollback(
            self.plan.release.version, None if stage is None else stage + 1, weight,
            self.state.rollback_reasons), {"reasons": "; ".join(self.state.rollback_reasons),
                                           "trigger": self.state.rollback_trigger}, annotate=True)

    # ------------------------------------------------------------------ steps

    def _context(self, index: int) -> StepContext:
        now = self.ports.clock.now()
        return StepContext(
            plan=self.plan, run_id=self.state.run_id, index=index, step=self.steps[index],
            t_s=(now - self.state.t0_at).total_seconds(), at=now, evidence_dir=self.plan.evidence_dir,
            after_rollback=self.state.rolled_back, weight=self.state.weight,
            wall_at=self.ports.clock.to_wall(now), history=tuple(self.state.history),
        )

    def _phase_speed(self, phase: str, speed: float | None = None) -> None:
        """Switch the clock to the phase's speed (a demo's), recording the new clock."""
        speed = self.ports.phase_speeds.get(phase) if speed is None else speed
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

    def _run_step(self, index: int) -> None:
        step = self.steps[index]
        handler = self.ports.step_handlers.get(step.kind, record_only)
        speed = self.ports.clock.speed
        if step.kind in _BLOCKING:
            self._phase_speed("steps")  # a load test takes real seconds: do not let T0 run past
        try:
            outcome = handler(self._context(index)) or StepOutcome()
        except Exception as err:  # recorded; before T0 it halts the run
            before_t0 = step.offset.total_seconds() < 0
            outcome = StepOutcome(details={"error": _error_text(err)}, ok=False,
                                  halt=f"{step.title} failed: {_error_text(err)}" if before_t0 else None)
        if step.kind in _BLOCKING:
            self._phase_speed("before_t0", speed)
        if outcome.halt and not self.state.rolled_back:
            self._war_room(f"{step.title} FAILED: {outcome.halt}", metrics=outcome.summary or None,
                           decision="Halt")
            self._end(RunStatus.HALTED, outcome.halt, details=dict(outcome.details))
            return
        self._append(EventKind.STEP_COMPLETED, ev.step_payload(
            index, step, self.t_s(), details=dict(outcome.details), ok=outcome.ok))
        self._step_done(step, outcome)

    def _step_done(self, step: Step, outcome: StepOutcome) -> None:  # pragma: no cover - RunnerTicks
        raise NotImplementedError

    def _finish_first_night(self) -> None:
        index = self.state.open_step
        assert index is not None
        self._run_step(index)

    # ------------------------------------------------------------------ pause and end

    def _pause(self, reason: str) -> None:
        weight = self._read_weight()
        intent = self.state.open_intent
        if intent is not None:
            self._outcome(intent.id, intent.weight, weight, resolved_on="pause")
        self._append(EventKind.PAUSED, {"reason": reason, "weight": weight})
        shown = "unknown" if weight is None else f"{weight:g}%"
        self._war_room(f"PAUSED: {reason}", metrics=f"weight {shown}")

    def _pause_after_error(self, err: BaseException) -> None:
        """Best effort on the way out of an error: record the weight read back and pause."""
        if self.state.ended or self.state.status is RunStatus.PAUSED:
            return
        try:
            self._pause(f"stopped by an error: {_error_text(err)}")
        except Exception as pause_err:  # the original error is what the caller must see
            log.warning("could not record the pause after %s: %s", _error_text(err), pause_err)

    def _end(self, status: RunStatus, reason: str, details: dict[str, Any] | None = None) -> None:
        """Record the end; `run_ended` is the run's last event. Queued notifications get a short,
        bounded time to go out first, so that a failure is still recorded in the ledger."""
        weight = self._read_weight()
        shown = "unknown" if weight is None else f"{weight:g}%"
        self._war_room(f"{status.value.upper().replace('_', ' ')}: {reason}", metrics=f"weight {shown}")
        if status is RunStatus.HALTED:
            self._notify(notify.Event.HALTED, notify.halted(self.plan.release.version, reason), annotate=True)
        flush = getattr(self.ports.notifier, "flush", None)
        if callable(flush):
            try:
                flush(END_FLUSH_S)
            except Exception as err:  # flushing is best effort
                log.warning("flushing notifications at the end failed: %s", err)
        self._record_failures()
        payload = ev.ended_payload(status, _EXIT[status], reason, weight, self.t_s())
        if details:
            payload["details"] = details
        self._append(EventKind.RUN_ENDED, payload)
