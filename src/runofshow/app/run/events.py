"""The ledger's event kinds and their payloads: the one vocabulary of a run.

A run is nothing but its events. The runner folds them into its state (`runofshow.app.run.state`),
and the war-room log, evidence files and HTML report are rebuilt from them alone, so every event
carries what a reader needs without the plan or the world at hand. Every payload has `t_s`, plan
seconds since T0 (negative before T0), and the ledger row's `at` is the wall-clock instant.

Kinds, in the order a run meets them (payload keys after the colon):

run_started      once, first. run_id, release, version, service, plan (the whole plan as JSON;
                 gate_order keeps the gates' order, which the ledger's sorted JSON loses),
                 the clock (speed; at wall instant anchor_at plan time was plan_anchor_at), t0_at
                 (plan time), started_at (wall), steps (the schedule: index, kind, label, title,
                 offset_s, stage, weight), state (the ledger URL, no password), engine.
clock_changed    the clock's speed changed (a demo compresses the time before T0 and the first
                 night harder than the stages). speed, anchor_at, plan_anchor_at, phase, t_s.
step_started     a timeline step begins. index, kind (freeze_start, war_room, preflight,
                 blast_radius, stage, promoted, first_night, close_out), label (T-30, T0, T+15 ...),
                 title, offset_s, stage, weight, t_s.
step_completed   the step is done. The same keys plus details (what its handler reported; for a
                 stage: ticks and holds) and ok.
weight_intent    the runner is about to move traffic. id (unique in the run), weight, reason
                 (stage, rollback), stage, origin ("runner"; "ic": an incident commander's
                 rollback from `runofshow decide`, id "ic<seq>"; ledgers before origin was
                 recorded tell it by the id alone), t_s. Always followed by weight_outcome, on
                 resume at the latest (resolved by reading the router back).
weight_outcome   what the router reads back. id, weight (requested), read_back (None when the
                 router could not be read), ok (read_back == weight), attempts, error, resolved_on
                 ("act"; "resume" when a crash left the intent open; "pause" on the way out of
                 an error), t_s.
decision         one tick of the decision engine with all its inputs. t_s, label, phase (stage,
                 first_night), trigger (tick, alert, checkin), stage, weight, window_s (plan
                 seconds) and query_window_s (wall seconds the metrics were asked for), inputs
                 {baseline, canary: {values, requests} or None, alerts: [{name, labels,
                 fired_t_s (plan seconds, like t_s), fired_at (wall, when the source said)}]},
                 source_error (why the metrics source gave no data), action
                 (proceed, hold, rollback), reasons, verdicts [{metric, verdict, canary, baseline,
                 reason, p_value, effect}], passing, gates, stage_complete, engine, holds.
hold_started     the stage is held. stage, n (1-based in the stage), max_holds, hold_s,
                 until_t_s, reasons, t_s. An incident commander's hold has until_t_s None (it
                 lasts until an IC proceed or a rollback), by, ic_seq, and does not count
                 against max_holds.
hold_ended       the hold's time has passed, or an IC proceed ended it. stage, n, t_s (by, ic_seq).
alert_received   an Alertmanager webhook delivered alerts. alerts, source ("webhook"), received_at
                 (wall time the runner took them in), t_s.
rollback_started the run is rolling back. trigger (decision, alert, first_night, interrupt,
                 ic), reasons, stage, weight, t_s. Followed by weight_intent(0) and
                 weight_outcome.
war_room         one war-room line, "Observation -> Metric -> Decision" (`runofshow.app.run.minutes`):
                 observation, metrics, gates, decision, by ("auto" or "IC <name>"), text (the
                 line without its minute), label, t_s; ic_seq when it answers an IC decision.
ic_decision      an incident commander's decision, accepted (`runofshow decide`; may come from
                 another process). action (proceed, hold, rollback), by, reason, t_s. A rollback
                 is followed at once by rollback_started(trigger ic) and its intent and outcome,
                 recorded by the deciding process; a hold or proceed is carried out by the runner,
                 whose next event for it carries `ic_seq` (the ic_decision's seq).
ic_refused       a decision that was not accepted: action, by, reason, why, t_s (a web request
                 refused 401 / 403: identity when known; source and suppressed for anonymous
                 ones, recorded at most once per address per 10 s).
ic_handover      the incident commander hands the role over (`runofshow handover`): by, to, reason,
                 t_s. From then on only `to` is the run's IC (decides, hands over).
parking_lot      theory and opinion, kept out of the war-room log (`runofshow note`): text, by, t_s.
user_feedback    what users said during the first night (`runofshow feedback`): sentiment (positive,
                 neutral, negative), note, by, t_s.
notify_failed    a notifier or annotator failed; the run went on. channel, event, error, t_s.
communications   what the war room's outside systems did off the runner's thread, for a later step
                 and a resumed run (`runofshow.app.steps.communications_run`): part ("deployment"),
                 details ({deployment_id, marked_inactive} at T0), t_s.
webhook_refused  the alert webhook answered 401 (no or a wrong bearer token; the token presented is
                 never kept). source (the caller's address), reason, refused_at (wall),
                 suppressed (further refusals from that address that this event stands for, not
                 recorded one by one: at most one event per address per 10 s), t_s. A war-room
                 line goes with it.
paused           traffic left where it is; the run can be resumed. reason, weight (read back),
                 t_s.
resumed          a process took the run up again. weight (read back), alerts (firing now),
                 previous_status, open_intent (the intent resolved, if any), clock (the new
                 clock: speed, anchor_at, plan_anchor_at), t_s.
takeover         team mode: a worker took the run over (before its `resumed`). old_owner,
                 new_owner, epoch (the lease's new epoch).
run_ended        the end, and the run's last event. status (promoted, rolled_back, halted),
                 exit_code (0, 3, 4), reason, weight (read back), details, t_s. A halted run can
                 still be resumed (its `resumed` event takes it up again).

Each kind has one typed schema (a frozen dataclass with `to_payload` / `from_payload`) in
`runofshow.app.run.event_types`; `parse(ledger_event)` gives it, and the builders below make the
payloads the runner appends through them. Readers (the fold, the views, the reports) read the typed
events, never the payload's keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from runofshow.app.run.event_parts import (
    StepInfo,
    VerdictRecord,
    alert_from_json,
    alert_json,
    alerts_json,
    clean_sample,
    finite,
    sample_from_json,
    sample_json,
    step_json,
    verdict_json,
)
from runofshow.app.run.event_types import (
    DecisionMade,
    RunEnded,
    StepCompleted,
    StepStarted,
    WeightIntent,
    WeightOutcome,
    origin_of,
)
from runofshow.app.run.traffic import same_weight
from runofshow.domain.tick import Decision, Tick
from runofshow.domain.timeline import Step


class EventKind(StrEnum):
    RUN_STARTED = "run_started"
    CLOCK_CHANGED = "clock_changed"
    STEP_STARTED = "step_started"
    STEP_COMPLETED = "step_completed"
    WEIGHT_INTENT = "weight_intent"
    WEIGHT_OUTCOME = "weight_outcome"
    DECISION = "decision"
    HOLD_STARTED = "hold_started"
    HOLD_ENDED = "hold_ended"
    ALERT_RECEIVED = "alert_received"
    ROLLBACK_STARTED = "rollback_started"
    WAR_ROOM = "war_room"
    IC_DECISION = "ic_decision"
    IC_REFUSED = "ic_refused"
    IC_HANDOVER = "ic_handover"
    PARKING_LOT = "parking_lot"
    USER_FEEDBACK = "user_feedback"
    NOTIFY_FAILED = "notify_failed"
    COMMUNICATIONS = "communications"
    WEBHOOK_REFUSED = "webhook_refused"
    PAUSED = "paused"
    RESUMED = "resumed"
    TAKEOVER = "takeover"
    RUN_ENDED = "run_ended"


class RunStatus(StrEnum):
    """The `status` of a run in the ledger's runs table."""

    RUNNING = "running"
    ROLLING_BACK = "rolling_back"
    PAUSED = "paused"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    HALTED = "halted"

    @property
    def final(self) -> bool:
        return self in (RunStatus.PROMOTED, RunStatus.ROLLED_BACK, RunStatus.HALTED)


