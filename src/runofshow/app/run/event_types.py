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
in `runofshow.app.run.events`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from runofshow.app.run.event_parts import (
    StepInfo,
    VerdictRecord,
    alert_from_json,
    alert_json,
    opt_dict,
    opt_float,
    opt_int,
    opt_str,
    sample_from_json,
    sample_json,
    strs,
)
from runofshow.domain.tick import Alert, TrackSample
from runofshow.ports import LedgerEvent

E = TypeVar("E", bound="Event")

RUNNER = "runner"  # a weight intent's origin: the run's own runner
IC = "ic"  # ... an incident commander's rollback (`runofshow decide`), from another process


def origin_of(intent_id: str) -> str:
    """The origin an old intent's id tells (before intents recorded it): `ic<seq>` or the runner's."""
    return IC if intent_id.startswith("ic") else RUNNER


def _f(default: Any = None, *, read: Callable[[Any], Any] | None = None,
       write: Callable[[Any], Any] | None = None, omit_none: bool = False, group: str | None = None,
       factory: Callable[[], Any] | None = None) -> Any:
    """A payload field: `read` converts a payload value (an error: the default), `write` turns it
    back into JSON, `omit_none` leaves the key out while None, `group` nests it (`inputs`)."""
    meta = {"payload": True, "read": read, "write": write, "omit_none": omit_none, "group": group}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _alerts_read(value: Any) -> tuple[Alert, ...]:
    return tuple(alert_from_json(a) for a in value or ())


def _alerts_write(alerts: tuple[Alert, ...]) -> list[dict[str, Any]]:
    return [alert_json(a) for a in alerts]


def _list(value: tuple[Any, ...]) -> list[Any]:
    return list(value)


_FLOAT = {"read": opt_float}
_INT = {"read": opt_int}
_STR = {"read": opt_str}
_STRS = {"read": strs, "write": _list, "factory": tuple}


@dataclass(frozen=True, kw_only=True)
class Event:
    """What every event has: the ledger row's `seq` and `at`, and `t_s` (plan seconds since T0)."""

    KIND: ClassVar[str] = ""
    seq: int = 0
    at: datetime | None = None
    t_s: float | None = _f(**_FLOAT)

    @property
    def kind(self) -> str:
        return self.KIND

    @classmethod
    def from_payload(cls: type[E], payload: Mapping[str, Any], *, seq: int = 0,
                     at: datetime | None = None) -> E:
        kwargs: dict[str, Any] = {}
        for f in _payload_fields(cls):
            group = f.metadata["group"]
            source = payload.get(group) if group else payload
            if not isinstance(source, Mapping) or f.name not in source:
                continue
            read = f.metadata["read"]
            try:
                value = read(source[f.name]) if read is not None else source[f.name]
            except (TypeError, ValueError, KeyError, AttributeError):
                continue  # a value this reader cannot take: the field's default
            if value is None and f.default is not None:
                continue  # None where the schema wants a value: the default
            kwargs[f.name] = value
        return cls(seq=seq, at=at, **kwargs)

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in _payload_fields(type(self)):
            value = getattr(self, f.name)
            if value is None and f.metadata["omit_none"]:
                continue
            write = f.metadata["write"]
            target = out.setdefault(f.metadata["group"], {}) if f.metadata["group"] else out
            target[f.name] = write(value) if write is not None and value is not None else value
        return out


_FIELDS: dict[type, tuple[dataclasses.Field[Any], ...]] = {}


def _payload_fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = tuple(f for f in dataclasses.fields(cls) if f.metadata.get("payload"))
    return found


@dataclass(frozen=True, kw_only=True)
class OtherEvent(Event):
    """An event of a kind this version does not know; its payload as it was."""

    other_kind: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.other_kind

    def to_payload(self) -> dict[str, Any]:
        return dict(self.payload)


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    KIND: ClassVar[str] = "run_started"
    run_id: str = _f("", **_STR)
    release: str = _f("", **_STR)
    version: str = _f("", **_STR)
    service: str = _f("", **_STR)
    plan: dict[str, Any] = _f(read=opt_dict, factory=dict)
    gate_order: tuple[str, ...] = _f(**_STRS)
    speed: float = _f(1.0, read=float)
    anchor_at: str | None = _f(omit_none=True, **_STR)
    plan_anchor_at: str | None = _f(omit_none=True, **_STR)
    t0_at: str = _f("", **_STR)
    started_at: str = _f("", **_STR)
    steps: tuple[StepInfo, ...] = _f(read=lambda v: tuple(StepInfo.from_json(s) for s in v),
                                     write=lambda v: [s.to_json() for s in v], factory=tuple)
    state: str = _f("", **_STR)
    engine: str | None = _f(**_STR)
    meta: Mapping[str, Any] = field(default_factory=dict)  # what else the starter recorded (demo ...)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], *, seq: int = 0,
                     at: datetime | None = None) -> RunStarted:
        event = super().from_payload(payload, seq=seq, at=at)
        known = {f.name for f in _payload_fields(cls)}
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
    speed: float = _f(1.0, read=float)
    anchor_at: str | None = _f(**_STR)
    plan_anchor_at: str | None = _f(**_STR)
    phase: str | None = _f(**_STR)

    @property
    def clock(self) -> dict[str, Any]:
        return {"speed": self.speed, "anchor_at": self.anchor_at, "plan_anchor_at": self.plan_anchor_at}


