"""Real Prometheus, Alertmanager, nginx and a prometheus_client exporter, run by tests on free
loopback ports with all their files in a temporary folder. Used by `tests/integration/conftest.py`
(fixtures) and importable by other suites (`from tests.integration.services import ...`).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import MetricsHandler

from runofshow.loopback import LOOPBACK, free_port
from tests.helpers import (
    ManagedProcess,
    TrackedHTTPServer,
    require_binary,
    wait_http_ok,
    wait_until,
)

SERVICE = "spark-trading"
TRACKS = ("baseline", "canary")


# --------------------------------------------------------------------------- exporter


@dataclass
class Exporter:
    """A prometheus_client registry served on a loopback port; `target` is its host:port."""

    registry: CollectorRegistry
    server: TrackedHTTPServer = field(repr=False)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def target(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def close(self) -> None:
        self.server.stop()


def serve_registry(registry: CollectorRegistry) -> Exporter:
    """Serve `registry` at http://127.0.0.1:<free port>/metrics."""
    return Exporter(registry, TrackedHTTPServer(MetricsHandler.factory(registry)).start())


class SparkMetrics:
    """The demo service's metrics for both tracks, as `plan.default_gates()` queries them."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self._sent: dict[str, int] = {}
        lt = ("service", "track")
        self.requests = Counter("http_requests_total", "requests", [*lt, "code"], registry=r)
        self.latency = Histogram("http_request_duration_seconds", "latency", lt, registry=r,
                                 buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
        self.ws_lag = Gauge("ws_message_lag_seconds", "ws lag", lt, registry=r)
        self.idempotency = Counter("idempotency_conflicts_total", "conflicts", lt, registry=r)
        self.csp = Counter("csp_violation_reports_total", "csp reports", lt, registry=r)
        self.pool_active = Gauge("pgbouncer_pool_active_connections", "active", lt, registry=r)
        self.pool_max = Gauge("pgbouncer_pool_max_connections", "max", lt, registry=r)
        for track in TRACKS:
            for code in ("200", "500"):
                self.requests.labels(SERVICE, track, code)
            self.idempotency.labels(SERVICE, track)
            self.csp.labels(SERVICE, track)
            self.ws_lag.labels(SERVICE, track).set(0.5)
            self.pool_active.labels(SERVICE, track).set(20)
            self.pool_max.labels(SERVICE, track).set(100)

    def traffic(self, track: str, n: int = 10, *, error_every: int = 50, latency_s: float = 0.04) -> None:
        """`n` requests on `track`; every `error_every`-th one (counted per track) is a 500."""
        for _ in range(n):
            self._sent[track] = self._sent.get(track, 0) + 1
            failed = error_every and self._sent[track] % error_every == 0
            self.requests.labels(SERVICE, track, "500" if failed else "200").inc()
            self.latency.labels(SERVICE, track).observe(latency_s)


class TrafficLoop:
    """Feeds `SparkMetrics` with steady traffic for both tracks every `interval_s`, until stopped."""

    def __init__(self, metrics: SparkMetrics, interval_s: float = 0.1) -> None:
        self.metrics, self.interval_s = metrics, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="spark-traffic")
        self._thread.start()

    def _run(self) -> None:
        tick = 0
        while not self._stop.wait(self.interval_s):
            tick += 1
            self.metrics.traffic("baseline", 20)
            self.metrics.traffic("canary", 5, latency_s=0.06)
            if tick % 10 == 0:
                self.metrics.csp.labels(SERVICE, "canary").inc()
                self.metrics.idempotency.labels(SERVICE, "baseline").inc()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# --------------------------------------------------------------------------- Prometheus


@dataclass
class PrometheusServer:
    process: ManagedProcess
    port: int
    config_path: Path

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5).json()
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def wait_target_up(self, target: str, timeout: float = 60.0) -> None:
        """Wait for the target's `up == 1` (new targets are picked up slowly; /-/ready is not enough)."""
        def up() -> bool:
            self.process.check_alive()
            return any(r["value"][1] == "1" for r in self.query(f'up{{instance="{target}"}}'))

        wait_until(up, timeout=timeout, interval=0.2, what=f"Prometheus to scrape {target} (up == 1)")

    def stop(self) -> None:
        self.process.stop()


