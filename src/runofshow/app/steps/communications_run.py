"""The ritual's communications wired into a run (`runofshow.app.steps.communications` over the ports):

    T-20       war_room step      channel opened, status pinned, pager read then yellow (in the step:
                                  what close-out needs is in its step_completed details)
    T0         stage 1 starts     previous deployments inactive, a new one `in_progress`: off the
                                  runner's thread; its id comes back as a `communications` event
    as it runs every decision,    the pinned status edited in place (only the latest edit is sent
               hold, rollback     when they queue up); every war-room line a thread reply
    T+90       promoted           deployment `success`
    close-out  close_out step     deployment `success`/`failure`, pager green (exactly the settings
                                  read at T-20), one-liner, channel archived; after a rollback too

Everything but the two steps goes through one background `NotifierFanout` channel, so a slow Slack
or GitHub never slows the run; every failure is a `notify_failed` event and the run goes on. What
a later step needs (channel id, status message, pager snapshot, deployment id) is only ever taken
from ledger events (`observe`), live through the runner's `on_event` hook or, for a resumed run,
from the ledger read back (`restore`), so a resumed run closes out exactly as the first process
would have.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from runofshow.app.run import event_types as et
from runofshow.app.run import minutes, notify
from runofshow.app.run.events import EventKind
from runofshow.app.run.notify import DeliveryFailure, NotifierFanout
from runofshow.app.run.state import RunState
from runofshow.app.run.steps import StepContext, StepHandler, StepOutcome, record_only
from runofshow.app.steps.communications import (
    IN_PROGRESS,
    CommsPorts,
    CommsResult,
    Communications,
    StatusView,
)
from runofshow.domain.plan import Plan
from runofshow.domain.timeline import StepKind, t_label
from runofshow.ports import LedgerEvent

ROLLED_BACK = "🔴 Rolled back"
PROMOTED = "🟢 Deployment complete"
#: the key of a step's details that holds its communications
DETAILS_KEY = "communications"
#: wall seconds close-out waits for queued edits (and the T0 deployment) before it closes
CLOSE_OUT_FLUSH_S = 10.0

#: (kind, payload) to record from another thread (`Runner.record_later`)
RecordLater = Callable[[EventKind, dict[str, Any]], None]


class _Jobs:
    """The fan-out's one "notifier": runs the queued job the notification carries."""

    name = "war_room_channel"

    def notify(self, event: str, text: str, fields: Mapping[str, Any] | None = None) -> None:
        job = (fields or {}).get("job")
        if callable(job):
            job()


