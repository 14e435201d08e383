"""metrics_source.labels: the label names (and track values) the default queries select with
(issue 10 item 7). Defaults keep today's queries; other names reach every default query."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from runofshow.domain.connections import MetricLabels, PrometheusSettings
from runofshow.domain.plan import Plan

APP_VERSION = {"service": "app", "track": "version", "canary": "v1.4.0", "baseline": "v1.3.9"}


def all_queries(plan: Plan) -> list[str]:
    out = [plan.timeline.slo_error_ratio_query, plan.requests_query.baseline, plan.requests_query.canary]
    for gate in plan.gates.values():
        assert gate.query is not None
        out += [gate.query.baseline, gate.query.canary]
    return out


def test_the_default_labels_keep_the_default_queries() -> None:
    plan = Plan()
    assert plan.metrics_source.kind == "prometheus"
    assert plan.metrics_source.labels == MetricLabels(service="service", track="track", canary="canary",
                                                      baseline="baseline")
    assert plan.gates["ws_lag_s"].query is not None
    assert plan.gates["ws_lag_s"].query.canary == 'max(ws_message_lag_seconds{service="spark-trading",track="canary"})'
    assert plan.timeline.slo_error_ratio_query == (
        'sum(rate(http_requests_total{service="spark-trading",code=~"5.."}[$window]))'
        ' / sum(rate(http_requests_total{service="spark-trading"}[$window]))')


def test_other_label_names_reach_every_default_query() -> None:
    plan = Plan.model_validate({"release": {"service": "spark"},
                                "metrics_source": {"kind": "prometheus", "labels": APP_VERSION}})
    queries = all_queries(plan)
    assert all('app="spark"' in q for q in queries)
    assert not any("service=" in q or "track=" in q for q in queries)
    assert plan.requests_query.canary == 'sum(increase(http_requests_total{app="spark",version="v1.4.0"}[$window]))'
    assert plan.gates["http_5xx_pct"].query is not None
    assert 'version="v1.3.9",code=~"5.."' in plan.gates["http_5xx_pct"].query.baseline


def test_labels_given_as_settings_objects_count_too() -> None:
    plan = Plan(metrics_source=PrometheusSettings(labels=MetricLabels(**APP_VERSION)))
    assert plan.requests_query.baseline == (
        'sum(increase(http_requests_total{app="spark-trading",version="v1.3.9"}[$window]))')


def test_queries_the_plan_writes_out_are_kept() -> None:
    plan = Plan.model_validate({
        "metrics_source": {"kind": "prometheus", "labels": APP_VERSION},
        "requests_query": {"baseline": "b", "canary": "c"},
        "timeline": {"slo_error_ratio_query": "my_ratio"},
        "gates": {"x": {"threshold": 1, "query": {"baseline": "qb", "canary": "qc"}}},
    })
    assert plan.requests_query.canary == "c" and plan.timeline.slo_error_ratio_query == "my_ratio"
    assert list(plan.gates) == ["x"]


@pytest.mark.parametrize("name", ["my-label", "1track", "", "app version"])
def test_label_names_must_be_prometheus_label_names(name: str) -> None:
    with pytest.raises(ValidationError, match="is not a Prometheus label name"):
        MetricLabels(track=name)


def test_label_values_are_quoted_for_promql() -> None:
    labels = MetricLabels(canary='v1"x\\y')
    assert labels.selector("svc", "canary") == 'service="svc",track="v1\\"x\\\\y"'
