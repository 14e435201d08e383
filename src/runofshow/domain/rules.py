"""The decision engine's part of the plan: the stages, the gates (with their default queries) and
the decision rules, and `EnginePlan`, what `runofshow.domain.decide` reads of a plan. The whole
plan (`runofshow.domain.plan.Plan`) is one; `runofshow replay` builds only this part, so that it
does not build the models of the plan's other sections (issue 11: start-up time).

Pure data, validated.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Literal, Protocol

from pydantic import Field, field_validator

from runofshow.domain.labels import MetricLabels
from runofshow.domain.model import FrozenModel

#: the labels of an alert that rolls back at once (the plan's `alert_source.match_labels` default)
AUTO_ROLLBACK_LABELS = {"auto_rollback": "true"}


# --------------------------------------------------------------------------- stages


class Stage(FrozenModel):
    weight: float
    hold_min: float = 15.0

    @field_validator("weight")
    @classmethod
    def _weight(cls, v: float) -> float:
        if not 0 < v <= 100:
            raise ValueError("must be between 0 and 100")
        return v

    @field_validator("hold_min")
    @classmethod
    def _hold(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be more than 0 minutes")
        return v


def default_stages() -> tuple[Stage, ...]:
    """1 -> 5 -> 25 -> 50 -> 100 %: starts at T0, T+15, T+30, T+45, T+60; 100 % complete at T+90."""
    return (
        Stage(weight=1, hold_min=15),
        Stage(weight=5, hold_min=15),
        Stage(weight=25, hold_min=15),
        Stage(weight=50, hold_min=15),
        Stage(weight=100, hold_min=30),
    )


# --------------------------------------------------------------------------- gates


class GateKind(StrEnum):
    """How the judge reads a metric.

    latency: a per-tick quantile (p95) of request latency; noisy when the canary has few requests.
    rate:    a percentage of requests (5xx, idempotency conflicts); judged with counts.
    count:   events counted in the tick (CSP violation reports); judged per request with Poisson.
    gauge:   a level that is not per request (WebSocket lag, pool utilisation).
    """

    LATENCY = "latency"
    RATE = "rate"
    COUNT = "count"
    GAUGE = "gauge"


class Direction(StrEnum):
    LOWER_IS_BETTER = "lower_is_better"
    HIGHER_IS_BETTER = "higher_is_better"


class TrackQueries(FrozenModel):
    """One query per track. `$window` is replaced by the query window (the tick interval, scaled)."""

    baseline: str = Field(min_length=1)
    canary: str = Field(min_length=1)


class Gate(FrozenModel):
    unit: str = ""
    kind: GateKind = GateKind.GAUGE
    direction: Direction = Direction.LOWER_IS_BETTER
    threshold: float
    short: str = Field(default="", description="label in war-room lines, e.g. p95")
    query: TrackQueries | None = None
    count_query: TrackQueries | None = Field(
        default=None,
        description="rate gates: the denominator the percentage divides by, per track (e.g. idempotent "
        "requests); default: the requests query",
    )
    window_s: float | None = Field(
        default=None, gt=0,
        description="how many seconds each reading covers (a query's range selector); longer than the "
        "tick, consecutive readings overlap and the judge discounts the pooled evidence; default one tick",
    )
    denominator_window_s: float | None = Field(
        default=None, gt=0,
        description="rate gates: how many seconds each reading's denominator covers (the range of its "
        "count_query, or of the requests query); a rate's events are its percentage times that "
        "denominator, so each is counted once per reading that range holds; default window_s",
    )

    def breaches(self, value: float) -> bool:
        """True when `value` is on the wrong side of the threshold."""
        if self.direction is Direction.LOWER_IS_BETTER:
            return value > self.threshold
        return value < self.threshold

    def badness(self, value: float) -> float:
        """The value oriented so that bigger is always worse."""
        return value if self.direction is Direction.LOWER_IS_BETTER else -value


SEL = "SELECTOR"  # stands for the track's label selector in the default queries below


def _q(expr: str, labels: MetricLabels, service: str) -> TrackQueries:
    return TrackQueries(
        baseline=expr.replace(SEL, labels.selector(service, "baseline")),
        canary=expr.replace(SEL, labels.selector(service, "canary")),
    )


def default_gates(labels: MetricLabels | None = None, service: str = "spark-trading") -> dict[str, Gate]:
    """The six gates of the run-of-show, with queries for the demo's (and a typical) exporter; the
    series are selected with `labels` (`metrics_source.labels`) and `service` (`release.service`)."""
    chosen = labels or MetricLabels()

    def q(expr: str) -> TrackQueries:
        return _q(expr, chosen, service)

    sel = SEL
    reqs = f"sum(rate(http_requests_total{{{sel}}}[$window]))"
    return {
        "http_p95_ms": Gate(
            unit="ms", kind=GateKind.LATENCY, threshold=300, short="p95",
            query=q(
                "1000 * histogram_quantile(0.95, sum by (le) "
                f"(rate(http_request_duration_seconds_bucket{{{sel}}}[$window])))"
            ),
        ),
        "http_5xx_pct": Gate(
            unit="%", kind=GateKind.RATE, threshold=1.0, short="5xx",
            query=q(f'100 * sum(rate(http_requests_total{{{sel},code=~"5.."}}[$window])) / {reqs}'),
        ),
        "ws_lag_s": Gate(
            unit="s", kind=GateKind.GAUGE, threshold=30, short="ws",
            query=q(f"max(ws_message_lag_seconds{{{sel}}})"),
        ),
        "idempotency_conflict_pct": Gate(
            unit="%", kind=GateKind.RATE, threshold=1.0, short="idemp",
            query=q(f"100 * sum(rate(idempotency_conflicts_total{{{sel}}}[$window])) / {reqs}"),
        ),
        "csp_violations": Gate(
            unit="per tick", kind=GateKind.COUNT, threshold=10, short="csp",
            query=q(f"sum(increase(csp_violation_reports_total{{{sel}}}[$window]))"),
        ),
        "pgbouncer_pool_util_pct": Gate(
            unit="%", kind=GateKind.GAUGE, threshold=80, short="pool",
            query=q(
                f"100 * max(pgbouncer_pool_active_connections{{{sel}}}) "
                f"/ max(pgbouncer_pool_max_connections{{{sel}}})"
            ),
        ),
    }


def default_requests_query(
    labels: MetricLabels | None = None, service: str = "spark-trading",
) -> TrackQueries:
    return _q(f"sum(increase(http_requests_total{{{SEL}}}[$window]))", labels or MetricLabels(), service)


def default_slo_error_ratio_query(labels: MetricLabels | None = None, service: str = "spark-trading") -> str:
    sel = (labels or MetricLabels()).selector(service)
    return (f'sum(rate(http_requests_total{{{sel},code=~"5.."}}[$window]))'
            f" / sum(rate(http_requests_total{{{sel}}}[$window]))")


# --------------------------------------------------------------------------- decision rules


class DecisionRules(FrozenModel):
    """Parameters of the decision engine (see `runofshow.domain.decide`)."""

    tick_interval_s: float = Field(default=60, gt=0)
    trend_window_ticks: int = Field(default=8, ge=3)
    hold_min: float = Field(default=15, gt=0)
    max_holds: int = Field(default=3, ge=0, description="holds in one stage before giving up (halt)")
    no_data_rollback_after_ticks: int = Field(
        default=6, ge=1,
        description="roll back after this many ticks in a row without any canary data (holding before)",
    )
    no_data_metric_rollback_after_ticks: int = Field(
        default=10, ge=1,
        description="roll back after this many ticks in a row without data for one gate metric "
        "while the other gates still see the canary (holding before)",
    )
    min_canary_requests: int = Field(
        default=50, ge=0, description="below this, a rate's per-tick trend is not judged (its counts are)"
    )
    confidence: float = Field(
        default=0.99, gt=0.5, lt=1,
        description="a canary-only breach this clear in a single tick holds while it is confirmed",
    )
    min_relative_effect: float = Field(
        default=0.25, ge=0, description="canary worse than baseline by at least this share"
    )
    rollback_z: float = Field(
        default=3.5, gt=0,
        description="evidence needed to roll back for a canary-only regression: one-sided z of the "
        "canary-vs-baseline test pooled over the judge window, with the worst tick left out",
    )
    judge_window_ticks: int = Field(
        default=6, ge=2, description="ticks pooled by the comparative judge (sliding window)"
    )
    warmup_ticks: int = Field(
        default=2, ge=0,
        description="first ticks of the rollout whose canary is not compared with the baseline (warm-up)",
    )
    shared_level: float = Field(
        default=0.8, gt=0, le=1,
        description="a canary breach is shared when the baseline is at this share of the threshold too",
    )
    absolute_confirm_ticks: int = Field(
        default=3, ge=1,
        description="with no baseline to compare (100 % on the canary, or no baseline data), roll back "
        "once the canary is over a threshold this many ticks in a row with canary data (rates and "
        "counts: also clearly over, at rollback_z, against the threshold itself); hold until then. "
        "Below 100 %, where the baseline is only missing, at least no_data_rollback_after_ticks",
    )
    min_canary_events: int = Field(
        default=5, ge=1,
        description="a canary-only regression under the threshold of a rate or count needs at least this "
        "many canary events (overlapping windows discounted) before it can roll back",
    )
    judge: Literal["comparative", "threshold"] = "comparative"


# --------------------------------------------------------------------------- what the engine reads


class AlertMatching(Protocol):
    @property
    def match_labels(self) -> Mapping[str, str]: ...


class EnginePlan(Protocol):
    """What `decide` reads of a plan: a `Plan`, or replay's `runofshow.app.replay.scenarios.ReplayPlan`."""

    @property
    def stages(self) -> tuple[Stage, ...]: ...

    @property
    def gates(self) -> Mapping[str, Gate]: ...

    @property
    def decision(self) -> DecisionRules: ...

    @property
    def alert_source(self) -> AlertMatching: ...
