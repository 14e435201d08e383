"""Issue 10 item 7: a real Prometheus whose series carry `app` / `version` instead of `service` /
`track`. The default gate queries find them once `metrics_source.labels` says so, and
`runofshow validate --check-metrics` says, gate by gate, which queries return no series.
A missing prometheus binary fails these tests (never skips)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from runofshow.app.bootstrap import build_metrics
from runofshow.app.metrics_check import check_plan_metrics
from runofshow.cli.main import main
from runofshow.domain.plan import Plan
from tests.integration.services import Exporter, PrometheusServer, serve_registry

SERVICE, CANARY, BASELINE = "spark", "v1.4.0", "v1.3.9"
LABELS = {"service": "app", "track": "version", "canary": CANARY, "baseline": BASELINE}


class AppVersionExporter:
    """The six gate metrics with `app` and `version` labels, fed with traffic in a thread."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        lv = ("app", "version")
        self.requests = Counter("http_requests_total", "requests", [*lv, "code"], registry=r)
        self.latency = Histogram("http_request_duration_seconds", "latency", lv, registry=r,
                                 buckets=(0.01, 0.05, 0.1, 0.5, 1.0))
        self.conflicts = Counter("idempotency_conflicts_total", "conflicts", lv, registry=r)
        self.csp = Counter("csp_violation_reports_total", "csp reports", lv, registry=r)
        self.lag = Gauge("ws_message_lag_seconds", "lag", lv, registry=r)
        self.active = Gauge("pgbouncer_pool_active_connections", "active", lv, registry=r)
        self.pool = Gauge("pgbouncer_pool_max_connections", "max", lv, registry=r)
        for version in (CANARY, BASELINE):
            for code in ("200", "500"):
                self.requests.labels(SERVICE, version, code)
            self.conflicts.labels(SERVICE, version)
            self.csp.labels(SERVICE, version)
            self.lag.labels(SERVICE, version).set(0.5)
            self.active.labels(SERVICE, version).set(20)
            self.pool.labels(SERVICE, version).set(100)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._traffic, daemon=True, name="app-version-traffic")
        self._thread.start()

    def _traffic(self) -> None:
        n = 0
        while not self._stop.wait(0.1):
            for version in (CANARY, BASELINE):
                n += 1
                self.requests.labels(SERVICE, version, "500" if n % 40 == 0 else "200").inc(5)
                self.latency.labels(SERVICE, version).observe(0.04)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture(scope="module")
def app_version_prometheus(prometheus_factory: Callable[..., PrometheusServer]) -> Iterator[PrometheusServer]:
    source = AppVersionExporter()
    exporter: Exporter = serve_registry(source.registry)
    server = prometheus_factory([exporter.target])
    deadline = time.monotonic() + 30
    while not server.query(f'sum(rate(http_request_duration_seconds_count{{app="{SERVICE}"}}[1m])) > 0'):
        assert time.monotonic() < deadline, "Prometheus did not get two scrapes of the exporter"
        time.sleep(0.5)
    yield server
    server.stop()
    exporter.close()
    source.stop()


def plan(server: PrometheusServer, labels: dict[str, str] | None = None) -> Plan:
    source: dict[str, object] = {"kind": "prometheus", "url": server.url, "timeout_s": 5, "retries": 1}
    if labels is not None:
        source["labels"] = labels
    return Plan.model_validate({"release": {"service": SERVICE}, "metrics_source": source})


def test_the_default_queries_find_series_with_other_label_names(app_version_prometheus: PrometheusServer) -> None:
    report = check_plan_metrics(plan(app_version_prometheus, LABELS), build_metrics, environ={})
    assert report.unavailable is None
    assert report.empty == () and report.ok, report.lines()
    assert [g.name for g in report.gates] == list(Plan().gates)
    by_name = {g.name: g.values for g in report.gates}
    assert by_name["pgbouncer_pool_util_pct"] == {"baseline": 20.0, "canary": 20.0}
    assert by_name["ws_lag_s"]["canary"] == 0.5
    assert 0 < by_name["http_p95_ms"]["canary"] <= 50  # every request took 40 ms
    assert report.requests is not None and not report.requests.empty_tracks


def test_with_the_default_label_names_every_gate_returns_no_series(app_version_prometheus: PrometheusServer) -> None:
    report = check_plan_metrics(plan(app_version_prometheus), build_metrics, environ={})
    assert report.empty == tuple(Plan().gates) and not report.ok
    lines = report.lines()
    assert "http_5xx_pct: no series for baseline and canary (baseline -, canary -)" in lines
    assert lines[-1].startswith("metrics: 0/6 gates return series; none for http_p95_ms, http_5xx_pct")


def test_validate_check_metrics_says_which_gates_return_nothing(
    app_version_prometheus: PrometheusServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    url = app_version_prometheus.url
    labels = ", ".join(f"{k}: '{v}'" for k, v in LABELS.items())
    good.write_text(f"release: {{service: {SERVICE}}}\n"
                    f"metrics_source: {{kind: prometheus, url: '{url}', labels: {{{labels}}}}}\n")
    # only the pool gate's canary query asks for a label value that is not there
    bad.write_text(
        f"release: {{service: {SERVICE}}}\n"
        f"metrics_source: {{kind: prometheus, url: '{url}', labels: {{{labels}}}}}\n"
        "gates:\n"
        "  ws_lag_s: {threshold: 30, query: {baseline: 'max(ws_message_lag_seconds{app=\"spark\"})',"
        " canary: 'max(ws_message_lag_seconds{app=\"spark\",version=\"v9.9.9\"})'}}\n")
    for path, code in ((good, 0), (bad, 3)):
        with pytest.raises(SystemExit) as ex:
            main(["validate", str(path), "--check-metrics"])
        out = capsys.readouterr().out
        assert ex.value.code == code, out
        if code == 0:
            assert "http_p95_ms: ok (baseline " in out and "metrics: 6/6 gates return series" in out
        else:
            assert "ws_lag_s: no series for canary (baseline 0.5, canary -)" in out
            assert "metrics: 0/1 gates return series; none for ws_lag_s" in out
