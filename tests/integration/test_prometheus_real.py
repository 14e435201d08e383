"""PrometheusMetricsSource against a real Prometheus scraping a prometheus_client exporter."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from runofshow.adapters.prometheus import PrometheusMetricsSource
from runofshow.domain.connections import PrometheusSettings
from runofshow.domain.plan import Plan
from runofshow.domain.rules import Gate, TrackQueries
from runofshow.domain.tick import TrackSample
from tests.helpers import wait_until
from tests.integration.services import PrometheusServer

WINDOW_S = 10


def _numbers(sample: TrackSample | None) -> bool:
    return sample is not None and sample.requests is not None and all(
        v is not None and math.isfinite(v) for v in sample.values.values())


@pytest.fixture(scope="module")
def source(spark_prometheus: PrometheusServer) -> Iterator[PrometheusMetricsSource]:
    plan = Plan()
    gates = {**plan.gates, "absent": Gate(threshold=1, query=TrackQueries(
        baseline='max(no_such_metric{track="baseline"})', canary='max(no_such_metric{track="canary"})'))}
    src = PrometheusMetricsSource(PrometheusSettings(url=spark_prometheus.url), gates, plan.requests_query)
    yield src
    src.close()


def test_default_plan_queries_are_numbers_for_both_tracks(source: PrometheusMetricsSource) -> None:
    def observed() -> tuple[TrackSample | None, TrackSample | None] | None:
        baseline, canary = source.observe(datetime.now(UTC), WINDOW_S)
        ok = all(_numbers(TrackSample({k: v for k, v in s.values.items() if k != "absent"}, s.requests))
                 for s in (baseline, canary) if s is not None)
        return (baseline, canary) if ok else None

    baseline, canary = wait_until(observed, timeout=60, interval=0.5, what="every default gate to have data")
    assert baseline is not None and canary is not None
    assert baseline.values["absent"] is None and canary.values["absent"] is None  # NoData, never 0
    assert 35 <= baseline.values["http_p95_ms"] <= 55  # 40 ms observations, 50 ms bucket
    assert 45 <= canary.values["http_p95_ms"] <= 100  # 60 ms observations, 100 ms bucket
    assert 0.5 <= baseline.values["http_5xx_pct"] <= 5  # 1 in 50 requests is a 500
    assert baseline.values["ws_lag_s"] == 0.5 and canary.values["pgbouncer_pool_util_pct"] == 20
    assert baseline.requests > canary.requests > 0  # type: ignore[operator]


def test_window_is_passed_as_a_duration(source: PrometheusMetricsSource) -> None:
    short = source.observe(datetime.now(UTC), 0.2)  # 1s: too short for rate(), so NoData, not 0
    assert short[0] is not None and short[0].values["http_5xx_pct"] is None


def test_query_range_for_reports(source: PrometheusMetricsSource) -> None:
    def points() -> list[tuple[datetime, float | None]]:
        end = datetime.now(UTC)
        got = source.query_range("http_p95_ms", "canary", end - timedelta(seconds=4), end, 1, WINDOW_S)
        return got if len(got) == 5 else []

    got = wait_until(points, timeout=30, interval=0.5, what="5 one-second points of canary p95")
    assert all(t.tzinfo is not None and v is not None and v > 0 for t, v in got)


def test_observe_latency(source: PrometheusMetricsSource) -> None:
    started = time.perf_counter()
    for _ in range(5):
        source.observe(datetime.now(UTC), WINDOW_S)
    per_tick = (time.perf_counter() - started) / 5
    print(f"observe(): {per_tick * 1000:.1f} ms per tick for 14 instant queries")
    assert per_tick < 2.0
