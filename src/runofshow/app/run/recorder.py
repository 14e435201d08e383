"""The recorder: appends a run's events to the ledger and keeps its folded state in step.

    rec = Recorder(plan, state, ledger=..., clock=..., outlets=ports)
    rec.append(EventKind.HOLD_STARTED, {...})      # ledger, then state.apply, runs table, on_event
    rec.war_room("Stage 2 (5%) complete", metrics=..., gates=..., decision="Proceed")
    rec.notify(notify.Event.STAGE, text, annotate=True)    # a failure is a notify_failed event
    rec.end(RunStatus.PROMOTED, "v1.4.0 promoted ...", weight)

Every event is applied to the state right after the ledger has committed it. Events another
process appended in between (`runofshow decide`, `runofshow note`) are taken in first, in order,
so the state is always what a fresh fold of the ledger would give. The runner and the incident
commander (`runofshow.app.warroom.commander`, another process) record through the same class.

War-room lines are recorded with their parts (`runofshow.app.run.minutes`); notifications use the
seed's texts (`runofshow.app.run.notify`) and go to the notifier and, when asked, to the Grafana
annotator. Neither may stop or slow the run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, Protocol

from runofshow.app.run import minutes, notify
from runofshow.app.run.clock import RunClock
from runofshow.app.run.events import EventKind, RunStatus, ended_payload
from runofshow.app.run.policy import exit_code_for
from runofshow.app.run.state import RunState, fold
from runofshow.domain.plan import Plan
from runofshow.domain.timeline import t_label
from runofshow.errors import InputError, RunNotFoundError, RunOfShowError
from runofshow.ports import Annotator, Ledger, LedgerEvent, Notifier

log = logging.getLogger(__name__)

#: kinds after which the runs table (status, stage, weight) is brought up to date
_SYNC = {
    EventKind.WEIGHT_OUTCOME, EventKind.STEP_STARTED, EventKind.ROLLBACK_STARTED, EventKind.PAUSED,
    EventKind.RESUMED, EventKind.RUN_ENDED,
}
#: wall seconds the runner waits, at the end, for queued notifications before recording failures
END_FLUSH_S = 1.0


class Outlets(Protocol):
    """Where a recorder's events and messages go besides the ledger (`RunPorts` is one). Read at
    each use: a caller may swap a channel after the recorder is built."""

    notifier: Notifier | None
    annotator: Annotator | None
    on_event: Callable[[LedgerEvent, RunState], None] | None


def error_text(err: BaseException) -> str:
    """One line for an error: ours as they are, anything else with its type."""
    return str(err) if isinstance(err, RunOfShowError) else f"{type(err).__name__}: {err}"


def load_state(ledger: Ledger, run_id: str) -> RunState:
    """A run's folded state. RunNotFoundError for an unknown id, InputError for a run that was
    created but never recorded `run_started` (both bad input: exit 2)."""
    try:
        events = ledger.events(run_id)
    except RunNotFoundError:
        raise RunNotFoundError(f"no run '{run_id}' in {getattr(ledger, 'name', 'the ledger')}") from None
    state = fold(events)
    if not state.started:  # killed between creating the run and recording run_started
        raise InputError(f"run '{run_id}' never started (it has no run_started event): start a new run")
    return state


class Recorder:
    """Appends to one run's ledger and keeps `state` equal to the fold of its events."""

    def __init__(self, plan: Plan, state: RunState, *, ledger: Ledger, clock: RunClock,
                 outlets: Outlets) -> None:
        self.plan, self.state, self.ledger, self.clock, self.outlets = plan, state, ledger, clock, outlets
        self._lock = threading.Lock()
        self._failures: list[dict[str, str]] = []
        self._later: list[tuple[EventKind, dict[str, Any]]] = []

    # ------------------------------------------------------------------ time and names

    def t_s(self) -> float:
        """Plan seconds since T0, now."""
        return (self.clock.now() - self.state.t0_at).total_seconds()

    def label(self, t_s: float | None = None) -> str:
        t = self.t_s() if t_s is None else t_s
        return t_label(timedelta(minutes=round(t / 60)))

    def stage_no(self) -> int:
        return (self.state.stage or 0) + 1

    def stage_title(self, stage: int | None = None) -> str:
        i = self.state.stage if stage is None else stage
        if i is None:
            return "Pre-T0"
        return f"Stage {i + 1} ({self.plan.stages[i].weight:g}%)"

    def last_signal(self) -> tuple[str | None, str | None]:
        """The last tick's canary metrics and gate count, for a war-room line."""
        s = self.state
        if not s.history:
            return None, None
        tick = s.history[-1]
        metrics = minutes.metrics_text(self.plan, None if tick.canary is None else tick.canary.values)
        gates = None if s.last_passing is None else f"{s.last_passing}/{len(self.plan.gates)} PASS"
        return metrics, gates

    def judged_signal(self) -> tuple[str | None, str | None]:
        """The last judged gates' canary values and count with their age, for a line about a moment
        in which no gate was judged (an alert's rollback): `6/6 PASS, last judged 12 s ago`."""
        judged = self.state.last_judged
        if judged is None:
            return None, None
        metrics = minutes.metrics_text(self.plan, judged.values())
        age = minutes.judged_ago(self.t_s() - (judged.t_s or 0.0))
        return metrics, f"{judged.passing}/{len(self.plan.gates)} PASS, {age}"

    # ------------------------------------------------------------------ the ledger

    def append(self, kind: EventKind, payload: dict[str, Any]) -> LedgerEvent:
        """Append one event (its `t_s` now, unless given) and apply it to the state."""
        now = self.clock.now()
        payload.setdefault("t_s", (now - self.state.t0_at).total_seconds())
        event = self.ledger.append(self.state.run_id, kind.value, payload, self.clock.to_wall(now))
        if event.seq > self.state.last_seq + 1:  # another process appended in between
            missed = self.ledger.events(self.state.run_id, after_seq=self.state.last_seq)
            self.take_in(e for e in missed if e.seq < event.seq)
        self.state.apply(event)
        if kind in _SYNC:
            self.sync_record()
        self.emit(event)
        return event

    def take_in(self, events: Iterable[LedgerEvent]) -> int:
        """Apply events another process appended (in seq order); how many were new."""
        n = 0
        for event in events:
            if event.seq <= self.state.last_seq:
                continue
            self.state.apply(event)
            self.emit(event)
            n += 1
        return n

    def catch_up(self) -> int:
        """Take in whatever other processes appended since the last event we know (a cheap query)."""
        try:
            return self.take_in(self.ledger.events(self.state.run_id, after_seq=self.state.last_seq))
        except RunOfShowError:
            return 0  # the ledger will answer next time; our own appends would fail loudly

    def sync_record(self) -> None:
        """The runs table (status, stage, weight) as the state has it."""
        s = self.state
        self.ledger.update_run(s.run_id, status=s.status.value, stage=s.stage, weight=s.weight)

    def emit(self, event: LedgerEvent) -> None:
        on_event = self.outlets.on_event
        if on_event is not None:
            try:
                on_event(event, self.state)
            except Exception:  # a view must never stop the run
                log.warning("a view of %s failed", event.kind, exc_info=True)

    # ------------------------------------------------------------------ the war room and the channels

    def war_room(self, observation: str, *, metrics: str | None = None, gates: str | None = None,
                 decision: str | None = None, by: str = minutes.AUTO, **extra: Any) -> None:
        """One war-room line, Observation -> Metric -> Decision, recorded with its parts."""
        payload = minutes.war_room_payload(observation, metrics=metrics, gates=gates, decision=decision,
                                           by=by, label=self.label())
        payload.update(extra)
        self.append(EventKind.WAR_ROOM, payload)

    def notify(self, event: notify.Event, text: str, fields: dict[str, Any] | None = None,
               annotate: bool = False) -> None:
        """Tell the channels (and Grafana, with `annotate`); a failure is recorded, the run goes on."""
        details = {"run_id": self.state.run_id, "version": self.plan.release.version, **(fields or {})}
        targets: list[tuple[str, Callable[[], None]]] = []
        notifier, annotator = self.outlets.notifier, self.outlets.annotator
        if notifier is not None:
            targets.append(("notifier", lambda: notifier.notify(event.value, text, details)))
        if annotate and annotator is not None:
            wall = self.clock.to_wall(self.clock.now())
            tags = ["runofshow", self.plan.release.version, event.value]
            targets.append(("annotator", lambda: annotator.annotate(wall, text, tags)))
        for channel, send in targets:
            try:
                send()
            except Exception as err:  # a notifier failure never stops the run
                self.append(EventKind.NOTIFY_FAILED, {"channel": channel, "event": event.value,
                                                      "error": error_text(err)})

    def notify_failed(self, channel: str, event: str, error: str) -> None:
        """A channel gave up (any thread): recorded at the next `record_failures`."""
        with self._lock:
            self._failures.append({"channel": channel, "event": event, "error": error})

    def record_later(self, kind: EventKind, payload: dict[str, Any]) -> None:
        """An event another thread has to record (a T0 deployment's id): at the next
        `record_failures`, in the order given."""
        with self._lock:
            self._later.append((kind, dict(payload)))

    def record_failures(self) -> None:
        """Notification failures reported by the channels' threads, and events they handed to
        `record_later`, into the ledger."""
        with self._lock:
            failures, self._failures = self._failures, []
            later, self._later = self._later, []
        for failure in failures:
            self.append(EventKind.NOTIFY_FAILED, dict(failure))
        for kind, payload in later:
            self.append(kind, payload)

    def flush_notifications(self, timeout_s: float, *, kept: bool = False, at_end: bool = False) -> None:
        """Give queued notifications `timeout_s` to go out, then record what failed. With `kept`,
        also the failures the channels kept themselves (a process that routed none to us); with
        `at_end`, one line per channel still retrying, so the ledger says what never went out."""
        channels = {id(x): x for x in (self.outlets.notifier, self.outlets.annotator) if x is not None}
        for target in channels.values():
            flush = getattr(target, "flush", None)
            if callable(flush):
                try:
                    flush(timeout_s)
                except Exception as err:  # flushing is best effort
                    log.warning("flushing notifications at the end failed: %s", err)
            for f in list(getattr(target, "failures", ())) if kept else ():
                self.notify_failed(str(f.channel), str(f.event), str(f.error))
            undelivered = getattr(target, "undelivered", None)
            for f in undelivered() if at_end and callable(undelivered) else ():
                self.notify_failed(str(f.channel), str(f.event), str(f.error))
        self.record_failures()

    # ------------------------------------------------------------------ the end

    def end(self, status: RunStatus, reason: str, weight: float | None,
            details: dict[str, Any] | None = None) -> None:
        """Record the end; `run_ended` is the run's last event. Queued notifications get a short,
        bounded time to go out first, so that a failure is still recorded in the ledger."""
        shown = "unknown" if weight is None else f"{weight:g}%"
        self.war_room(f"{status.value.upper().replace('_', ' ')}: {reason}", metrics=f"weight {shown}")
        if status is RunStatus.HALTED:
            self.notify(notify.Event.HALTED, notify.halted(self.plan.release.version, reason), annotate=True)
        self.flush_notifications(END_FLUSH_S, at_end=True)
        payload = ended_payload(status, exit_code_for(status), reason, weight, self.t_s())
        if details:
            payload["details"] = details
        self.append(EventKind.RUN_ENDED, payload)


__all__ = ["END_FLUSH_S", "Outlets", "Recorder", "error_text", "load_state"]
