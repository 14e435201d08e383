"""The plan: one validated description of a canary release's run-of-show. Here: the release, its
stages, gates, decision rules, timeline, war room, team caps and preflight; the market windows are in
`runofshow.domain.market`, the freeze rules in `runofshow.domain.freeze`, and the settings for the
outside systems a run talks to (router, metrics, alerts, notifications) in
`runofshow.domain.connections`.

Pure data. `Plan.model_validate(dict)` checks everything that can be checked without I/O;
reading YAML and turning validation errors into `file: field: problem` lines lives in
`runofshow.app.plan_file`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from runofshow.domain.addresses import HttpUrlText
from runofshow.domain.communications import CommunicationsSettings
from runofshow.domain.connections import (
    AlertSourceSettings,
    LocalProxyRouterSettings,
    MetricLabels,
    MetricsSourceSettings,
    NotificationSettings,
    PrometheusSettings,
    TrafficRouterSettings,
)
from runofshow.domain.freeze import FreezeRules
from runofshow.domain.market import Market
from runofshow.domain.team import TeamSettings
from runofshow.domain.war_room import WarRoom

GATE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
VERSION = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- release, stages


class Release(_Model):
    name: str = Field(default="spark-trading", min_length=1)
    version: str = "v1.4.0"
    service: str = Field(default="spark-trading", min_length=1)

    @field_validator("version")
    @classmethod
    def _version(cls, v: str) -> str:
        if not VERSION.match(v):
            raise ValueError(f"'{v}' is not a version like v1.4.0")
        return v


class Stage(_Model):
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


class TrackQueries(_Model):
    """One query per track. `$window` is replaced by the query window (the tick interval, scaled)."""

    baseline: str = Field(min_length=1)
    canary: str = Field(min_length=1)


class Gate(_Model):
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


class DecisionRules(_Model):
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


# --------------------------------------------------------------------------- timeline


class BlastRadius(_Model):
    url: HttpUrlText | None = None
    seconds: float = Field(default=30, gt=0)
    rate: float = Field(default=50, gt=0)
    concurrency: int = Field(default=50, ge=1)
    success_min_pct: float = Field(default=95, ge=0, le=100)
    p95_max_s: float = Field(default=0.5, gt=0)


class Timeline(_Model):
    """Offsets in minutes from T0 (negative before). Later issues execute these steps."""

    freeze_at_min: float = Field(default=-30, le=0)
    war_room_at_min: float = Field(default=-20, le=0)
    preflight_at_min: float = Field(default=-10, le=0)
    blast_radius: BlastRadius = BlastRadius()
    first_night_h: float = Field(default=24, ge=0)
    checkin_every_min: float = Field(default=60, gt=0)
    lift_freeze_after_rollback: bool = True
    rollback_on_fast_burn: bool = True
    slo_target_pct: float = Field(default=99.9, gt=0, lt=100)
    burn_rate_24h_max: float = Field(default=1.5, gt=0)
    slo_error_ratio_query: str = Field(
        default_factory=default_slo_error_ratio_query,
        min_length=1,
        description="PromQL error ratio (0..1) for the SLO burn rate; $window is each burn window",
    )

    @model_validator(mode="after")
    def _order(self) -> Timeline:
        if not self.freeze_at_min <= self.war_room_at_min <= self.preflight_at_min <= 0:
            raise ValueError("freeze, war room and preflight must come in that order, before T0")
        return self


# --------------------------------------------------------------------------- war room, preflight


class Preflight(_Model):
    artifact_url: HttpUrlText | None = None
    canary_health_url: HttpUrlText | None = None
    backup_check_command: str | None = None
    backup_check_url: HttpUrlText | None = None
    backup_max_age_h: float = Field(default=24, gt=0)
    schema_change_at: str | None = Field(default=None, description="ISO time of a planned schema change")
    alert_rules: tuple[str, ...] = Field(
        default=(), description="alerting rules that must be loaded; empty: any rule with alert_source labels"
    )
    timeout_s: float = Field(default=10, gt=0, description="per-check timeout (HTTP, backup command)")


# --------------------------------------------------------------------------- the plan


def _labels_and_service(data: dict[str, Any]) -> tuple[MetricLabels | None, str]:
    """The plan's `metrics_source.labels` and `release.service` (defaults where absent); None for
    labels that do not validate."""
    source, release = data.get("metrics_source"), data.get("release")
    raw = source.get("labels") if isinstance(source, dict) else getattr(source, "labels", None)
    service = release.get("service") if isinstance(release, dict) else getattr(release, "service", None)
    try:
        labels = raw if isinstance(raw, MetricLabels) else MetricLabels.model_validate(raw or {})
    except ValueError:
        labels = None
    return labels, service if isinstance(service, str) and service else Release().service



class Plan(_Model):
    release: Release = Release()
    stages: tuple[Stage, ...] = Field(default_factory=default_stages)
    gates: dict[str, Gate] = Field(default_factory=default_gates)
    requests_query: TrackQueries = Field(default_factory=default_requests_query)
    decision: DecisionRules = DecisionRules()
    timeline: Timeline = Timeline()
    market: Market = Market()
    freeze: FreezeRules = FreezeRules()
    war_room: WarRoom = WarRoom()
    team: TeamSettings = TeamSettings()  # team mode: caps on canaries at once
    preflight: Preflight = Preflight()
    traffic_router: TrafficRouterSettings = Field(default_factory=LocalProxyRouterSettings)
    metrics_source: MetricsSourceSettings = Field(default_factory=PrometheusSettings)
    alert_source: AlertSourceSettings = AlertSourceSettings()
    notifications: NotificationSettings = NotificationSettings()
    communications: CommunicationsSettings = CommunicationsSettings()  # Slack war room, pager, deployments
    evidence_dir: str = "evidence"
    state: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite beside evidence")

    @model_validator(mode="before")
    @classmethod
    def _queries_from_labels(cls, data: Any) -> Any:
        """Queries the plan leaves out (gates, requests_query, the SLO error ratio) are the default
        ones, selecting the series with `metrics_source.labels` and `release.service`."""
        if not isinstance(data, dict):
            return data
        labels, service = _labels_and_service(data)
        if labels is None:
            return data  # a bad labels section: reported by its own validation
        out = dict(data)
        if "gates" not in out:
            out["gates"] = default_gates(labels, service)
        if "requests_query" not in out:
            out["requests_query"] = default_requests_query(labels, service)
        timeline = out.get("timeline")
        slo = default_slo_error_ratio_query(labels, service)
        if timeline is None:
            out["timeline"] = {"slo_error_ratio_query": slo}
        elif isinstance(timeline, dict) and "slo_error_ratio_query" not in timeline:
            out["timeline"] = {**timeline, "slo_error_ratio_query": slo}
        elif isinstance(timeline, Timeline) and "slo_error_ratio_query" not in timeline.model_fields_set:
            out["timeline"] = timeline.model_copy(update={"slo_error_ratio_query": slo})
        return out

    @field_validator("stages")
    @classmethod
    def _stages(cls, v: tuple[Stage, ...]) -> tuple[Stage, ...]:
        if not v:
            raise ValueError("at least one stage is needed")
        for a, b in zip(v, v[1:], strict=False):
            if b.weight <= a.weight:
                raise ValueError(f"weights must increase ({a.weight:g} then {b.weight:g})")
        if v[-1].weight != 100:
            raise ValueError(f"the last stage must be 100 %, not {v[-1].weight:g}")
        return v

    @field_validator("gates")
    @classmethod
    def _gates(cls, v: dict[str, Gate]) -> dict[str, Gate]:
        if not v:
            raise ValueError("at least one gate metric is needed")
        for name in v:
            if not GATE_NAME.match(name):
                raise ValueError(f"'{name}' is not a metric name (lower case, digits, _)")
        return v

    @property
    def gate_names(self) -> tuple[str, ...]:
        return tuple(self.gates)

    def stage_starts_min(self) -> tuple[float, ...]:
        """Nominal start of each stage, minutes after T0."""
        starts, at = [], 0.0
        for s in self.stages:
            starts.append(at)
            at += s.hold_min
        return tuple(starts)

    @property
    def nominal_duration_min(self) -> float:
        """T0 to the end of the last stage's hold (T+90 for the default plan)."""
        return sum(s.hold_min for s in self.stages)
