"""The parts that events are made of, and how each goes to and from JSON: a step of the schedule,
a gate's verdict, a track's sample, an alert; plus the tolerant value readers the schemas use
(`runofshow.app.run.event_types`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runofshow.domain.tick import Alert, MetricVerdict, TrackSample
from runofshow.domain.timeline import Step

# --------------------------------------------------------------------------- value readers


def finite(value: float | None) -> float | None:
    """A number that JSON (and the engine) can hold: NaN and infinities are no data."""
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def opt_dict(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, Mapping) else None


def strs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(str(x) for x in value or ())


# --------------------------------------------------------------------------- samples and alerts


def clean_sample(sample: TrackSample | None) -> TrackSample | None:
    """The sample with NaN / infinite values turned into None (NoData)."""
    if sample is None:
        return None
    return TrackSample(
        values={k: finite(v) for k, v in sample.values.items()}, requests=finite(sample.requests),
        denominators={k: finite(v) for k, v in sample.denominators.items()},
    )


def sample_json(sample: TrackSample | None) -> dict[str, Any] | None:
    if sample is None:
        return None
    out: dict[str, Any] = {"values": {k: finite(v) for k, v in sample.values.items()},
                           "requests": finite(sample.requests)}
    if sample.denominators:  # a rate gate's own denominator (`count_query`); absent in older ledgers
        out["denominators"] = {k: finite(v) for k, v in sample.denominators.items()}
    return out


def sample_from_json(data: Mapping[str, Any] | None) -> TrackSample | None:
    if data is None:
        return None
    return TrackSample(values=dict(data.get("values") or {}), requests=data.get("requests"),
                       denominators=dict(data.get("denominators") or {}))


def alert_json(alert: Alert) -> dict[str, Any]:
    """`fired_t_s` in plan seconds since T0; `fired_at`, the wall instant, beside it when known."""
    out: dict[str, Any] = {"name": alert.name, "labels": dict(alert.labels), "fired_t_s": alert.fired_t_s}
    if alert.fired_at is not None:
        out["fired_at"] = alert.fired_at.isoformat()
    return out


def alert_from_json(data: Mapping[str, Any]) -> Alert:
    fired_at = data.get("fired_at")
    return Alert(name=str(data["name"]), labels=dict(data.get("labels", {})),
                 fired_t_s=float(data.get("fired_t_s", 0.0)),
                 fired_at=datetime.fromisoformat(fired_at) if isinstance(fired_at, str) else None)


def alerts_json(alerts: Iterable[Alert]) -> list[dict[str, Any]]:
    return [alert_json(a) for a in alerts]


# --------------------------------------------------------------------------- verdicts and steps


@dataclass(frozen=True)
class VerdictRecord:
    """A gate's verdict as a `decision` event keeps it (`MetricVerdict`, its verdict a string)."""

    metric: str
    verdict: str = ""
    canary: float | None = None
    baseline: float | None = None
    reason: str = ""
    p_value: float | None = None
    effect: float | None = None

    @classmethod
    def of(cls, v: MetricVerdict) -> VerdictRecord:
        return cls(metric=v.metric, verdict=v.verdict.value, canary=finite(v.canary),
                   baseline=finite(v.baseline), reason=v.reason, p_value=finite(v.p_value),
                   effect=finite(v.effect))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VerdictRecord:
        get = data.get
        canary, baseline, p_value, effect = get("canary"), get("baseline"), get("p_value"), get("effect")
        record = object.__new__(cls)
        # a run's page reads six of these per decision, thousands of decisions: filled in one step
        # rather than through the frozen dataclass's __init__ (one object.__setattr__ per field)
        record.__dict__.update(
            metric=str(data["metric"]), verdict=str(get("verdict") or ""),
            canary=None if canary is None else float(canary),
            baseline=None if baseline is None else float(baseline),
            reason=str(get("reason") or ""), p_value=None if p_value is None else float(p_value),
            effect=None if effect is None else float(effect))
        return record

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "verdict": self.verdict, "canary": self.canary,
                "baseline": self.baseline, "reason": self.reason, "p_value": self.p_value,
                "effect": self.effect}


def verdict_json(v: MetricVerdict) -> dict[str, Any]:
    return VerdictRecord.of(v).to_json()


@dataclass(frozen=True)
class BurnRecord:
    """The first night's SLO burn rate as the ledger keeps it (`BurnVerdict.to_json()`, in a
    first-night decision's `burn` and the first night's step details): read-only, the payload keeps
    the JSON as it was written."""

    severity: str = "ok"  # ok, ticket, page
    burn_rate_24h: float | None = None
    windows: Mapping[str, float | None] = field(default_factory=dict)  # {"1h": 0.5, ...}
    page: bool = False
    ticket: bool = False

    @classmethod
    def from_json(cls, data: Any) -> BurnRecord | None:
        """The record of `data` (None when there is none); `data` may hold it under "burn"."""
        if isinstance(data, Mapping) and isinstance(data.get("burn"), Mapping):
            data = data["burn"]
        if not isinstance(data, Mapping) or not data:
            return None
        raw = data.get("windows")
        windows = {str(k): _number(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}
        return cls(severity=str(data.get("severity", "ok")), burn_rate_24h=_number(data.get("burn_rate_24h")),
                   windows=windows, page=bool(data.get("page")), ticket=bool(data.get("ticket")))


def _number(value: Any) -> float | None:
    try:
        return finite(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class StepInfo:
    """A step of the run's schedule as the ledger keeps it (`run_started.steps`, `step_*` events)."""

    index: int
    kind: str
    label: str = ""
    title: str = ""
    offset_s: float = 0.0
    stage: int | None = None
    weight: float | None = None

    @classmethod
    def of(cls, index: int, step: Step) -> StepInfo:
        return cls(index=index, kind=step.kind.value, label=step.label, title=step.title,
                   offset_s=step.offset.total_seconds(), stage=step.stage, weight=step.weight)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepInfo:
        return cls(index=int(data["index"]), kind=str(data.get("kind") or ""),
                   label=str(data.get("label") or ""), title=str(data.get("title") or ""),
                   offset_s=float(data.get("offset_s") or 0.0), stage=opt_int(data.get("stage")),
                   weight=opt_float(data.get("weight")))

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "kind": self.kind, "label": self.label, "title": self.title,
                "offset_s": self.offset_s, "stage": self.stage, "weight": self.weight}

    @classmethod
    def all_of(cls, value: Any) -> tuple[StepInfo, ...]:
        """A list of steps as JSON (`run_started.steps`), read."""
        return tuple(cls.from_json(s) for s in value or ())

    @staticmethod
    def all_json(steps: tuple[StepInfo, ...]) -> list[dict[str, Any]]:
        return [s.to_json() for s in steps]


def step_json(index: int, step: Step) -> dict[str, Any]:
    return StepInfo.of(index, step).to_json()


__all__ = [
    "BurnRecord", "StepInfo", "VerdictRecord", "alert_from_json", "alert_json", "alerts_json", "clean_sample",
    "finite", "opt_dict", "opt_float", "opt_int", "opt_str", "sample_from_json", "sample_json",
    "step_json", "strs", "verdict_json",
]