class Phase(StrEnum):
    STAGE = "stage"
    FIRST_NIGHT = "first_night"


class Trigger(StrEnum):
    TICK = "tick"
    ALERT = "alert"
    CHECKIN = "checkin"
    DECISION = "decision"
    FIRST_NIGHT = "first_night"
    INTERRUPT = "interrupt"
    IC = "ic"


# --------------------------------------------------------------------------- payload builders
# Each builds its kind's typed event (`runofshow.app.run.event_types`) and returns its payload.


def step_payload(index: int, step: Step, t_s: float, **extra: Any) -> dict[str, Any]:
    """A `step_started` payload; with `details` / `ok` (and `ic_reason`), a `step_completed` one."""
    info = StepInfo.of(index, step)
    if not extra:
        return StepStarted(index=index, step_kind=info.kind, label=info.label, title=info.title,
                           offset_s=info.offset_s, stage=info.stage, weight=info.weight, t_s=t_s).to_payload()
    completed = StepCompleted(
        index=index, step_kind=info.kind, label=info.label, title=info.title, offset_s=info.offset_s,
        stage=info.stage, weight=info.weight, t_s=t_s, details=dict(extra.get("details") or {}),
        ok=bool(extra.get("ok", True)), ic_reason=extra.get("ic_reason"))
    others = {k: v for k, v in extra.items() if k not in ("details", "ok", "ic_reason")}
    return {**completed.to_payload(), **others}