def start_prometheus(
    workdir: Path, targets: Sequence[str], *, rules: str | Mapping[str, Any] | None = None,
    alertmanagers: Sequence[str] = (), wait_up: bool = True, job: str = "runofshow-test",
) -> PrometheusServer:
    """Prometheus scraping `targets` every 1s, evaluating `rules` (YAML text or dict) every 1s."""
    binary = require_binary("prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(targets)}]}],
    }
    if rules is not None:
        rules_path = workdir / "rules.yml"
        rules_path.write_text(rules if isinstance(rules, str) else json.dumps(rules))
        config["rule_files"] = [str(rules_path)]
    if alertmanagers:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]}
    config_path = workdir / "prometheus.yml"
    config_path.write_text(json.dumps(config, indent=2))
    process = ManagedProcess("prometheus", [
        binary, f"--config.file={config_path}", f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address={LOOPBACK}:{port}", "--web.enable-lifecycle", "--log.level=warn",
        "--storage.tsdb.retention.time=1h",
    ], workdir / "prometheus.log")
    server = PrometheusServer(process, port, config_path)
    try:
        wait_http_ok(f"{server.url}/-/ready", process, timeout=60)
        if wait_up:
            for target in targets:
                server.wait_target_up(target)
    except BaseException:
        process.stop()
        raise
    return server


# --------------------------------------------------------------------------- Alertmanager


@dataclass
class AlertmanagerServer:
    process: ManagedProcess
    port: int
    config_path: Path

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def target(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        self.process.stop()


def start_alertmanager(
    workdir: Path, webhooks: Sequence[tuple[str, str]] = (), *, config_text: str | None = None,
) -> AlertmanagerServer:
    """Alertmanager sending every alert at once (group_wait 0s, group_interval 1s) to each
    (url, bearer token) webhook, with resolved notifications; or running `config_text` as it is."""
    binary = require_binary("prometheus-alertmanager")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config_path = workdir / "alertmanager.yml"
    config_path.write_text(config_text if config_text is not None else json.dumps(_webhook_config(webhooks), indent=2))
    process = ManagedProcess("alertmanager", [
        binary, f"--config.file={config_path}", f"--storage.path={workdir / 'data'}",
        f"--web.listen-address={LOOPBACK}:{port}", "--cluster.listen-address=", "--log.level=warn",
    ], workdir / "alertmanager.log")
    server = AlertmanagerServer(process, port, config_path)
    try:
        wait_http_ok(f"{server.url}/-/ready", process, timeout=60)
    except BaseException:
        process.stop()
        raise
    return server


def _webhook_config(webhooks: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {
        "route": {"receiver": "runofshow", "group_by": ["alertname"], "group_wait": "0s",
                  "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "runofshow", "webhook_configs": [
            {"url": url, "send_resolved": True, "max_alerts": 0,
             "http_config": {"authorization": {"type": "Bearer", "credentials": token}}}
            for url, token in webhooks
        ]}],
    }


# --------------------------------------------------------------------------- nginx


@dataclass
class NginxServer:
    """nginx with everything under `prefix`: conf at `conf_path`, its `http {}` includes
    `conf_d/*.conf`; `health_port` serves GET /healthz; `port` is a free port for your server block."""

    process: ManagedProcess
    binary: str
    prefix: Path
    conf_path: Path
    conf_d: Path
    health_port: int
    port: int

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def command(self, *args: str) -> list[str]:
        """argv for this nginx, e.g. `command("-t")` or `command("-s", "reload")`."""
        return [self.binary, "-p", f"{self.prefix}/", "-c", str(self.conf_path),
                "-e", str(self.prefix / "logs" / "error.log"), *args]

    def test_config(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30)

    def reload(self) -> None:
        """Check the config and reload (SIGHUP); raises with nginx's message when the config is bad."""
        checked = self.test_config()
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t failed: {checked.stderr.strip()}")
        subprocess.run(self.command("-s", "reload"), check=True, capture_output=True, timeout=30)

    def error_log(self) -> str:
        return (self.prefix / "logs" / "error.log").read_text(errors="replace")

    def stop(self) -> None:
        self.process.stop()


def start_nginx(workdir: Path, http_config: str = "") -> NginxServer:
    """nginx in the foreground (daemon off) with its pid, logs and temp paths under `workdir`.

    `http_config` is added inside `http {}`; files in `conf_d` are included too (write them,
    then `reload()`).
    """
    binary = require_binary("nginx")
    prefix = workdir
    for sub in ("logs", "conf.d", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    health_port, port = free_port(), free_port()
    user = "user root root;\n" if os.geteuid() == 0 else ""
    conf = f"""{user}worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    server {{
        listen {LOOPBACK}:{health_port};
        location = /healthz {{ return 200 "ok\\n"; }}
    }}
    include {prefix}/conf.d/*.conf;
{http_config}
}}
"""
    conf_path = prefix / "nginx.conf"
    conf_path.write_text(conf)
    server = NginxServer(None, binary, prefix, conf_path, prefix / "conf.d", health_port, port)  # type: ignore[arg-type]
    server.process = ManagedProcess("nginx", server.command(), prefix / "logs" / "stdout.log")
    try:
        wait_http_ok(f"http://{LOOPBACK}:{health_port}/healthz", server.process, timeout=30)
    except BaseException:
        server.process.stop()
        raise
    return server