@dataclass(frozen=True, kw_only=True)
class StepEvent(Event):
    """A timeline step's start or end: the step as the schedule has it (`StepInfo`), and `t_s`.
    The payload's `kind` is the step's kind (`step_kind` here: an event's `kind` is its own)."""

    index: int = _f(0, read=int)
    step_kind: str = ""
    label: str = _f("", **_STR)
    title: str = _f("", **_STR)
    offset_s: float = _f(0.0, read=float)
    stage: int | None = _f(**_INT)
    weight: float | None = _f(**_FLOAT)

    @classmethod
    def from_payload(cls: type[E], payload: Mapping[str, Any], *, seq: int = 0,
                     at: datetime | None = None) -> E:
        event = super().from_payload(payload, seq=seq, at=at)  # type: ignore[misc]
        return dataclasses.replace(event, step_kind=str(payload.get("kind") or ""))  # type: ignore[no-any-return]

    def to_payload(self) -> dict[str, Any]:
        out = super().to_payload()
        return {"index": out.pop("index"), "kind": self.step_kind, **out}

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
    details: dict[str, Any] = _f(read=opt_dict, factory=dict)
    ok: bool = _f(True, read=bool)
    ic_reason: str | None = _f(omit_none=True, **_STR)  # a stage an incident commander advanced


@dataclass(frozen=True, kw_only=True)
class WeightIntent(Event):
    KIND: ClassVar[str] = "weight_intent"
    id: str = _f("", **_STR)
    weight: float = _f(0.0, read=float)
    reason: str = _f("", **_STR)
    stage: int | None = _f(**_INT)
    origin: str = _f("", **_STR)  # RUNNER or IC; not given (old ledgers): the one its id tells

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
    id: str = _f("", **_STR)
    weight: float = _f(0.0, read=float)
    read_back: float | None = _f(**_FLOAT)  # None: the router could not be read
    ok: bool = _f(False, read=bool)
    attempts: int = _f(1, read=int)
    error: str | None = _f(**_STR)
    resolved_on: str = _f("act", **_STR)  # act, resume, pause


@dataclass(frozen=True, kw_only=True)
class DecisionMade(Event):
    """One tick of the decision engine (kind `decision`), with all its inputs."""

    KIND: ClassVar[str] = "decision"
    label: str = _f("", **_STR)
    phase: str = _f("stage", **_STR)
    trigger: str = _f("tick", **_STR)
    stage: int | None = _f(**_INT)
    weight: float = _f(0.0, read=float)
    window_s: float | None = _f(**_FLOAT)
    query_window_s: float | None = _f(**_FLOAT)
    baseline: TrackSample | None = _f(read=sample_from_json, write=sample_json, group="inputs")
    canary: TrackSample | None = _f(read=sample_from_json, write=sample_json, group="inputs")
    alerts: tuple[Alert, ...] = _f(read=_alerts_read, write=_alerts_write, group="inputs", factory=tuple)
    source_error: str | None = _f(**_STR)
    action: str = _f("", **_STR)
    reasons: tuple[str, ...] = _f(**_STRS)
    verdicts: tuple[VerdictRecord, ...] = _f(read=lambda v: tuple(VerdictRecord.from_json(x) for x in v),
                                             write=lambda v: [x.to_json() for x in v], factory=tuple)
    passing: int | None = _f(**_INT)
    gates: int | None = _f(**_INT)
    stage_complete: bool = _f(False, read=bool)
    engine: str | None = _f(**_STR)
    holds: int = _f(0, read=int)
    first_night_watch: tuple[str, ...] | None = _f(read=strs, write=_list, omit_none=True)
    burn: dict[str, Any] | None = _f(read=opt_dict, omit_none=True)  # BurnVerdict.to_json()

    def sample(self, track: str) -> TrackSample | None:
        return self.canary if track == "canary" else self.baseline

    def values(self, track: str = "canary") -> Mapping[str, float | None] | None:
        """A track's metric values (None: the track gave no sample at all)."""
        sample = self.sample(track)
        return None if sample is None else sample.values

    def verdict(self, metric: str) -> VerdictRecord | None:
        return next((v for v in self.verdicts if v.metric == metric), None)


@dataclass(frozen=True, kw_only=True)
class HoldStarted(Event):
    KIND: ClassVar[str] = "hold_started"
    stage: int | None = _f(**_INT)
    n: int = _f(0, read=int)
    max_holds: int | None = _f(**_INT)
    hold_s: float | None = _f(**_FLOAT)  # None: an incident commander's hold
    until_t_s: float | None = _f(**_FLOAT)
    reasons: tuple[str, ...] = _f(**_STRS)
    by: str | None = _f(omit_none=True, **_STR)
    ic_seq: int | None = _f(omit_none=True, **_INT)


