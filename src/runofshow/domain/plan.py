"""The plan: one validated description of a canary release's run-of-show.

Pure data. `Plan.model_validate(dict)` checks everything that can be checked without I/O;
reading YAML and turning validation errors into `file: field: problem` lines lives in
`runofshow.app.plan_file`.
"""

from __future__ import annotations

import re
from datetime import time
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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


def _q(expr: str) -> TrackQueries:
    return TrackQueries(
        baseline=expr.replace("TRACK", "baseline"), canary=expr.replace("TRACK", "canary")
    )


def default_gates() -> dict[str, Gate]:
    """The six gates of the run-of-show, with queries for the demo's (and a typical) exporter."""
    sel = 'service="spark-trading",track="TRACK"'
    reqs = f"sum(rate(http_requests_total{{{sel}}}[$window]))"
    return {
        "http_p95_ms": Gate(
            unit="ms", kind=GateKind.LATENCY, threshold=300, short="p95",
            query=_q(
                "1000 * histogram_quantile(0.95, sum by (le) "
                f"(rate(http_request_duration_seconds_bucket{{{sel}}}[$window])))"
            ),
        ),
        "http_5xx_pct": Gate(
            unit="%", kind=GateKind.RATE, threshold=1.0, short="5xx",
            query=_q(f'100 * sum(rate(http_requests_total{{{sel},code=~"5.."}}[$window])) / {reqs}'),
        ),
        "ws_lag_s": Gate(
            unit="s", kind=GateKind.GAUGE, threshold=30, short="ws",
            query=_q(f"max(ws_message_lag_seconds{{{sel}}})"),
        ),
        "idempotency_conflict_pct": Gate(
            unit="%", kind=GateKind.RATE, threshold=1.0, short="idemp",
            query=_q(f"100 * sum(rate(idempotency_conflicts_total{{{sel}}}[$window])) / {reqs}"),
        ),
        "csp_violations": Gate(
            unit="per tick", kind=GateKind.COUNT, threshold=10, short="csp",
            query=_q(f"sum(increase(csp_violation_reports_total{{{sel}}}[$window]))"),
        ),
        "pgbouncer_pool_util_pct": Gate(
            unit="%", kind=GateKind.GAUGE, threshold=80, short="pool",
            query=_q(
                f"100 * max(pgbouncer_pool_active_connections{{{sel}}}) "
                f"/ max(pgbouncer_pool_max_connections{{{sel}}})"
            ),
        ),
    }


def default_requests_query() -> TrackQueries:
    return _q('sum(increase(http_requests_total{service="spark-trading",track="TRACK"}[$window]))')


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
    url: str | None = None
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
        default=(
            'sum(rate(http_requests_total{service="spark-trading",code=~"5.."}[$window]))'
            ' / sum(rate(http_requests_total{service="spark-trading"}[$window]))'
        ),
        min_length=1,
        description="PromQL error ratio (0..1) for the SLO burn rate; $window is each burn window",
    )

    @model_validator(mode="after")
    def _order(self) -> Timeline:
        if not self.freeze_at_min <= self.war_room_at_min <= self.preflight_at_min <= 0:
            raise ValueError("freeze, war room and preflight must come in that order, before T0")
        return self


# --------------------------------------------------------------------------- market, freeze


def _hhmm(v: str) -> str:
    try:
        time.fromisoformat(v)
    except ValueError:
        raise ValueError(f"'{v}' is not a time like 09:30") from None
    return v


HHMM = Annotated[str, Field(pattern=r"^\d{2}:\d{2}$")]


class DailyWindow(_Model):
    start: HHMM
    end: HHMM

    @field_validator("start", "end")
    @classmethod
    def _t(cls, v: str) -> str:
        return _hhmm(v)

    @model_validator(mode="after")
    def _order(self) -> DailyWindow:
        if time.fromisoformat(self.start) >= time.fromisoformat(self.end):
            raise ValueError("start must be before end")
        return self

    @property
    def start_time(self) -> time:
        return time.fromisoformat(self.start)

    @property
    def end_time(self) -> time:
        return time.fromisoformat(self.end)


def _zone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{v}'") from None
    return v


class Market(_Model):
    calendar: str = Field(default="XIST", min_length=1)
    timezone: str = "Europe/Istanbul"
    hours: DailyWindow = DailyWindow(start="09:30", end="18:00")
    dst_watch_zones: tuple[str, ...] = ("Europe/Istanbul", "Europe/London", "America/New_York")
    dst_morning_window: DailyWindow = DailyWindow(start="06:00", end="10:00")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return _zone(v)

    @field_validator("dst_watch_zones")
    @classmethod
    def _zones(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_zone(z) for z in v)


class ChangeClass(StrEnum):
    HOTFIX = "hotfix"
    CANARY_ROLLBACK = "canary_rollback"
    MONITORING = "monitoring"
    DOCUMENTATION = "documentation"
    SCHEMA_MIGRATION = "schema_migration"
    FEATURE = "feature"
    DEPENDENCY_UPDATE = "dependency_update"
    REFACTORING = "refactoring"


