"""Rendered Prometheus / Alertmanager files against the real tools: `promtool` and `amtool` accept them,
the alert rules fire (and stay quiet) as intended, and a real Prometheus scraping the sample services
answers every default gate query."""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from runofshow.demo.load import LoadGenerator
from runofshow.demo.prometheus_config import alert_rules_yml, alertmanager_yml, prometheus_yml
from runofshow.demo.services import SampleService
from runofshow.domain.rules import default_gates, default_requests_query
from runofshow.loopback import free_port
from tests.unit.demo.test_prometheus_config import ROLLBACK, TARGETS


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not on PATH: install the Debian package that ships it "
                    f"({'prometheus-alertmanager' if name == 'amtool' else 'prometheus'}); CI installs it")
    return path


def run(*args: str, cwd: Path) -> str:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "prometheus.yml").write_text(
        prometheus_yml(TARGETS, rule_files=["rules.yml"], alertmanager_url="http://127.0.0.1:19093"))
    (tmp_path / "rules.yml").write_text(alert_rules_yml())
    (tmp_path / "alertmanager.yml").write_text(
        alertmanager_yml("http://127.0.0.1:18765/alertmanager", "s3cr3t-token"))
    return tmp_path


def test_promtool_and_amtool_accept_the_files(files: Path) -> None:
    assert "SUCCESS" in run(tool("promtool"), "check", "config", "prometheus.yml", cwd=files)
    assert "3 rules found" in run(tool("promtool"), "check", "rules", "rules.yml", cwd=files)
    assert "SUCCESS" in run(tool("amtool"), "check-config", "alertmanager.yml", cwd=files)


def test_promtool_rule_tests_rules_fire_only_when_they_should(files: Path) -> None:
    canary = 'service="spark-trading",track="canary"'
    unit_tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1s",
        "tests": [
            {  # crash loop: only the canary's gauge counts
                "interval": "1s",
                "input_series": [
                    {"series": f"canary_crashloop{{{canary}}}", "values": "0x9 1x20"},
                    {"series": 'canary_crashloop{service="spark-trading",track="baseline"}',
                     "values": "1x30"},
                ],
                "alert_rule_test": [
                    {"eval_time": "5s", "alertname": "CanaryCrashLooping", "exp_alerts": []},
                    {"eval_time": "15s", "alertname": "CanaryCrashLooping", "exp_alerts": [{
                        "exp_labels": ROLLBACK,
                        "exp_annotations": {"summary": "Canary pods are crash-looping", "description":
                                            "The canary reports canary_crashloop = 1: roll it back."}}]},
                ],
            },
            {  # 10 % 5xx at 10 req/s fires; the decoy fires too, without auto_rollback
                "interval": "1s",
                "input_series": [
                    {"series": f'http_requests_total{{{canary},code="200",endpoint="/api/quotes"}}',
                     "values": "0+9x120"},
                    {"series": f'http_requests_total{{{canary},code="500",endpoint="/api/quotes"}}',
                     "values": "0+1x120"},
                    {"series": f"ws_message_lag_seconds{{{canary}}}", "values": "3x120"},
                ],
                "alert_rule_test": [
                    {"eval_time": "90s", "alertname": "CanaryErrorBurst", "exp_alerts": [{
                        "exp_labels": ROLLBACK,
                        "exp_annotations": {"summary": "Canary 5xx above 1 % over 1m",
                                            "description": "Canary 5xx share is 10.00 %."}}]},
                    {"eval_time": "90s", "alertname": "CanaryWsLagWarning", "exp_alerts": [{
                        "exp_labels": {"severity": "warning", "track": "canary", "service": "spark-trading"},
                        "exp_annotations": {"summary": "Canary WebSocket lag is elevated (informational, "
                                            "no rollback)", "description": "WebSocket lag is 3 s."}}]},
                ],
            },
            {  # one unlucky 5xx among few requests at 1 % weight: over 1 % but under 5 errors, quiet
                "interval": "1s",
                "input_series": [
                    {"series": f'http_requests_total{{{canary},code="200",endpoint="/api/quotes"}}',
                     "values": "0+1x120"},
                    {"series": f'http_requests_total{{{canary},code="500",endpoint="/api/quotes"}}',
                     "values": "0x60 1x60"},
                ],
                "alert_rule_test": [{"eval_time": "90s", "alertname": "CanaryErrorBurst", "exp_alerts": []}],
            },
        ],
    }
    (files / "rules_test.yml").write_text(yaml.safe_dump(unit_tests, sort_keys=False))
    assert "SUCCESS" in run(tool("promtool"), "test", "rules", "rules_test.yml", cwd=files)


# ------------------------------------------------------------------------------ a real Prometheus


@pytest.fixture
def services() -> Iterator[dict[str, SampleService]]:
    svcs = {"baseline": SampleService("v1.3.7", "baseline", seed=1).start(),
            "canary": SampleService("v1.4.0", "canary", seed=2, fault="alert").start()}
    loads = [LoadGenerator(s.url, rate_per_s=30, seed=i, max_duration_s=60).start()
             for i, s in enumerate(svcs.values())]
    yield svcs
    for gen in loads:
        gen.stop()
    for svc in svcs.values():
        svc.stop()


@pytest.mark.integration
def test_a_real_prometheus_answers_every_gate_query_and_fires_the_crashloop_alert(
    tmp_path: Path, services: dict[str, SampleService]
) -> None:
    prometheus = tool("prometheus")
    (tmp_path / "prometheus.yml").write_text(prometheus_yml({t: s.url for t, s in services.items()}))
    (tmp_path / "rules.yml").write_text(alert_rules_yml())
    port = free_port()
    proc = subprocess.Popen(
        [prometheus, "--config.file=prometheus.yml", f"--web.listen-address=127.0.0.1:{port}",
         f"--storage.tsdb.path={tmp_path / 'data'}", "--log.level=warn"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    api = f"http://127.0.0.1:{port}/api/v1"
    queries = {f"{name}:{track}": getattr(g.query, track).replace("$window", "5s")
               for name, g in default_gates().items() if g.query for track in ("baseline", "canary")}
    queries |= {f"requests:{t}": getattr(default_requests_query(), t).replace("$window", "5s")
                for t in ("baseline", "canary")}
    values: dict[str, float] = {}
    firing: list[dict[str, object]] = []
    try:
        with httpx.Client(timeout=2) as http:
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline and (len(values) < len(queries) or not firing):
                time.sleep(0.5)
                assert proc.poll() is None, f"prometheus exited: {proc.stderr.read() if proc.stderr else ''}"
                try:
                    for key, query in queries.items():
                        result = http.get(f"{api}/query", params={"query": query}).json()["data"]["result"]
                        if len(result) == 1 and math.isfinite(float(result[0]["value"][1])):
                            values[key] = float(result[0]["value"][1])
                    alerts = http.get(f"{api}/alerts").json()["data"]["alerts"]
                except httpx.TransportError:
                    continue  # not listening yet
                firing = [a for a in alerts if a["labels"]["alertname"] == "CanaryCrashLooping"
                          and a["state"] == "firing"]
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
    assert set(values) == set(queries), f"no value for {sorted(set(queries) - set(values))}"
    for track in ("baseline", "canary"):
        assert 50 < values[f"http_p95_ms:{track}"] < 400
        assert 0 <= values[f"http_5xx_pct:{track}"] < 5
        assert 0 < values[f"ws_lag_s:{track}"] < 15
        assert 0 < values[f"pgbouncer_pool_util_pct:{track}"] < 40
        assert values[f"requests:{track}"] > 0
    assert firing and firing[0]["labels"]["auto_rollback"] == "true"
