"""What was measured at one instant: a tick of baseline and canary observations.

Pure data shared by the live runner and by replay. Times are seconds since T0 (`t_s`);
the runner turns wall-clock instants into offsets before calling the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

_T = TypeVar("_T")


@dataclass(frozen=True)
class TrackSample:
    """One track's metrics in one tick. A value of None is NoData, never zero."""

    values: Mapping[str, float | None]
    requests: float | None = None
    denominators: Mapping[str, float | None] = field(default_factory=dict)
    """Per rate metric, what its percentage divides by when that is not `requests` (a gate's
    `count_query`: idempotent requests, say). Missing: `requests`."""

    def value(self, metric: str) -> float | None:
        return self.values.get(metric)

    def denominator(self, metric: str) -> float | None:
        """The count a rate metric divides by: its own denominator if reported, else requests."""
        return self.denominators[metric] if metric in self.denominators else self.requests


@dataclass(frozen=True)
class Alert:
    """An alert visible at a tick (firing at or before it)."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    fired_t_s: float = 0.0  # plan seconds since T0 (the run's one clock)
    fired_at: datetime | None = None  # the wall instant it started firing, when the source says

    def matches(self, match_labels: Mapping[str, str]) -> bool:
        """True when every label in `match_labels` is present with exactly that string value."""
        return all(self.labels.get(k) == v for k, v in match_labels.items())


@dataclass(frozen=True)
class Tick:
    """Baseline and canary at one instant of a stage. A whole track may be None (no data)."""

    t_s: float
    weight: float
    stage: int
    baseline: TrackSample | None
    canary: TrackSample | None
    alerts: tuple[Alert, ...] = ()


def derived(tick: Tick, key: Hashable, by: Any, make: Callable[..., _T], *args: Any) -> _T:
    """What `make(*args)` derives from this tick alone, computed once per `key` and `by` (the gate it
    is read with, matched by identity): a tick never changes, and the judge reads each of the last
    sixty ticks again at every new one. Kept on the tick itself, so it goes when the tick goes."""
    cache: dict[Hashable, tuple[Any, Any]] = tick.__dict__.setdefault("_derived", {})
    hit = cache.get((key, id(by)))
    if hit is not None and hit[0] is by:
        return hit[1]  # type: ignore[no-any-return]
    value = make(*args)
    cache[(key, id(by))] = (by, value)
    return value


class Action(StrEnum):
    PROCEED = "proceed"
    HOLD = "hold"
    ROLLBACK = "rollback"


class Verdict(StrEnum):
    """A gate's verdict for one tick, worst last."""

    PASS = "PASS"
    NODATA = "NODATA"
    SHARED = "SHARED"  # breach or shift seen on baseline as much as canary: an incident, not the canary
    TREND = "TREND"  # under threshold but projected to cross within the hold
    SUSPECT = "SUSPECT"  # canary-only breach or lean, not yet statistically clear: hold and re-evaluate
    FAIL = "FAIL"


@dataclass(frozen=True)
class MetricVerdict:
    metric: str
    verdict: Verdict
    canary: float | None
    baseline: float | None
    reason: str
    p_value: float | None = None
    effect: float | None = None  # canary relative to baseline, e.g. 0.4 = 40 % worse
    interval: tuple[float, float] | None = None  # the effect's interval at the plan's confidence
    n: float | None = None  # canary requests in the window that decided
    events: float | None = None  # rates and counts: canary events in that window
    ticks: int | None = None  # length of that window
    z: float | None = None  # the evidence on the standard-normal scale (one-sided)
    lean: float | None = None  # the same against "no worse at all": read with the other gates'
    allowance: str = ""  # in a shared incident: what the effect is measured beyond ("x1.25")


@dataclass(frozen=True)
class Decision:
    """The engine's answer for one tick.

    action: proceed (gates fine; advance when `stage_complete`), hold, or rollback.
    stage_complete: the stage's hold time has passed with every gate passing: move to the next stage.
    """

    t_s: float
    action: Action
    reasons: tuple[str, ...]
    verdicts: tuple[MetricVerdict, ...] = ()
    stage_complete: bool = False
    engine: str = ""
    sentence: str = ""
    """The decision in one sentence, in the users' words and with numbers (domain/sentence.py)."""

    @property
    def passing(self) -> int:
        return sum(1 for v in self.verdicts if v.verdict is Verdict.PASS)
