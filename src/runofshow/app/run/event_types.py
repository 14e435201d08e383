"""One typed schema per ledger event kind, read by the fold, the CLI views and the reports alike.

`parse(ledger_event)` turns a ledger row (`runofshow.ports.LedgerEvent`: seq, kind, payload, at)
into the frozen dataclass of its kind, carrying the row's `seq` and `at` beside the payload's
fields; `event.to_payload()` is the payload again (what the runner appends), and
`Kind.from_payload(payload)` reads one.

The reader is tolerant, so that ledgers written by older versions still load: a missing key takes
its field's default, an unknown key is ignored, a value of the wrong type takes the default too,
and a `weight_intent` without `origin` gets it from its id (`w<n>`: the runner's own, `ic<seq>`:
an incident commander's rollback from `runofshow decide`). A kind this version does not know
parses as `OtherEvent` (its payload kept as it is). Field by field, what each kind holds is told
in `runofshow.app.run.events`; the base and the field helpers are in `runofshow.app.run.event_schema`,
the parts (a step, a verdict, a sample, an alert) in `runofshow.app.run.event_parts`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from runofshow.app.run.event_parts import (
    BurnRecord,
    StepInfo,
    VerdictRecord,
    opt_dict,
    opt_float,
    sample_from_json,
    sample_json,
    strs,
)
from runofshow.app.run.event_schema import (
    Event,
    OtherEvent,
    alerts_read,
    alerts_write,
    float_field,
    int_field,
    payload_field,
    payload_fields,
    str_field,
    strs_field,
    verdicts_read,
    verdicts_write,
)
from runofshow.domain.tick import Alert, TrackSample
from runofshow.ports import LedgerEvent

RUNNER = "runner"  # a weight intent's origin: the run's own runner
IC = "ic"  # ... an incident commander's rollback (`runofshow decide`), from another process


def origin_of(intent_id: str) -> str:
    """The origin an old intent's id tells (before intents recorded it): `ic<seq>` or the runner's."""
    return IC if intent_id.startswith("ic") else RUNNER


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    KIND: ClassVar[str] = "run_started"
    run_id: str = str_field("")
    release: str = str_field("")
    version: str = str_field("")
    service: str = str_field("")
    plan: dict[str, Any] = payload_field(read=opt_dict, factory=dict)
    gate_order: tuple[str, ...] = strs_field()
    speed: float = float_field(1.0)
    anchor_at: str | None = str_field(omit_none=True)
    plan_anchor_at: str | None = str_field(omit_none=True)
    t0_at: str = str_field("")
    started_at: str = str_field("")
    steps: tuple[StepInfo, ...] = payload_field(read=StepInfo.all_of, write=StepInfo.all_json, factory=tuple)
    state: str = str_field("")
    engine: str | None = str_field()
    meta: Mapping[str, Any] = field(default_factory=dict)  # what else the starter recorded (demo ...)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], *, seq: int = 0,
                     at: datetime | None = None) -> RunStarted:
        event = super().from_payload(payload, seq=seq, at=at)
        known = {f.metadata["key"] or f.name for f in payload_fields(cls)}
        meta = {k: v for k, v in payload.items() if k not in known}
        return dataclasses.replace(event, meta=meta) if meta else event

    def to_payload(self) -> dict[str, Any]:
        return {**super().to_payload(), **self.meta}

    @property
    def clock(self) -> dict[str, Any]:
        """speed, anchor_at, plan_anchor_at: what `runofshow.app.run.clock.resumed_clock` takes."""
        return {k: v for k, v in (("speed", self.speed), ("anchor_at", self.anchor_at),
                                  ("plan_anchor_at", self.plan_anchor_at)) if v is not None}


@dataclass(frozen=True, kw_only=True)
class ClockChanged(Event):
    KIND: ClassVar[str] = "clock_changed"
    speed: float = float_field(1.0)
    anchor_at: str | None = str_field()
    plan_anchor_at: str | None = str_field()
    phase: str | None = str_field()

    @property
    def clock(self) -> dict[str, Any]:
        return {"speed": self.speed, "anchor_at": self.anchor_at, "plan_anchor_at": self.plan_anchor_at}


@dataclass(frozen=True, kw_only=True)
class StepEvent(Event):
    """A timeline step's start or end: the step as the schedule has it (`StepInfo`), and `t_s`.
    The payload's `kind` is the step's kind (`step_kind` here: an event's `kind` is its own)."""

    index: int = int_field(0)
    step_kind: str = str_field("", key="kind")
    label: str = str_field("")
    title: str = str_field("")
    offset_s: float = float_field(0.0)
    stage: int | None = int_field()
    weight: float | None = float_field()

    @property
    def step(self) -> StepInfo:
        return StepInfo(index=self.index, kind=self.step_kind, label=self.label, title=self.title,
                        offset_s=self.offset_s, stage=self.stage, weight=self.weight)


@dataclass(frozen=True, kw_only=True)
class StepStarted(StepEvent):
    KIND: ClassVar[str] = "step_started"


@dataclass(frozen=True, kw_only=True)
class StepCompleted(StepEvent):
    """A step's end: what its handler reported (`details`; a stage's ticks and holds), and `ok`."""

    KIND: ClassVar[str] = "step_completed"
    details: dict[str, Any] = payload_field(read=opt_dict, factory=dict)
    ok: bool = payload_field(True, read=bool)
    ic_reason: str | None = str_field(omit_none=True)  # a stage an incident commander advanced

    @property
    def burn_record(self) -> BurnRecord | None:
        """The first night's burn rate at its end (its details hold it, or hold it under "burn")."""
        return BurnRecord.from_json(self.details)


@dataclass(frozen=True, kw_only=True)
class WeightIntent(Event):
    KIND: ClassVar[str] = "weight_intent"
    id: str = str_field("")
    weight: float = float_field(0.0)
    reason: str = str_field("")
    stage: int | None = int_field()
    origin: str = str_field("")  # RUNNER or IC; not given (old ledgers): the one its id tells

    def __post_init__(self) -> None:
        if not self.origin:
            object.__setattr__(self, "origin", origin_of(self.id))

    @property
    def external(self) -> bool:
        """Another process's intent (an incident commander's rollback), not this run's runner's."""
        return self.origin != RUNNER


@dataclass(frozen=True, kw_only=True)
class WeightOutcome(Event):
    KIND: ClassVar[str] = "weight_outcome"
    id: str = str_field("")
    weight: float = float_field(0.0)
    read_back: float | None = float_field()  # None: the router could not be read
    ok: bool = payload_field(False, read=bool)
    attempts: int = int_field(1)
    error: str | None = str_field()
    resolved_on: str = str_field("act")  # act, resume, pause


@dataclass(frozen=True, kw_only=True)
class DecisionMade(Event):
    """One tick of the decision engine (kind `decision`), with all its inputs."""

    KIND: ClassVar[str] = "decision"
    label: str = str_field("")
    phase: str = str_field("stage")
    trigger: str = str_field("tick")
    stage: int | None = int_field()
    weight: float = float_field(0.0)
    window_s: float | None = float_field()
    query_window_s: float | None = float_field()
    baseline: TrackSample | None = payload_field(read=sample_from_json, write=sample_json, group="inputs")
    canary: TrackSample | None = payload_field(read=sample_from_json, write=sample_json, group="inputs")
    alerts: tuple[Alert, ...] = payload_field(read=alerts_read, write=alerts_write, group="inputs",
                                              factory=tuple)
    source_error: str | None = str_field()
    action: str = str_field("")
    reasons: tuple[str, ...] = strs_field()
    verdicts: tuple[VerdictRecord, ...] = payload_field(read=verdicts_read, write=verdicts_write,
                                                        factory=tuple)
    passing: int | None = int_field()
    gates: int | None = int_field()
    stage_complete: bool = payload_field(False, read=bool)
    engine: str | None = str_field()
    holds: int = int_field(0)
    first_night_watch: tuple[str, ...] | None = payload_field(read=strs, write=list, omit_none=True)
    burn: dict[str, Any] | None = payload_field(read=opt_dict, omit_none=True)  # BurnVerdict.to_json()
    sentence: str | None = str_field(omit_none=True)  # Decision.sentence; None in older ledgers

    def sample(self, track: str) -> TrackSample | None:
        return self.canary if track == "canary" else self.baseline

    def values(self, track: str = "canary") -> Mapping[str, float | None] | None:
        """A track's metric values (None: the track gave no sample at all)."""
        sample = self.sample(track)
        return None if sample is None else sample.values

    def verdict(self, metric: str) -> VerdictRecord | None:
        return next((v for v in self.verdicts if v.metric == metric), None)

    @property
    def burn_record(self) -> BurnRecord | None:
        return BurnRecord.from_json(self.burn)


@dataclass(frozen=True, kw_only=True)
class HoldStarted(Event):
    KIND: ClassVar[str] = "hold_started"
    stage: int | None = int_field()
    n: int = int_field(0)
    max_holds: int | None = int_field()
    hold_s: float | None = float_field()  # None: an incident commander's hold
    until_t_s: float | None = float_field()
    reasons: tuple[str, ...] = strs_field()
    by: str | None = str_field(omit_none=True)
    ic_seq: int | None = int_field(omit_none=True)


@dataclass(frozen=True, kw_only=True)
class HoldEnded(Event):
    KIND: ClassVar[str] = "hold_ended"
    stage: int | None = int_field()
    n: int = int_field(0)
    by: str | None = str_field(omit_none=True)
    ic_seq: int | None = int_field(omit_none=True)


@dataclass(frozen=True, kw_only=True)
class AlertReceived(Event):
    KIND: ClassVar[str] = "alert_received"
    alerts: tuple[Alert, ...] = payload_field(read=alerts_read, write=alerts_write, factory=tuple)
    source: str = str_field("webhook")
    received_at: str | None = str_field()


@dataclass(frozen=True, kw_only=True)
class RollbackStarted(Event):
    KIND: ClassVar[str] = "rollback_started"
    trigger: str = str_field("")
    reasons: tuple[str, ...] = strs_field()
    stage: int | None = int_field()
    weight: float | None = float_field()
    by: str | None = str_field()
    ic_seq: int | None = int_field(omit_none=True)
    #: who proved they are `by` (name, subject, proof: token / oidc / slack / local), when known
    identity: dict[str, Any] | None = payload_field(read=opt_dict, omit_none=True)


@dataclass(frozen=True, kw_only=True)
class WarRoom(Event):
    """One war-room line and its parts (`runofshow.app.run.minutes.war_room_payload`)."""

    KIND: ClassVar[str] = "war_room"
    observation: str = str_field("")
    metrics: str | None = str_field()
    gates: str | None = str_field()
    decision: str | None = str_field()
    by: str | None = str_field()
    label: str = str_field("")
    text: str = str_field("")
    ic_seq: int | None = int_field(omit_none=True)
    why: str | None = str_field(omit_none=True)  # the decision's one sentence (detail, not in the line)


@dataclass(frozen=True, kw_only=True)
class ByPerson(Event):
    """An event a person caused: their name, and who proved they are that person, when known."""

    by: str = str_field("")
    #: who proved they are `by` (name, subject, proof: token / oidc / slack / local), when known
    identity: dict[str, Any] | None = payload_field(read=opt_dict, omit_none=True)


@dataclass(frozen=True, kw_only=True)
class IcDecision(ByPerson):
    KIND: ClassVar[str] = "ic_decision"
    action: str = str_field("")
    reason: str = str_field("")


@dataclass(frozen=True, kw_only=True)
class IcRefused(ByPerson):
    KIND: ClassVar[str] = "ic_refused"
    action: str = str_field("")
    reason: str = str_field("")
    why: str = str_field("")
    source: str | None = str_field(omit_none=True)  # an anonymous web request's address
    suppressed: int | None = int_field(omit_none=True)  # ... and how many more were not recorded one by one


@dataclass(frozen=True, kw_only=True)
class IcHandover(ByPerson):
    KIND: ClassVar[str] = "ic_handover"
    to: str = str_field("")
    reason: str = str_field("")


@dataclass(frozen=True, kw_only=True)
class ParkingLot(ByPerson):
    KIND: ClassVar[str] = "parking_lot"
    text: str = str_field("")


@dataclass(frozen=True, kw_only=True)
class UserFeedback(ByPerson):
    KIND: ClassVar[str] = "user_feedback"
    sentiment: str = str_field("")
    note: str = str_field("")


@dataclass(frozen=True, kw_only=True)
class NotifyFailed(Event):
    KIND: ClassVar[str] = "notify_failed"
    channel: str = str_field("")
    event: str = str_field("")
    error: str = str_field("")


@dataclass(frozen=True, kw_only=True)
class CommsRecorded(Event):
    """What the war room's outside systems did off the runner's thread (a T0 deployment's id)."""

    KIND: ClassVar[str] = "communications"
    part: str = str_field("")
    details: dict[str, Any] = payload_field(read=opt_dict, factory=dict)


@dataclass(frozen=True, kw_only=True)
class WebhookRefused(Event):
    KIND: ClassVar[str] = "webhook_refused"
    source: str = str_field("")
    reason: str = str_field("")
    refused_at: str | None = str_field()
    suppressed: int = int_field(0)


@dataclass(frozen=True, kw_only=True)
class Paused(Event):
    KIND: ClassVar[str] = "paused"
    reason: str = str_field("")
    weight: float | None = float_field()


@dataclass(frozen=True, kw_only=True)
class Resumed(Event):
    KIND: ClassVar[str] = "resumed"
    weight: float | None = float_field()
    alerts: tuple[Alert, ...] = payload_field(read=alerts_read, write=alerts_write, factory=tuple)
    previous_status: str = str_field("")
    open_intent: str | None = str_field()
    clock: dict[str, Any] | None = payload_field(read=opt_dict)


@dataclass(frozen=True, kw_only=True)
class Takeover(Event):
    """Team mode: a worker took the run over from another (dead, stalled or stopped) one."""

    KIND: ClassVar[str] = "takeover"
    old_owner: str = str_field("")
    new_owner: str = str_field("")
    epoch: int | None = int_field()


@dataclass(frozen=True, kw_only=True)
class RunEnded(Event):
    KIND: ClassVar[str] = "run_ended"
    status: str = str_field("")
    exit_code: int | None = int_field()
    reason: str = str_field("")
    weight: float | None = float_field()
    details: dict[str, Any] | None = payload_field(read=opt_dict, omit_none=True)


TypedEvent = (RunStarted | ClockChanged | StepStarted | StepCompleted | WeightIntent | WeightOutcome
              | DecisionMade | HoldStarted | HoldEnded | AlertReceived | RollbackStarted | WarRoom
              | IcDecision | IcRefused | IcHandover | ParkingLot | UserFeedback | NotifyFailed | CommsRecorded
              | WebhookRefused | Paused | Resumed | Takeover | RunEnded | OtherEvent)

SCHEMAS: dict[str, type[Event]] = {cls.KIND: cls for cls in (
    RunStarted, ClockChanged, StepStarted, StepCompleted, WeightIntent, WeightOutcome, DecisionMade,
    HoldStarted, HoldEnded, AlertReceived, RollbackStarted, WarRoom, IcDecision, IcRefused, IcHandover,
    ParkingLot,
    UserFeedback, NotifyFailed, CommsRecorded, WebhookRefused, Paused, Resumed, Takeover, RunEnded)}


def parse(event: LedgerEvent) -> TypedEvent:
    """The typed event of a ledger row (tolerant of older payloads; see the module's docstring)."""
    schema = SCHEMAS.get(event.kind)
    if schema is None:
        return OtherEvent(seq=event.seq, at=event.at, other_kind=event.kind, payload=dict(event.payload),
                          t_s=opt_float(event.payload.get("t_s")))
    return schema.from_payload(event.payload, seq=event.seq, at=event.at)  # type: ignore[return-value]


def parse_all(events: Any) -> list[TypedEvent]:
    """`parse` of each of `events` (LedgerEvents, or events already typed), in the order given."""
    return [e if isinstance(e, Event) else parse(e) for e in events]  # type: ignore[misc]


__all__ = [
    "IC", "RUNNER", "SCHEMAS", "AlertReceived", "ByPerson", "ClockChanged", "CommsRecorded",
    "DecisionMade", "Event",
    "HoldEnded", "HoldStarted", "IcDecision", "IcHandover", "IcRefused", "NotifyFailed", "OtherEvent",
    "ParkingLot", "Paused", "Resumed", "RollbackStarted", "RunEnded", "RunStarted", "StepCompleted",
    "StepStarted", "Takeover", "TypedEvent", "UserFeedback", "WarRoom", "WebhookRefused", "WeightIntent",
    "WeightOutcome", "origin_of", "parse", "parse_all",
]
