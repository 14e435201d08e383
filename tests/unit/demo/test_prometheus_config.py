"""Rendered Prometheus / Alertmanager files: they parse, `promtool` and `amtool` accept them, the alert
rules fire (and stay quiet) as intended, and a real Prometheus scraping the sample services answers
every default gate query."""

from __future__ import annotations

import math
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from runofshow.demo.load import LoadGenerator
from runofshow.demo.prometheus_config import alert_rules_yml, alertmanager_yml, duration, prometheus_yml
from runofshow.demo.services import SampleService
from runofshow.domain.plan import default_gates, default_requests_query

TARGETS = {"baseline": "http://127.0.0.1:18001", "canary": "http://127.0.0.1:18002"}
ROLLBACK = {"auto_rollback": "true", "severity": "page", "track": "canary", "service": "spark-trading"}


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


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (0.5, "500ms"), (1, "1s"), (90, "90s"),
                                               (60, "1m"), (3600, "1h")])
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_prometheus_yml_scrapes_both_services_and_alerts_to_alertmanager(files: Path) -> None:
    doc = yaml.safe_load((files / "prometheus.yml").read_text())
    assert doc["global"] == {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
    assert doc["rule_files"] == ["rules.yml"]
    (job,) = doc["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["scheme"] == "http" and job["honor_labels"] is True
    assert [(c["targets"], c["labels"]) for c in job["static_configs"]] == [
        (["127.0.0.1:18001"], {"deployment": "baseline"}), (["127.0.0.1:18002"], {"deployment": "canary"})]
    assert all("track" not in c["labels"] for c in job["static_configs"])  # no exported_track renaming
    assert doc["alerting"]["alertmanagers"] == [
        {"scheme": "http", "static_configs": [{"targets": ["127.0.0.1:19093"]}]}]
    assert "alerting" not in yaml.safe_load(prometheus_yml(TARGETS))
    with pytest.raises(ValueError):
        prometheus_yml({})


def test_alert_rules_have_two_auto_rollback_alerts_and_one_decoy(files: Path) -> None:
    (group,) = yaml.safe_load((files / "rules.yml").read_text())["groups"]
    rules = {r["alert"]: r for r in group["rules"]}
    assert set(rules) == {"CanaryCrashLooping", "CanaryErrorBurst", "CanaryWsLagWarning"}
    crash = rules["CanaryCrashLooping"]
    assert crash["expr"] == 'canary_crashloop{service="spark-trading",track="canary"} == 1'
    assert crash["for"] == "0s" and crash["labels"] == ROLLBACK
    assert rules["CanaryErrorBurst"]["labels"] == ROLLBACK and rules["CanaryErrorBurst"]["for"] == "0s"
    assert 'code=~"5.."' in rules["CanaryErrorBurst"]["expr"]
    assert "auto_rollback" not in rules["CanaryWsLagWarning"]["labels"]
    assert rules["CanaryWsLagWarning"]["labels"]["severity"] == "warning"


def test_alertmanager_yml_sends_at_once_to_one_webhook_with_a_bearer_token(files: Path) -> None:
    doc = yaml.safe_load((files / "alertmanager.yml").read_text())
    route = doc["route"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == ("0s", "1s", "1h")
    (receiver,) = doc["receivers"]
    assert receiver["name"] == route["receiver"]
    (hook,) = receiver["webhook_configs"]
    assert hook["url"] == "http://127.0.0.1:18765/alertmanager"
    assert hook["http_config"]["authorization"] == {"type": "Bearer", "credentials": "s3cr3t-token"}
    with pytest.raises(ValueError):
        alertmanager_yml("http://127.0.0.1:1/x", "has space")


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    port = _free_port()
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