class FreezeRules(_Model):
    label: str = "hold-for-canary"
    allowed: tuple[ChangeClass, ...] = (
        ChangeClass.HOTFIX, ChangeClass.CANARY_ROLLBACK, ChangeClass.MONITORING,
        ChangeClass.DOCUMENTATION,
    )
    blocked: tuple[ChangeClass, ...] = (
        ChangeClass.SCHEMA_MIGRATION, ChangeClass.FEATURE, ChangeClass.DEPENDENCY_UPDATE,
        ChangeClass.REFACTORING,
    )
    labels: dict[ChangeClass, tuple[str, ...]] = Field(
        default_factory=lambda: {
            ChangeClass.HOTFIX: ("hotfix", "critical", "security"),
            ChangeClass.CANARY_ROLLBACK: ("canary-rollback", "rollback"),
            ChangeClass.MONITORING: ("monitoring", "alerts"),
            ChangeClass.DOCUMENTATION: ("documentation", "docs"),
            ChangeClass.SCHEMA_MIGRATION: ("migration", "schema"),
            ChangeClass.DEPENDENCY_UPDATE: ("dependencies",),
            ChangeClass.REFACTORING: ("refactor", "refactoring"),
            ChangeClass.FEATURE: ("feature", "enhancement"),
        }
    )
    paths: dict[ChangeClass, tuple[str, ...]] = Field(
        default_factory=lambda: {
            ChangeClass.SCHEMA_MIGRATION: (
                "**/migrations/**", "**/migrate/**", "**/alembic/**", "**/*.sql", "db/schema*",
            ),
            ChangeClass.DEPENDENCY_UPDATE: (
                "**/requirements*.txt", "**/poetry.lock", "**/Pipfile.lock", "**/package-lock.json",
                "**/yarn.lock", "**/go.sum", "**/Cargo.lock", "**/uv.lock", "**/pyproject.toml",
                "**/package.json", "**/go.mod",
            ),
            ChangeClass.MONITORING: (
                "**/alerts/**", "**/*.rules.yml", "**/*.rules.yaml", "**/prometheus/**",
                "**/grafana/**", "**/dashboards/**",
            ),
            ChangeClass.DOCUMENTATION: ("**/*.md", "docs/**", "**/*.rst", "**/*.txt"),
        }
    )
    titles: dict[ChangeClass, tuple[str, ...]] = Field(
        default_factory=lambda: {
            ChangeClass.CANARY_ROLLBACK: (r"^revert\b", r"\broll ?back\b"),
            ChangeClass.HOTFIX: (r"\bhot ?fix\b", r"\bcve-\d{4}-\d+"),
            ChangeClass.SCHEMA_MIGRATION: (r"\bmigrations?\b", r"\balter table\b"),
            ChangeClass.DEPENDENCY_UPDATE: (
                r"^(build|chore)\(deps", r"^deps?[(:]", r"\bbump \S+ from \S+ to\b",
            ),
            ChangeClass.REFACTORING: (r"^refactor\b", r"\brefactor(ing)?\b"),
            ChangeClass.MONITORING: (r"^(monitoring|alerts?)[(:]", r"\balert rules?\b"),
            ChangeClass.DOCUMENTATION: (r"^docs?[(:]",),
            ChangeClass.FEATURE: (r"^feat\b",),
        },
        description="case-insensitive regular expressions searched in the PR title",
    )

    @field_validator("titles")
    @classmethod
    def _regexes(cls, v: dict[ChangeClass, tuple[str, ...]]) -> dict[ChangeClass, tuple[str, ...]]:
        for patterns in v.values():
            for pat in patterns:
                try:
                    re.compile(pat)
                except re.error as err:
                    raise ValueError(f"'{pat}' is not a regular expression: {err}") from None
        return v

    @model_validator(mode="after")
    def _disjoint(self) -> FreezeRules:
        both = set(self.allowed) & set(self.blocked)
        if both:
            raise ValueError(f"{', '.join(sorted(both))} cannot be both allowed and blocked")
        return self


# --------------------------------------------------------------------------- adapters' settings


class LocalProxyRouter(_Model):
    kind: Literal["local_proxy"] = "local_proxy"
    listen: str = "127.0.0.1:8080"
    stable_url: str = "http://127.0.0.1:8081"
    canary_url: str = "http://127.0.0.1:8082"
    admin_url: str | None = None
    timeout_s: float = Field(default=5.0, gt=0, description="per admin request")
    retries: int = Field(default=3, ge=1, description="attempts per admin request")


class IngressNginxRouter(_Model):
    kind: Literal["ingress_nginx"] = "ingress_nginx"
    namespace: str = "default"
    ingress: str = Field(default="spark-trading-canary", description="the canary Ingress")
    stable_ingress: str = "spark-trading"
    create_canary_ingress: bool = False
    canary_service: str | None = None
    canary_service_port: int = 80
    kubeconfig: str | None = None
    context: str | None = None
    timeout_s: float = Field(default=10.0, gt=0, description="per Kubernetes API request")


