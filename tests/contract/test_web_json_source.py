"""WebJsonMetricsSource against a local HTTP server answering plain JSON documents."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from runofshow.adapters.web_json import WebJsonMetricsSource, json_path, number
from runofshow.domain.connections import JsonEndpoint, WebJsonMetric, WebJsonSettings
from runofshow.errors import MetricsUnavailableError
from runofshow.loopback import free_port
from runofshow.ports import MetricsSource
from tests.helpers import Reply, StubServer

AT = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)
DOC = {"data": {"p95_ms": 212.5, "errors": None, "label": "12", "flag": True, "nan": "NaN",
                "series": [{"value": 3}, {"value": 4}], "requests": 1200}}


@pytest.fixture
def web() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


def metric(url: str, path: str, canary_path: str | None = None) -> WebJsonMetric:
    return WebJsonMetric(baseline=JsonEndpoint(url=f"{url}/baseline", path=path),
                         canary=JsonEndpoint(url=f"{url}/canary", path=canary_path or path))


def test_json_path_and_number() -> None:
    assert json_path(DOC, "data.series.1.value") == 4
    assert json_path(DOC, "data.series.-1.value") == 4
    assert json_path(DOC, "data.series.9.value") is None
    assert json_path(DOC, "data.missing.deeper") is None
    assert json_path(DOC, "data.p95_ms.x") is None
    assert [number(v) for v in (1, 2.5, None, True, "12", float("nan"), float("inf"))] == [
        1.0, 2.5, None, None, None, None, None]


def test_paths_per_track_and_missing_values_are_none(web: StubServer) -> None:
    web.route("GET", "/baseline", Reply(200, DOC))
    web.route("GET", "/canary", Reply(200, {"data": {"p95_ms": 250, "requests": 40}}))
    settings = WebJsonSettings(metrics={
        "http_p95_ms": metric(web.url, "data.p95_ms"),
        "http_5xx_pct": metric(web.url, "data.errors"),
        "label": metric(web.url, "data.label"),
        "flag": metric(web.url, "data.flag"),
        "third": metric(web.url, "data.series.0.value", "data.series.0.value"),
        "requests": metric(web.url, "data.requests"),
    })
    src = WebJsonMetricsSource(settings)
    assert isinstance(src, MetricsSource)
    baseline, canary = src.observe(AT, 60)
    assert baseline is not None and canary is not None
    assert baseline.values == {"http_p95_ms": 212.5, "http_5xx_pct": None, "label": None, "flag": None,
                               "third": 3.0}
    assert baseline.requests == 1200
    assert canary.values == {"http_p95_ms": 250.0, "http_5xx_pct": None, "label": None, "flag": None,
                             "third": None}
    assert canary.requests == 40
    assert sorted(r.path for r in web.requests) == ["/baseline", "/canary"]  # one fetch per URL per tick
    src.close()


def test_unreachable_or_non_json_raises(web: StubServer) -> None:
    web.route("GET", "/baseline", Reply(200, "not json"))
    src = WebJsonMetricsSource(WebJsonSettings(metrics={"m": metric(web.url, "a")}), backoff_s=0.01)
    with pytest.raises(MetricsUnavailableError, match="not JSON"):
        src.observe(AT, 60)
    web.route("GET", "/baseline", Reply(500, "boom"))
    with pytest.raises(MetricsUnavailableError, match="HTTP 500"):
        src.observe(AT, 60)
    src.close()
    dead = f"http://127.0.0.1:{free_port()}"
    src = WebJsonMetricsSource(WebJsonSettings(metrics={"m": metric(dead, "a")}), retries=1, backoff_s=0.01)
    with pytest.raises(MetricsUnavailableError, match="ConnectError"):
        src.observe(AT, 60)
    src.close()
