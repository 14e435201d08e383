"""The traffic mover: every weight change as intent, act, read back, outcome, through the recorder.

    mover = TrafficMover(recorder, router, attempts=10, backoff_s=1.0, sleep=clock.sleep)
    mover.set_stage_weight(5.0)          # intent, shift, read back, outcome; a few tries
    start_rollback(recorder, Trigger.DECISION, reasons)   # rollback_started and its war-room line
    mover.roll_back_to_zero()            # intent(0), act with retries, outcome; until it reads 0

`weight_intent` is appended before the router is touched and `weight_outcome` (with the weight
read back) after, so a crash in between is resolved on resume by reading the router, never by
guessing. The runner and the incident commander (`runofshow.app.warroom.commander`, acting from
another process) move traffic through the same pieces: `start_rollback`, `intent`, `try_rollback`,
`outcome`, `report_rollback`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from runofshow.app.run import minutes, notify, traffic
from runofshow.app.run.events import (
    EventKind,
    RunStatus,
    Trigger,
    intent_payload,
    outcome_payload,
    reasons_text,
)
from runofshow.app.run.recorder import Recorder
from runofshow.errors import RouterError
from runofshow.ports import TrafficRouter

#: rounds of `traffic.rollback` (each with its own retries) before the runner gives up and raises
ROLLBACK_ROUNDS = 5
#: tries at a stage weight before the run rolls back
SET_WEIGHT_TRIES = 3


@dataclass(frozen=True)
class Moved:
    """What one act on the router did: the weight read back (None: unread), tries, the last error."""

    read_back: float | None
    attempts: int = 1
    error: str | None = None


def start_rollback(rec: Recorder, trigger: Trigger, reasons: Sequence[str], *, by: str = minutes.AUTO,
                   said: str | None = None, ic_seq: int | None = None, always: bool = False,
                   judged: bool = True, why: str | None = None) -> None:
    """Record that the run rolls back (`rollback_started`) and its war-room line (`said`: the line's
    reason, by default the reasons). Nothing if it already is (perhaps by another process), unless
    `always` (an incident commander's rollback is recorded whatever runs). `judged=False`: no gate
    was judged in this instant (an alert's rollback), so the line shows the last judged values with
    their age. The act follows: the runner's `roll_back_to_zero`, or the incident commander's
    `try_rollback`."""
    if rec.state.status is RunStatus.ROLLING_BACK and not always:
        return
    reasons = tuple(reasons) or ("rollback",)
    payload = {"trigger": trigger.value, "reasons": list(reasons), "stage": rec.state.stage,
               "weight": rec.state.weight, "by": by}
    if ic_seq is not None:
        payload["ic_seq"] = ic_seq
    rec.append(EventKind.ROLLBACK_STARTED, payload)
    metrics, gates = rec.last_signal() if judged else rec.judged_signal()
    shown = reasons_text(reasons) if said is None else said
    rec.war_room(f"{rec.stage_title()} ROLLBACK ({trigger.value}): {shown}",
                 metrics=metrics, gates=gates, decision="Rollback", by=by, **({"why": why} if why else {}))


class TrafficMover:
    """Moves one run's canary traffic; every act between an intent and its outcome."""

    def __init__(self, recorder: Recorder, router: TrafficRouter, *, attempts: int = 10,
                 backoff_s: float = 1.0, sleep: Callable[[float], None]) -> None:
        self.rec, self.router = recorder, router
        self.attempts, self.backoff_s, self.sleep = attempts, backoff_s, sleep

    # ------------------------------------------------------------------ the pieces

    def read_weight(self) -> float | None:
        try:
            return self.router.current_weight()
        except RouterError:
            return None

    def intent(self, weight: float, reason: str, intent_id: str | None = None) -> str:
        """Record that traffic is about to move; the id (the runner's own `w<n>` by default)."""
        intent_id = intent_id or self.rec.state.next_intent_id()
        self.rec.append(EventKind.WEIGHT_INTENT,
                        intent_payload(intent_id, weight, reason, self.rec.state.stage, self.rec.t_s()))
        return intent_id

    def outcome(self, intent_id: str, weight: float, read_back: float | None, *, attempts: int = 1,
                error: str | None = None, resolved_on: str = "act") -> None:
        self.rec.append(EventKind.WEIGHT_OUTCOME, outcome_payload(
            intent_id, weight, read_back, self.rec.t_s(), attempts=attempts, error=error,
            resolved_on=resolved_on))

    def try_rollback(self) -> Moved:
        """Set 0 % until it reads back 0 % (with retries); on failure, what the router reads now."""
        try:
            n = traffic.rollback(self.router, attempts=self.attempts, backoff_s=self.backoff_s,
                                 sleep=self.sleep)
        except RouterError as err:
            return Moved(self.read_weight(), self.attempts, str(err))
        return Moved(0.0, n)

    def pause(self, reason: str) -> None:
        """Leave traffic where it is (resumable): settle an open intent by reading back, `paused`."""
        weight = self.read_weight()
        intent = self.rec.state.open_intent
        if intent is not None:
            self.outcome(intent.id, intent.weight, weight, resolved_on="pause")
        self.rec.append(EventKind.PAUSED, {"reason": reason, "weight": weight})
        shown = "unknown" if weight is None else f"{weight:g}%"
        self.rec.war_room(f"PAUSED: {reason}", metrics=f"weight {shown}")

    # ------------------------------------------------------------------ stage weights

    def set_stage_weight(self, weight: float) -> Moved | None:
        """Set a stage's weight (a few tries, each an intent and an outcome). The last try's result,
        or None when the run was rolled back meanwhile (another process): the loop sets 0 % again."""
        moved = Moved(None)
        for attempt in range(SET_WEIGHT_TRIES):
            intent_id = self.intent(weight, "stage")
            try:
                moved = Moved(traffic.shift(self.router, weight))
            except RouterError as err:
                moved = Moved(self.read_weight(), error=str(err))
            self.outcome(intent_id, weight, moved.read_back, error=moved.error)
            if self.rec.state.status is RunStatus.ROLLING_BACK:
                return None
            if moved.error is None:
                return moved
            if attempt < SET_WEIGHT_TRIES - 1:
                self.sleep(self.backoff_s * 2 ** attempt)
        return moved

    # ------------------------------------------------------------------ rolling back

    def roll_back_to_zero(self) -> None:
        """Set 0 % until the router reads back 0 % (bounded rounds, each an intent and an outcome);
        raises RouterError if it never does, leaving the run rolling back for `resume`."""
        last = ""
        for _ in range(ROLLBACK_ROUNDS):
            intent_id = self.intent(0.0, "rollback")
            moved = self.try_rollback()
            last = moved.error or ""
            self.outcome(intent_id, 0.0, moved.read_back, attempts=moved.attempts, error=moved.error)
            self.report_rollback(moved, confirmed=self.rec.state.rolled_back)
            if self.rec.state.rolled_back:
                return
        raise RouterError(f"rollback did not reach 0 % after {ROLLBACK_ROUNDS} rounds: {last}",
                          adapter=type(self.router).__name__)

    def report_rollback(self, moved: Moved, *, confirmed: bool) -> None:
        """The war-room line of a rollback's act and, once confirmed, the notification and the
        Grafana annotation."""
        if not confirmed:
            self.rec.war_room(f"Rollback not confirmed: {moved.error or ''}")
            return
        self.rec.war_room(f"ROLLBACK complete, weight read back 0% after {moved.attempts} attempt(s)")
        s, plan = self.rec.state, self.rec.plan
        stage = s.stage
        weight = plan.stages[stage].weight if stage is not None else None
        self.rec.notify(notify.Event.ROLLBACK, notify.rollback(
            plan.release.version, None if stage is None else stage + 1, weight, s.rollback_reasons),
            {"reasons": "; ".join(s.rollback_reasons), "trigger": s.rollback_trigger}, annotate=True)


__all__ = ["ROLLBACK_ROUNDS", "SET_WEIGHT_TRIES", "Moved", "TrafficMover", "start_rollback"]
