"""The plan: one validated description of a canary release's run-of-show. Here: the release, its
timeline, war room, team caps and preflight; the stages, gates and decision rules (the decision
engine's part) are in `runofshow.domain.rules`; the market windows are in
`runofshow.domain.market`, the freeze rules in `runofshow.domain.freeze`, and the settings for the
outside systems a run talks to (router, metrics, alerts, notifications) in
`runofshow.domain.connections`.

Pure data. `Plan.model_validate(dict)` checks everything that can be checked without I/O;
reading YAML and turning validation errors into `file: field: problem` lines lives in
`runofshow.app.plan_file`.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

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
from runofshow.domain.model import FrozenModel
from runofshow.domain.rules import (
    DecisionRules,
    Gate,
    Stage,
    TrackQueries,
    default_gates,
    default_requests_query,
    default_slo_error_ratio_query,
    default_stages,
)
from runofshow.domain.team import TeamSettings
from runofshow.domain.war_room import WarRoom

GATE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
VERSION = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")


# --------------------------------------------------------------------------- release


class Release(FrozenModel):
    name: str = Field(default="spark-trading", min_length=1)
    version: str = "v1.4.0"
    service: str = Field(default="spark-trading", min_length=1)

    @field_validator("version")
    @classmethod
    def _version(cls, v: str) -> str:
        if not VERSION.match(v):
            raise ValueError(f"'{v}' is not a version like v1.4.0")
        return v


# --------------------------------------------------------------------------- timeline


class BlastRadius(FrozenModel):
    url: HttpUrlText | None = None
    seconds: float = Field(default=30, gt=0)
    rate: float = Field(default=50, gt=0)
    concurrency: int = Field(default=50, ge=1)
    success_min_pct: float = Field(default=95, ge=0, le=100)
    p95_max_s: float = Field(default=0.5, gt=0)


class Timeline(FrozenModel):
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


class Preflight(FrozenModel):
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



class Plan(FrozenModel):
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


__all__ = ["VERSION", "BlastRadius", "Plan", "Preflight", "Release", "Timeline"]