class RunCommunications:
    """One run's communications: the two step handlers, the `on_event` hook, what the ledger says."""

    def __init__(self, plan: Plan, ports: CommsPorts, *, on_failure: Callable[[DeliveryFailure], None],
                 record_later: RecordLater) -> None:
        self.plan, self.comms = plan, Communications(plan, ports)
        self.on_failure, self.record_later = on_failure, record_later
        self.fanout = NotifierFanout([_Jobs()], attempts=1, on_failure=on_failure)
        self._lock = threading.Lock()
        self.run_id = ""
        self.opened: dict[str, Any] = {}  # the T-20 step's details: channel_id, status_message, pager_before
        self.deployment_id: int | None = None
        self.deployment_asked = False
        self.gates: dict[str, bool | None] = {}
        self.last_decision = ""
        self.closed = False
        self._status_seq = 0

    # ------------------------------------------------------------------ what the ledger says

    def restore(self, events: Iterable[LedgerEvent]) -> None:
        """A resumed run: take in what the ledger holds (nothing is sent)."""
        for event in events:
            self._learn(et.parse(event))

    def _learn(self, e: et.TypedEvent) -> None:
        if isinstance(e, et.RunStarted):
            self.run_id = e.run_id or self.run_id
        elif isinstance(e, et.StepCompleted) and e.step_kind == StepKind.WAR_ROOM.value:
            self.opened = dict(e.details.get(DETAILS_KEY) or {})
        elif isinstance(e, et.StepStarted) and e.step_kind == StepKind.STAGE.value and e.stage == 0:
            self.deployment_asked = True
        elif isinstance(e, et.CommsRecorded) and e.part == "deployment":
            did = e.details.get("deployment_id")
            self.deployment_id = int(did) if isinstance(did, int) else self.deployment_id
        elif isinstance(e, et.StepCompleted) and e.step_kind == StepKind.CLOSE_OUT.value:
            self.closed = True
        elif isinstance(e, et.DecisionMade):
            self.gates = {v.metric: _passing(v.verdict) for v in e.verdicts}
        elif isinstance(e, et.WarRoom):
            self.last_decision = minutes.line(e.to_payload())

    # ------------------------------------------------------------------ live: the runner's on_event

    def on_event(self, event: LedgerEvent, state: RunState) -> None:
        e = et.parse(event)
        asked_before = self.deployment_asked
        self._learn(e)
        if isinstance(e, et.StepStarted) and e.stage == 0 and not asked_before:
            self._queue("deployment", self._start_deployment)
        if isinstance(e, et.StepCompleted) and e.step_kind == StepKind.PROMOTED.value:
            self._queue("deployment", lambda: self._report(self.comms.promoted(self.deployment_id)))
        if not self.opened or self.closed:
            return
        if isinstance(e, et.WarRoom):
            line = minutes.line(e.to_payload())
            self._queue("minute", lambda: self._report(self.comms.post_minute(self.opened, line)))
        if isinstance(e, (et.StepStarted, et.DecisionMade, et.HoldStarted, et.HoldEnded, et.RollbackStarted,
                          et.WeightOutcome, et.IcDecision)):
            self._queue_status(self.view(state, e.t_s))

    def _start_deployment(self) -> None:
        result = self.comms.deployment_started()
        did = result.details.get("deployment_id")
        if isinstance(did, int):
            with self._lock:
                self.deployment_id = did
            self.record_later(EventKind.COMMUNICATIONS,
                              {"part": "deployment", "details": dict(result.details)})
        self._report(result)

    def _queue_status(self, view: StatusView) -> None:
        with self._lock:
            self._status_seq += 1
            seq = self._status_seq

        def edit() -> None:
            if seq == self._status_seq:  # a newer edit is queued: only the latest is sent
                self._report(self.comms.update_status(self.opened, self.run_id, view))

        self._queue("status", edit)

    def _queue(self, event: str, job: Callable[[], None]) -> None:
        self.fanout.notify(event, event, {"job": job})

    def _report(self, result: CommsResult) -> None:
        for f in result.failures:
            self.on_failure(DeliveryFailure(f["channel"], f["event"], f["error"]))

    def view(self, state: RunState, t_s: float | None, status: str = IN_PROGRESS) -> StatusView:
        r = self.plan.release
        t = state.last_t_s if t_s is None else t_s
        return StatusView(
            release=r.name, version=r.version, stage=None if state.stage is None else state.stage + 1,
            stages=len(self.plan.stages), weight=state.weight, t_label=_label(t),
            gates=dict(self.gates), last_decision=self.last_decision, state=status)

    # ------------------------------------------------------------------ the two steps

    def war_room_handler(self, base: StepHandler) -> StepHandler:
        """T-20: `base` (what the war-room step recorded before) plus the channel and the pager."""

        def open_war_room(ctx: StepContext) -> StepOutcome:
            outcome = base(ctx) or StepOutcome()
            self.run_id = ctx.run_id
            view = StatusView(release=self.plan.release.name, version=self.plan.release.version, stage=None,
                              stages=len(self.plan.stages), weight=ctx.weight, t_label=ctx.step.label)
            result = self.comms.open_war_room(ctx.run_id, view, ctx.wall_at or ctx.at)
            self._report(result)
            return _with(outcome, result, _open_summary(result))

        return open_war_room

    def close_out_handler(self, base: StepHandler | None, state: Callable[[], RunState]) -> StepHandler:
        """Close-out: `base` (the freeze's end, when there is one), then everything back to green."""

        def close_out(ctx: StepContext) -> StepOutcome:
            outcome = (base or record_only)(ctx) or StepOutcome()
            self.fanout.flush(CLOSE_OUT_FLUSH_S)  # the T0 deployment and the last edits first
            s = state()
            version = self.plan.release.version
            if ctx.after_rollback:
                one_liner = notify.rollback(version, None, None, list(s.rollback_reasons) or "rolled back")
            else:
                one_liner = notify.stable_24h(version, self.plan.timeline.first_night_h,
                                              "released" in outcome.details)
            view = self.view(s, ctx.t_s, ROLLED_BACK if ctx.after_rollback else PROMOTED)
            result = self.comms.close_out(self.opened, deployment_id=self.deployment_id,
                                          rolled_back=ctx.after_rollback, one_liner=one_liner,
                                          view=view, run_id=ctx.run_id)
            self._report(result)
            return _with(outcome, result, _close_summary(result))

        return close_out

    def close(self, timeout_s: float) -> None:
        self.fanout.close(timeout_s)


def _passing(verdict: str) -> bool | None:
    if verdict == "PASS":
        return True
    return None if verdict in ("NODATA", "") else False


def _label(t_s: float | None) -> str:
    from datetime import timedelta

    return t_label(timedelta(minutes=round((t_s or 0.0) / 60)))


def _with(outcome: StepOutcome, result: CommsResult, summary: str) -> StepOutcome:
    details = {**outcome.details, DETAILS_KEY: {**result.details,
                                                 "failures": [dict(f) for f in result.failures]}}
    parts = [p for p in (outcome.summary, summary) if p]
    return StepOutcome(details=details, ok=outcome.ok, halt=outcome.halt, summary="; ".join(parts))


def _open_summary(result: CommsResult) -> str:
    d, parts = result.details, []
    if "channel_id" in d:
        parts.append("channel open, status pinned" if "status_message" in d else "channel open")
    if "pager_yellow" in d:
        parts.append("pager yellow")
    if result.failures:
        parts.append(f"{len(result.failures)} communication(s) failed")
    return ", ".join(parts)


def _close_summary(result: CommsResult) -> str:
    d, parts = result.details, []
    if "pager_restored" in d:
        parts.append("pager green" + ("" if d.get("pager_identical") else " (settings differ from before!)"))
    if "archived" in d:
        parts.append("channel archived" if d["archived"] else "channel closed")
    if result.failures:
        parts.append(f"{len(result.failures)} communication(s) failed")
    return ", ".join(parts)


__all__ = ["CLOSE_OUT_FLUSH_S", "DETAILS_KEY", "PROMOTED", "ROLLED_BACK", "RunCommunications"]