class NginxFileRouter(_Model):
    kind: Literal["nginx_file"] = "nginx_file"
    config_path: str = "/etc/nginx/conf.d/runofshow-canary.conf"
    stable_servers: tuple[str, ...] = ("127.0.0.1:8081",)
    canary_servers: tuple[str, ...] = ("127.0.0.1:8082",)
    listen: str = "127.0.0.1:8080"
    nginx_bin: str = "nginx"
    nginx_conf: str | None = Field(default=None, description="main nginx.conf for nginx -t / -s reload")
    nginx_prefix: str | None = Field(default=None, description="nginx -p for nginx -t / -s reload")
    nginx_error_log: str | None = Field(default=None, description="nginx -e for nginx -t / -s reload")
    split_key: str = Field(default="${remote_addr}${request_id}", description="split_clients key")
    command_timeout_s: float = Field(default=30.0, gt=0)


class FlagApiRouter(_Model):
    kind: Literal["flag_api"] = "flag_api"
    url: str = "http://localhost:4001/api/features/rollout"
    feature: str = "v1.4.0"
    read_url: str | None = Field(default=None, description="GET endpoint returning the percentage")
    read_json_path: str = "percentage"
    token_env: str | None = None
    timeout_s: float = Field(default=5.0, gt=0, description="per request")
    retries: int = Field(default=3, ge=1, description="attempts per request (transport errors, 429, 5xx)")
    backoff_s: float = Field(default=0.2, ge=0, description="first wait between attempts; doubles")


class MemoryRouter(_Model):
    """In-memory router for dry runs and tests."""

    kind: Literal["memory"] = "memory"


TrafficRouter = Annotated[
    LocalProxyRouter | IngressNginxRouter | NginxFileRouter | FlagApiRouter | MemoryRouter,
    Field(discriminator="kind"),
]


class PrometheusSource(_Model):
    kind: Literal["prometheus"] = "prometheus"
    url: str = "http://127.0.0.1:9090"
    timeout_s: float = Field(default=5, gt=0)
    retries: int = Field(default=3, ge=0)
    bearer_token_env: str | None = None
    basic_user_env: str | None = None
    basic_password_env: str | None = None


class JsonEndpoint(_Model):
    url: str
    path: str = Field(description="dotted JSON path, e.g. data.p95_ms")


class WebJsonMetric(_Model):
    baseline: JsonEndpoint
    canary: JsonEndpoint


class WebJsonSource(_Model):
    kind: Literal["web_json"] = "web_json"
    timeout_s: float = Field(default=5, gt=0)
    metrics: dict[str, WebJsonMetric] = Field(default_factory=dict)


MetricsSourceSettings = Annotated[PrometheusSource | WebJsonSource, Field(discriminator="kind")]


class AlertSource(_Model):
    match_labels: dict[str, str] = Field(default_factory=lambda: {"auto_rollback": "true"})
    webhook_listen: str | None = Field(default=None, description="host:port for Alertmanager webhooks")
    webhook_token_env: str = "RUNOFSHOW_WEBHOOK_TOKEN"
    poll_prometheus: bool = True


class Notifications(_Model):
    deploys_channel: str = "#spark-deploys"
    war_room_channel: str = "#spark-warroom-v140"
    slack_webhook_url_env: str | None = "SLACK_WEBHOOK_URL"
    webhook_url: str | None = None
    grafana_url: str | None = None
    grafana_token_env: str = "GRAFANA_TOKEN"
    grafana_dashboard_uid: str = "risk-idempotency-pitr"


class WarRoom(_Model):
    incident_commanders: tuple[str, ...] = ("ic-on-call",)

    @field_validator("incident_commanders")
    @classmethod
    def _some(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("name at least one incident commander")
        return v


class Preflight(_Model):
    artifact_url: str | None = None
    canary_health_url: str | None = None
    backup_check_command: str | None = None
    backup_check_url: str | None = None
    backup_max_age_h: float = Field(default=24, gt=0)
    schema_change_at: str | None = Field(default=None, description="ISO time of a planned schema change")
    alert_rules: tuple[str, ...] = Field(
        default=(), description="alerting rules that must be loaded; empty: any rule with alert_source labels"
    )
    timeout_s: float = Field(default=10, gt=0, description="per-check timeout (HTTP, backup command)")


# --------------------------------------------------------------------------- the plan


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
    preflight: Preflight = Preflight()
    traffic_router: TrafficRouter = Field(default_factory=LocalProxyRouter)
    metrics_source: MetricsSourceSettings = Field(default_factory=PrometheusSource)
    alert_source: AlertSource = AlertSource()
    notifications: Notifications = Notifications()
    evidence_dir: str = "evidence"
    state: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite beside evidence")

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