def decision_payload(
    tick: Tick, decision: Decision, *, label: str, phase: Phase, trigger: Trigger, window_s: float,
    query_window_s: float, gates: int, holds: int, source_error: str | None = None,
) -> dict[str, Any]:
    """A tick's inputs and the engine's answer, everything a report needs to show why."""
    return DecisionMade(
        t_s=tick.t_s, label=label, phase=phase.value, trigger=trigger.value, stage=tick.stage,
        weight=tick.weight, window_s=window_s, query_window_s=query_window_s,
        baseline=tick.baseline, canary=tick.canary, alerts=tuple(tick.alerts), source_error=source_error,
        action=decision.action.value, reasons=tuple(decision.reasons),
        verdicts=tuple(VerdictRecord.of(v) for v in decision.verdicts), passing=decision.passing,
        gates=gates, stage_complete=decision.stage_complete, engine=decision.engine, holds=holds,
        sentence=decision.sentence or None,
    ).to_payload()


def tick_from_decision(payload: Mapping[str, Any] | DecisionMade) -> Tick:
    """The engine's input, rebuilt from a `decision` event (so the history survives a restart)."""
    d = payload if isinstance(payload, DecisionMade) else DecisionMade.from_payload(payload)
    return Tick(t_s=float(d.t_s or 0.0), weight=d.weight, stage=int(d.stage or 0),
                baseline=d.baseline, canary=d.canary, alerts=d.alerts)


def intent_payload(intent_id: str, weight: float, reason: str, stage: int | None,
                   t_s: float, *, origin: str | None = None) -> dict[str, Any]:
    """A `weight_intent`; `origin` (RUNNER, IC) defaults to the one its id tells."""
    return WeightIntent(id=intent_id, weight=weight, reason=reason, stage=stage, t_s=t_s,
                        origin=origin or origin_of(intent_id)).to_payload()


def outcome_payload(
    intent_id: str, weight: float, read_back: float | None, t_s: float, *, attempts: int = 1,
    error: str | None = None, resolved_on: str = "act",
) -> dict[str, Any]:
    ok = read_back is not None and same_weight(read_back, weight)
    return WeightOutcome(id=intent_id, weight=weight, read_back=read_back, ok=ok, attempts=attempts,
                         error=error, resolved_on=resolved_on, t_s=t_s).to_payload()


def ended_payload(status: RunStatus, exit_code: int, reason: str, weight: float | None,
                  t_s: float) -> dict[str, Any]:
    return RunEnded(status=status.value, exit_code=exit_code, reason=reason, weight=weight,
                    t_s=t_s).to_payload()


def reasons_text(reasons: Sequence[str], limit: int = 3) -> str:
    shown = "; ".join(reasons[:limit])
    return shown + (f" (+{len(reasons) - limit} more)" if len(reasons) > limit else "")


__all__ = [
    "EventKind", "Phase", "RunStatus", "Trigger", "alert_from_json", "alert_json", "alerts_json",
    "clean_sample", "decision_payload", "ended_payload", "finite", "intent_payload", "outcome_payload",
    "reasons_text", "sample_from_json", "sample_json", "step_json", "step_payload", "tick_from_decision",
    "verdict_json",
]
