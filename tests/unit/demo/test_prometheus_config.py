"""Rendered Prometheus / Alertmanager files: what they say. That the real tools accept them is
tested in tests/integration/test_prometheus_config_tools.py."""

from __future__ import annotations

import pytest
import yaml

from runofshow.demo.prometheus_config import alert_rules_yml, alertmanager_yml, duration, prometheus_yml

TARGETS = {"baseline": "http://127.0.0.1:18001", "canary": "http://127.0.0.1:18002"}
ROLLBACK = {"auto_rollback": "true", "severity": "page", "track": "canary", "service": "spark-trading"}


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (0.5, "500ms"), (1, "1s"), (90, "90s"),
                                               (60, "1m"), (3600, "1h")])
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_prometheus_yml_scrapes_both_services_and_alerts_to_alertmanager() -> None:
    doc = yaml.safe_load(prometheus_yml(TARGETS, rule_files=["rules.yml"], alertmanager_url="http://127.0.0.1:19093"))
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


def test_alert_rules_have_two_auto_rollback_alerts_and_one_decoy() -> None:
    (group,) = yaml.safe_load(alert_rules_yml())["groups"]
    rules = {r["alert"]: r for r in group["rules"]}
    assert set(rules) == {"CanaryCrashLooping", "CanaryErrorBurst", "CanaryWsLagWarning"}
    crash = rules["CanaryCrashLooping"]
    assert crash["expr"] == 'canary_crashloop{service="spark-trading",track="canary"} == 1'
    assert crash["for"] == "0s" and crash["labels"] == ROLLBACK
    assert rules["CanaryErrorBurst"]["labels"] == ROLLBACK and rules["CanaryErrorBurst"]["for"] == "0s"
    assert 'code=~"5.."' in rules["CanaryErrorBurst"]["expr"]
    assert "auto_rollback" not in rules["CanaryWsLagWarning"]["labels"]
    assert rules["CanaryWsLagWarning"]["labels"]["severity"] == "warning"


def test_alertmanager_yml_sends_at_once_to_one_webhook_with_a_bearer_token() -> None:
    doc = yaml.safe_load(alertmanager_yml("http://127.0.0.1:18765/alertmanager", "s3cr3t-token"))
    route = doc["route"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == ("0s", "1s", "1h")
    (receiver,) = doc["receivers"]
    assert receiver["name"] == route["receiver"]
    (hook,) = receiver["webhook_configs"]
    assert hook["url"] == "http://127.0.0.1:18765/alertmanager"
    assert hook["http_config"]["authorization"] == {"type": "Bearer", "credentials": "s3cr3t-token"}
    with pytest.raises(ValueError):
        alertmanager_yml("http://127.0.0.1:1/x", "has space")


# ------------------------------------------------------------------------------ a real Prometheus
