"""The demo's sample services, running: they serve, expose exactly the series the plan's gates
query, and each fault moves its gate measurably."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator

import aiohttp
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from runofshow.demo.behaviour import ENDPOINTS, ORDERS, PORTFOLIO, QUOTES, Behaviour
from runofshow.demo.services import SampleService
from runofshow.domain.rules import default_gates, default_requests_query

GATE_KEYS = ("http_p95_ms", "http_5xx_pct", "ws_lag_s", "idempotency_conflict_pct", "csp_violations",
             "pgbouncer_pool_util_pct")


@pytest.fixture
def canary() -> Iterator[SampleService]:
    svc = SampleService("v1.4.0", "canary", seed=11).start()
    yield svc
    svc.stop()


def drive(url: str, n: int, *, concurrency: int = 50) -> list[int]:
    """Send `n` requests (quotes, portfolio, orders) with bounded concurrency; their statuses."""

    async def run() -> list[int]:
        sem = asyncio.Semaphore(concurrency)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:

            async def one(i: int) -> int:
                async with sem:
                    if i % 4 == 3:
                        body = {"symbol": "GARAN", "side": "buy", "qty": 10 + i}
                        ctx = session.post(f"{url}{ORDERS}", json=body,
                                           headers={"Idempotency-Key": str(uuid.uuid4())})
                    else:
                        ctx = session.get(f"{url}{QUOTES if i % 4 < 2 else PORTFOLIO}")
                    async with ctx as resp:
                        await resp.read()
                        return resp.status

            return list(await asyncio.gather(*(one(i) for i in range(n))))

    return asyncio.run(run())


def scrape(svc: SampleService) -> list[tuple[str, dict[str, str], float]]:
    text = httpx.get(f"{svc.url}/metrics", timeout=5).text
    return [(s.name, s.labels, s.value) for fam in text_string_to_metric_families(text) for s in fam.samples]


def histogram_p95_ms(samples: list[tuple[str, dict[str, str], float]]) -> float:
    """histogram_quantile(0.95, ...) the way Prometheus interpolates it."""
    name = "http_request_duration_seconds_bucket"
    buckets = sorted((float(lb["le"]), v) for n, lb, v in samples if n == name)
    rank = 0.95 * buckets[-1][1]
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            return 1000 * (prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count))
        prev_le, prev_count = le, count
    raise AssertionError("rank above the +Inf bucket")


def metrics_json(svc: SampleService, window_s: float = 60) -> dict[str, object]:
    resp = httpx.get(f"{svc.url}/metrics.json", params={"window_s": window_s}, timeout=5)
    assert resp.status_code == 200
    return resp.json()


# ---------------------------------------------------------------------------------------- serving


def test_two_services_start_on_port_zero_and_serve_every_endpoint() -> None:
    with (SampleService("v1.3.7", "baseline", seed=1) as stable,
          SampleService("v1.4.0", "canary", seed=2) as new):
        assert stable.port != new.port and stable.port > 0
        assert stable.url.startswith("http://127.0.0.1:")
        with httpx.Client(timeout=5) as http:
            version = http.get(f"{new.url}/version")
            assert version.json() == {"service": "spark-trading", "version": "v1.4.0", "track": "canary"}
            assert version.headers["X-Canary-Track"] == "canary"
            assert version.headers["X-Service-Version"] == "v1.4.0"
            assert http.get(f"{stable.url}/healthz").json() == {"status": "ok"}
            quotes = http.get(f"{stable.url}{QUOTES}", params={"symbols": "THYAO,ASELS"})
            assert quotes.status_code in (200, 500, 503)
            assert quotes.headers["X-Canary-Track"] == "baseline"
            assert http.get(f"{stable.url}{PORTFOLIO}").status_code in (200, 500, 503)
            report = {"csp-report": {"violated-directive": "script-src", "blocked-uri": "inline"}}
            assert http.post(f"{stable.url}/csp-report", json=report).status_code in (204, 500, 503)
            assert http.get(f"{stable.url}/nope").status_code == 404


def test_stop_is_idempotent_and_the_port_is_released() -> None:
    svc = SampleService("v1.4.0", "canary").start()
    port = svc.port
    svc.stop()
    svc.stop()
    again = SampleService("v1.4.0", "canary", port=port).start()
    assert again.port == port
    again.stop()


def test_orders_are_idempotent_and_conflicts_are_counted(canary: SampleService) -> None:
    order = {"symbol": "THYAO", "side": "buy", "qty": 100}
    with httpx.Client(base_url=canary.url, timeout=5) as http:
        assert http.post(ORDERS, json=order).status_code == 400  # no Idempotency-Key
        key = {"Idempotency-Key": "k-1"}
        first = http.post(ORDERS, json=order, headers=key)
        while first.status_code >= 500:  # the baseline 0.2 % 5xx stores nothing: retry is allowed
            first = http.post(ORDERS, json=order, headers=key)
        assert first.status_code == 201
        replay = http.post(ORDERS, json=order, headers=key)
        assert replay.status_code == 201 and replay.json() == first.json()
        assert replay.headers["Idempotent-Replayed"] == "true"
        conflict = http.post(ORDERS, json={**order, "qty": 200}, headers=key)
        assert conflict.status_code == 409
    conflicts = [v for n, _, v in scrape(canary) if n == "idempotency_conflicts_total"]
    assert conflicts == [1.0]


# ---------------------------------------------------------------------------------------- metrics


def _selectors(query: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    return [(name, re.findall(r'(\w+)(=~|!=|=)"([^"]*)"', body))
            for name, body in re.findall(r"([a-zA-Z_:][\w:]*)\{([^}]*)\}", query)]


def _matches(labels: dict[str, str], matchers: list[tuple[str, str, str]]) -> bool:
    for key, op, want in matchers:
        have = labels.get(key, "")
        ok = re.fullmatch(want, have) if op == "=~" else (have == want) == (op == "=")
        if not ok:
            return False
    return True


@pytest.mark.parametrize("track", ["baseline", "canary"])
def test_metrics_have_every_series_the_gate_queries_read_before_any_traffic(track: str) -> None:
    with SampleService("v1.4.0", track, seed=3) as svc:
        samples = scrape(svc)
    assert {lb.get("track") for _, lb, _ in samples if "track" in lb} == {track}
    queries = [getattr(g.query, track) for g in default_gates().values() if g.query]
    queries.append(getattr(default_requests_query(), track))
    assert len(queries) == 7
    for query in queries:
        for name, matchers in _selectors(query):
            assert any(n == name and _matches(lb, matchers) for n, lb, _ in samples), (name, matchers)
    by_name = {n: v for n, lb, v in samples if not lb.get("code")}
    assert by_name["pgbouncer_pool_max_connections"] == 100
    assert 0.2 <= by_name["ws_message_lag_seconds"] <= 12
    assert by_name["canary_crashloop"] == 0
    five_xx = [lb["endpoint"] for n, lb, _ in samples if n == "http_requests_total" and lb["code"] == "500"]
    assert sorted(five_xx) == sorted(ENDPOINTS)  # 5xx series exist at zero: 0 %, not "no data"


def test_metrics_json_is_no_data_without_requests_and_sane_under_healthy_traffic(
    canary: SampleService,
) -> None:
    empty = metrics_json(canary)
    assert empty["requests"] == 0 and empty["http_p95_ms"] is None and empty["http_5xx_pct"] is None
    statuses = drive(canary.url, 600)
    snap = metrics_json(canary)
    assert set(GATE_KEYS) <= set(snap) and snap["requests"] == 600 and snap["alert"] is None
    assert snap["track"] == "canary" and snap["version"] == "v1.4.0" and snap["fault"] == "none"
    assert 80 <= snap["http_p95_ms"] <= 300
    assert snap["http_5xx_pct"] == pytest.approx(100 * sum(s >= 500 for s in statuses) / 600, abs=1e-3)
    assert snap["http_5xx_pct"] < 2
    assert 0.2 <= snap["ws_lag_s"] <= 12
    assert snap["idempotency_conflict_pct"] < 2 and snap["csp_violations"] == 0
    assert 0 < snap["pgbouncer_pool_util_pct"] < 40
    assert 80 <= histogram_p95_ms(scrape(canary)) <= 300
    assert httpx.get(f"{canary.url}/metrics.json?window_s=abc", timeout=5).status_code == 400


# ---------------------------------------------------------------------------------------- faults


def test_errors_fault_switched_at_run_time_pushes_5xx_over_5_percent(canary: SampleService) -> None:
    switched = httpx.post(f"{canary.url}/__fault", json={"fault": "errors"}, timeout=5)
    assert switched.json()["fault"] == "errors"
    drive(canary.url, 800)
    snap = metrics_json(canary)
    assert snap["fault"] == "errors" and snap["http_5xx_pct"] > 5
    reqs = [(lb["code"], v) for n, lb, v in scrape(canary) if n == "http_requests_total"]
    assert sum(v for _, v in reqs) == 800
    assert 100 * sum(v for code, v in reqs if code.startswith("5")) / 800 > 5


def test_latency_fault_pushes_p95_over_300_ms() -> None:
    with SampleService("v1.4.0", "canary", seed=5, fault="latency") as svc:
        drive(svc.url, 300, concurrency=80)
        assert metrics_json(svc)["http_p95_ms"] > 300
        assert histogram_p95_ms(scrape(svc)) > 300


def test_leak_fault_makes_pool_utilisation_climb() -> None:
    fast = SampleService("v1.4.0", "canary", behaviour=Behaviour(leak_per_s=100)).start()
    try:
        assert metrics_json(fast)["pgbouncer_pool_util_pct"] < 20
        fast.set_fault("leak")
        readings = []
        for _ in range(4):
            time.sleep(0.25)
            readings.append(metrics_json(fast)["pgbouncer_pool_util_pct"])
        assert readings == sorted(readings) and readings[-1] > 80
        active = [v for n, _, v in scrape(fast) if n == "pgbouncer_pool_active_connections"]
        assert active == [100.0]
        fast.set_fault("none")
        assert metrics_json(fast)["pgbouncer_pool_util_pct"] < 20
    finally:
        fast.stop()


def test_alert_fault_sets_the_crashloop_gauge_and_the_json_flag(canary: SampleService) -> None:
    canary.set_fault("alert")
    assert [v for n, _, v in scrape(canary) if n == "canary_crashloop"] == [1.0]
    snap = metrics_json(canary)
    assert snap["alert"] == "CanaryCrashLooping"
    assert snap["alert_labels"] == {"auto_rollback": "true", "severity": "page", "track": "canary"}
    httpx.post(f"{canary.url}/__fault", json={"fault": "none"}, timeout=5)
    assert [v for n, _, v in scrape(canary) if n == "canary_crashloop"] == [0.0]
    assert metrics_json(canary)["alert"] is None


@pytest.mark.parametrize("body", [{"fault": "meltdown"}, {"fault": 3}, ["latency"]])
def test_fault_endpoint_refuses_bad_requests(canary: SampleService, body: object) -> None:
    resp = httpx.post(f"{canary.url}/__fault", json=body, timeout=5)
    assert resp.status_code == 400
    assert httpx.get(f"{canary.url}/__fault", timeout=5).json()["fault"] == "none"


# ------------------------------------------------------------------------------- the model, in demo time
