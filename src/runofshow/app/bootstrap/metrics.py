"""The composition root's metrics part: the plan's metrics source (plan.metrics_source.kind:
prometheus, web_json) and the first night's SLO error ratio on it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from runofshow.app import settings
from runofshow.app.run.first_night import ErrorRatio
from runofshow.domain.plan import Plan
from runofshow.ports import MetricsSource

#: Prometheus needs two scrapes inside a rate() window; compressed runs never ask for less
PROMETHEUS_MIN_WINDOW_S = 5.0


def build_metrics(plan: Plan, environ: Mapping[str, str]) -> MetricsSource:
    s = plan.metrics_source
    if s.kind == "prometheus":
        from runofshow.adapters.prometheus import PrometheusMetricsSource

        return PrometheusMetricsSource(s, plan.gates, plan.requests_query,
                                       settings.prometheus_credentials(s, environ))
    from runofshow.adapters.web_json import WebJsonMetricsSource

    return WebJsonMetricsSource(s)


def error_ratio(plan: Plan, metrics: MetricsSource) -> ErrorRatio | None:
    """timeline.slo_error_ratio_query on the run's own Prometheus source; None without one."""
    from runofshow.adapters.prometheus import PrometheusMetricsSource

    if not isinstance(metrics, PrometheusMetricsSource):
        return None
    query = plan.timeline.slo_error_ratio_query

    def ratio(window: str, wall_s: float, at: datetime) -> float | None:
        return metrics.client.instant(metrics.render(query, wall_s), at)

    return ratio


__all__ = ["PROMETHEUS_MIN_WINDOW_S", "build_metrics", "error_ratio"]
