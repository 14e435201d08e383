"""PrometheusMetricsSource / PrometheusAlertFeed against a local HTTP server answering real
Prometheus 2.42 response shapes (recorded in prometheus_responses.json)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runofshow.adapters.prometheus import (
    PrometheusAlertFeed,
    PrometheusMetricsSource,
    alert_rules_loaded,
    prometheus_duration,
)
from runofshow.domain.connections import PrometheusCredentials, PrometheusSettings
from runofshow.domain.rules import Gate, TrackQueries, default_gates, default_requests_query
from runofshow.errors import MetricsUnavailableError
from runofshow.loopback import free_port
from runofshow.ports import AlertFeed, MetricsSource
from tests.helpers import Recorded, Reply, StubServer

RECORDED: dict[str, Any] = json.loads((Path(__file__).parent / "prometheus_responses.json").read_text())
AT = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)


def recorded(name: str) -> Reply:
    return Reply(RECORDED[name]["status"], RECORDED[name]["body"])


def gate(baseline: str, canary: str) -> Gate:
    return Gate(threshold=1, query=TrackQueries(baseline=baseline, canary=canary))


@pytest.fixture
def prom() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


def source(server: StubServer, gates: dict[str, Gate], requests: TrackQueries | None = None,
           credentials: PrometheusCredentials | None = None, **settings: Any) -> PrometheusMetricsSource:
    s = PrometheusSettings(url=server.url, **{"retries": 2, "timeout_s": 2, **settings})
    return PrometheusMetricsSource(s, gates, requests, credentials, backoff_s=0.01)


def by_query(answers: dict[str, str]) -> Any:
    def respond(rec: Recorded) -> Reply:
        return recorded(answers[rec.query["query"][0]])
    return respond


def test_window_becomes_a_whole_second_prometheus_duration() -> None:
    assert [prometheus_duration(w) for w in (60, 59.6, 0.2, 0, 90.4)] == ["60s", "60s", "1s", "1s", "90s"]


def test_vector_scalar_empty_nan_inf_and_error_shapes(prom: StubServer) -> None:
    prom.route("GET", "/api/v1/query", by_query({
        "q_vector": "vector", "q_scalar": "scalar", "q_empty": "empty", "q_nan": "nan", "q_inf": "inf",
        "q_error": "bad_data", "q_multi": "vector_multi", "q_timeout": "timeout",
    }))
    gates = {"a": gate("q_vector", "q_scalar"), "b": gate("q_empty", "q_nan"), "c": gate("q_inf", "q_error"),
             "d": gate("q_multi", "q_timeout")}
    src = source(prom, gates)
    assert isinstance(src, MetricsSource)
    baseline, canary = src.observe(AT, 60)
    assert baseline is not None and canary is not None
    assert baseline.values == {"a": 48.75, "b": None, "c": None, "d": None}
    assert canary.values == {"a": 2.5, "b": None, "c": None, "d": None}
    assert baseline.requests is None and canary.requests is None
    src.close()


def test_default_plan_queries_get_window_and_time(prom: StubServer) -> None:
    prom.route("GET", "/api/v1/query", recorded("vector"))
    src = source(prom, default_gates(), default_requests_query())
    baseline, canary = src.observe(AT, 59.7)
    assert baseline is not None and canary is not None
    assert set(baseline.values) == set(default_gates()) and baseline.requests == 48.75
    queries = [r.query["query"][0] for r in prom.requests]
    assert len(queries) == 2 * (len(default_gates()) + 1)
    assert all("$window" not in q for q in queries)
    assert sum('track="canary"' in q for q in queries) == len(default_gates()) + 1
    assert 'sum(increase(http_requests_total{service="spark-trading",track="canary"}[60s]))' in queries
    assert {r.query["time"][0] for r in prom.requests} == {f"{AT.timestamp():.3f}"}
    src.close()


def test_query_range_returns_points(prom: StubServer) -> None:
    prom.route("GET", "/api/v1/query_range", recorded("matrix"))
    src = source(prom, {"rps": gate("b[$window]", "c[$window]")})
    points = src.query_range("rps", "canary", AT - timedelta(seconds=3), AT, 1, 5)
    assert [v for _, v in points] == [13.824000000000002, 24.092, 34.181333333333335, 48.75]
    assert all(t.tzinfo is UTC for t, _ in points)
    (req,) = prom.requests
    assert req.query["query"] == ["c[5s]"] and req.query["step"] == ["1s"]
    src.close()


def test_503_then_success_is_retried(prom: StubServer) -> None:
    prom.route("GET", "/api/v1/query", Reply(503, "upstream unavailable"), Reply(502, "bad gateway"),
               recorded("vector"))
    src = source(prom, {"a": gate("x", "y")})
    baseline, canary = src.observe(AT, 60)
    assert baseline is not None and canary is not None
    assert baseline.values["a"] == 48.75 and canary.values["a"] == 48.75
    assert len(prom.requests) == 4
    src.close()


def test_persistent_non_prometheus_failure_raises_metrics_unavailable(prom: StubServer) -> None:
    prom.route("GET", "/api/v1/query", Reply(503, "<html>maintenance</html>"))
    src = source(prom, {"a": gate("x", "y")}, retries=2)
    pattern = r"^prometheus http://127\.0\.0\.1:\d+/api/v1/query: HTTP 503"
    with pytest.raises(MetricsUnavailableError, match=pattern):
        src.observe(AT, 60)
    assert len(prom.requests) == 3
    src.close()


def test_unreachable_prometheus_raises_after_retries() -> None:
    s = PrometheusSettings(url=f"http://127.0.0.1:{free_port()}", retries=1, timeout_s=1)
    src = PrometheusMetricsSource(s, {"a": gate("x", "y")}, None, backoff_s=0.01)
    with pytest.raises(MetricsUnavailableError, match="ConnectError") as info:
        src.observe(AT, 60)
    assert info.value.adapter == "prometheus" and "\n" not in str(info.value)
    src.close()


def test_slow_prometheus_times_out(prom: StubServer) -> None:
    prom.route("GET", "/api/v1/query", Reply(200, RECORDED["vector"]["body"], delay_s=1.0))
    src = source(prom, {"a": gate("x", "y")}, retries=0, timeout_s=0.2)
    with pytest.raises(MetricsUnavailableError, match="Timeout"):
        src.observe(AT, 60)
    src.close()


def test_bearer_token(prom: StubServer) -> None:
    def respond(rec: Recorded) -> Reply:
        if rec.headers.get("Authorization") != "Bearer s3cret":
            return Reply(401, "Unauthorized")
        return recorded("vector")

    prom.route("GET", "/api/v1/query", respond)
    src = source(prom, {"a": gate("x", "y")}, credentials=PrometheusCredentials(bearer_token="s3cret"))
    assert src.observe(AT, 60)[0].values["a"] == 48.75  # type: ignore[union-attr]
    src.close()
    wrong = source(prom, {"a": gate("x", "y")}, credentials=PrometheusCredentials(bearer_token="nope"))
    with pytest.raises(MetricsUnavailableError, match="HTTP 401"):
        wrong.observe(AT, 60)
    wrong.close()


def test_basic_auth(prom: StubServer) -> None:
    prom.route("GET", "/api/v1/query", recorded("vector"))
    src = source(prom, {"a": gate("x", "y")}, credentials=PrometheusCredentials(basic_auth=("grafana", "pw")))
    src.observe(AT, 60)
    assert prom.requests[0].headers["Authorization"] == "Basic Z3JhZmFuYTpwdw=="
    src.close()


def test_error_status_is_logged_and_none(prom: StubServer, caplog: pytest.LogCaptureFixture) -> None:
    prom.route("GET", "/api/v1/query", recorded("bad_data"))
    src = source(prom, {"a": gate("sum(", "sum(")})
    with caplog.at_level(logging.WARNING, logger="runofshow.adapters.prometheus"):
        baseline, _ = src.observe(AT, 60)
    assert baseline is not None and baseline.values["a"] is None
    assert "bad_data" in caplog.text and "parse error" in caplog.text
    src.close()


def test_alert_feed_returns_matching_firing_alerts(prom: StubServer) -> None:
    body = json.loads(json.dumps(RECORDED["alerts"]["body"]))
    body["data"]["alerts"] += [
        {**body["data"]["alerts"][0], "labels": {"alertname": "Other", "severity": "page"}},
        {**body["data"]["alerts"][0], "state": "pending",
         "labels": {"alertname": "Soon", "auto_rollback": "true"}},
    ]
    prom.route("GET", "/api/v1/alerts", Reply(200, body))
    t0 = datetime(2026, 11, 30, 10, 8, 0, tzinfo=UTC)
    feed = PrometheusAlertFeed(PrometheusSettings(url=prom.url), {"auto_rollback": "true"}, t0_at=t0)
    assert isinstance(feed, AlertFeed)
    (alert,) = feed.firing(AT)
    assert alert.name == "CanaryLagHigh" and alert.labels["severity"] == "page"
    assert alert.fired_t_s == pytest.approx(16.475605)
    feed.close()


def test_alert_rules_loaded_for_preflight(prom: StubServer) -> None:
    prom.route("GET", "/api/v1/rules", recorded("rules"))
    settings = PrometheusSettings(url=prom.url)
    check = alert_rules_loaded(settings, names=["CanaryLagHigh", "Missing"])
    assert check.found == ("CanaryLagHigh",) and check.missing == ("Missing",) and not check.ok
    by_labels = alert_rules_loaded(settings, labels={"auto_rollback": "true"})
    assert by_labels.ok and by_labels.found == ("CanaryLagHigh",)
    assert prom.requests[0].query["type"] == ["alert"]