@dataclass(frozen=True, kw_only=True)
class HoldEnded(Event):
    KIND: ClassVar[str] = "hold_ended"
    stage: int | None = _f(**_INT)
    n: int = _f(0, read=int)
    by: str | None = _f(omit_none=True, **_STR)
    ic_seq: int | None = _f(omit_none=True, **_INT)


@dataclass(frozen=True, kw_only=True)
class AlertReceived(Event):
    KIND: ClassVar[str] = "alert_received"
    alerts: tuple[Alert, ...] = _f(read=_alerts_read, write=_alerts_write, factory=tuple)
    source: str = _f("webhook", **_STR)
    received_at: str | None = _f(**_STR)


@dataclass(frozen=True, kw_only=True)
class RollbackStarted(Event):
    KIND: ClassVar[str] = "rollback_started"
    trigger: str = _f("", **_STR)
    reasons: tuple[str, ...] = _f(**_STRS)
    stage: int | None = _f(**_INT)
    weight: float | None = _f(**_FLOAT)
    by: str | None = _f(**_STR)
    ic_seq: int | None = _f(omit_none=True, **_INT)


@dataclass(frozen=True, kw_only=True)
class WarRoom(Event):
    """One war-room line and its parts (`runofshow.app.run.minutes.war_room_payload`)."""

    KIND: ClassVar[str] = "war_room"
    observation: str = _f("", **_STR)
    metrics: str | None = _f(**_STR)
    gates: str | None = _f(**_STR)
    decision: str | None = _f(**_STR)
    by: str | None = _f(**_STR)
    label: str = _f("", **_STR)
    text: str = _f("", **_STR)
    ic_seq: int | None = _f(omit_none=True, **_INT)


@dataclass(frozen=True, kw_only=True)
class IcDecision(Event):
    KIND: ClassVar[str] = "ic_decision"
    action: str = _f("", **_STR)
    by: str = _f("", **_STR)
    reason: str = _f("", **_STR)


@dataclass(frozen=True, kw_only=True)
class IcRefused(Event):
    KIND: ClassVar[str] = "ic_refused"
    action: str = _f("", **_STR)
    by: str = _f("", **_STR)
    reason: str = _f("", **_STR)
    why: str = _f("", **_STR)


@dataclass(frozen=True, kw_only=True)
class ParkingLot(Event):
    KIND: ClassVar[str] = "parking_lot"
    text: str = _f("", **_STR)
    by: str = _f("", **_STR)


@dataclass(frozen=True, kw_only=True)
class NotifyFailed(Event):
    KIND: ClassVar[str] = "notify_failed"
    channel: str = _f("", **_STR)
    event: str = _f("", **_STR)
    error: str = _f("", **_STR)


@dataclass(frozen=True, kw_only=True)
class Paused(Event):
    KIND: ClassVar[str] = "paused"
    reason: str = _f("", **_STR)
    weight: float | None = _f(**_FLOAT)


@dataclass(frozen=True, kw_only=True)
class Resumed(Event):
    KIND: ClassVar[str] = "resumed"
    weight: float | None = _f(**_FLOAT)
    alerts: tuple[Alert, ...] = _f(read=_alerts_read, write=_alerts_write, factory=tuple)
    previous_status: str = _f("", **_STR)
    open_intent: str | None = _f(**_STR)
    clock: dict[str, Any] | None = _f(read=opt_dict)


@dataclass(frozen=True, kw_only=True)
class RunEnded(Event):
    KIND: ClassVar[str] = "run_ended"
    status: str = _f("", **_STR)
    exit_code: int | None = _f(**_INT)
    reason: str = _f("", **_STR)
    weight: float | None = _f(**_FLOAT)
    details: dict[str, Any] | None = _f(read=opt_dict, omit_none=True)


TypedEvent = (RunStarted | ClockChanged | StepStarted | StepCompleted | WeightIntent | WeightOutcome
              | DecisionMade | HoldStarted | HoldEnded | AlertReceived | RollbackStarted | WarRoom
              | IcDecision | IcRefused | ParkingLot | NotifyFailed | Paused | Resumed | RunEnded | OtherEvent)

SCHEMAS: dict[str, type[Event]] = {cls.KIND: cls for cls in (
    RunStarted, ClockChanged, StepStarted, StepCompleted, WeightIntent, WeightOutcome, DecisionMade,
    HoldStarted, HoldEnded, AlertReceived, RollbackStarted, WarRoom, IcDecision, IcRefused, ParkingLot,
    NotifyFailed, Paused, Resumed, RunEnded)}


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
    "IC", "RUNNER", "SCHEMAS", "AlertReceived", "ClockChanged", "DecisionMade", "Event", "HoldEnded",
    "HoldStarted", "IcDecision", "IcRefused", "NotifyFailed", "OtherEvent", "ParkingLot", "Paused",
    "Resumed", "RollbackStarted", "RunEnded", "RunStarted", "StepCompleted", "StepStarted", "TypedEvent",
    "WarRoom", "WeightIntent", "WeightOutcome", "origin_of", "parse", "parse_all",
]
