"""A real Prometheus rule fires -> real Alertmanager -> our webhook receiver, bearer token checked."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge

from runofshow.adapters.alertmanager import AlertmanagerWebhook
from runofshow.adapters.prometheus import PrometheusAlertFeed, alert_rules_loaded
from runofshow.domain.connections import PrometheusSettings
from runofshow.domain.tick import Alert
from tests.helpers import wait_until
from tests.integration.services import AlertmanagerServer, PrometheusServer, serve_registry

TOKEN = "am-webhook-test-token"
RULES = {"groups": [{"name": "canary", "rules": [
    {"alert": "CanaryBroken", "expr": 'max(canary_broken{track="canary"}) > 0', "for": "0s",
     "labels": {"auto_rollback": "true", "severity": "page"}, "annotations": {"summary": "canary broken"}},
    {"alert": "CanaryNoisy", "expr": 'max(canary_broken{track="canary"}) > 0', "for": "0s",
     "labels": {"auto_rollback": "false"}},
]}]}


class Inbox:
    def __init__(self) -> None:
        self.alerts: list[tuple[float, Alert]] = []
        self.event = threading.Event()

    def __call__(self, alert: Alert) -> None:
        self.alerts.append((time.monotonic(), alert))
        self.event.set()


@pytest.fixture(scope="module")
def stack(
    prometheus_factory: Callable[..., PrometheusServer],
    alertmanager_factory: Callable[[list[tuple[str, str]]], AlertmanagerServer],
) -> Iterator[tuple[AlertmanagerWebhook, Inbox, Gauge, PrometheusServer]]:
    inbox = Inbox()
    hook = AlertmanagerWebhook(token=TOKEN, match_labels={"auto_rollback": "true"}, on_alert=inbox).start()
    registry = CollectorRegistry()
    broken = Gauge("canary_broken", "1 when the canary is broken", ["track"], registry=registry)
    broken.labels("canary").set(0)
    exporter = serve_registry(registry)
    # The same receiver twice: once with the right token, once with a wrong one (must get 401).
    am = alertmanager_factory([(hook.url, TOKEN), (hook.url, "not-the-token")])
    prom = prometheus_factory([exporter.target], rules=RULES, alertmanagers=[am.target])
    yield hook, inbox, broken, prom
    prom.stop()
    am.stop()
    hook.stop()
    exporter.close()


def test_rule_fires_through_alertmanager_to_the_webhook(
    stack: tuple[AlertmanagerWebhook, Inbox, Gauge, PrometheusServer], caplog: pytest.LogCaptureFixture,
) -> None:
    hook, inbox, broken, prom = stack
    settings = PrometheusSettings(url=prom.url)
    check = alert_rules_loaded(settings, labels={"auto_rollback": "true"})
    assert check.ok and check.found == ("CanaryBroken",)
    feed = PrometheusAlertFeed(settings, {"auto_rollback": "true"}, {})
    try:
        check_fires_and_resolves(hook, inbox, broken, feed, caplog)
    finally:
        feed.close()


def check_fires_and_resolves(
    hook: AlertmanagerWebhook, inbox: Inbox, broken: Gauge, feed: PrometheusAlertFeed,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert feed.firing(datetime.now(UTC)) == ()

    with caplog.at_level(logging.WARNING, logger="runofshow.adapters.alertmanager"):
        started = time.monotonic()
        broken.labels("canary").set(1)
        assert inbox.event.wait(60), "no alert reached the webhook"
        latency = inbox.alerts[0][0] - started
        print(f"gauge set -> Prometheus rule -> Alertmanager -> on_alert: {latency:.2f} s")
        wait_until(lambda: hook.rejected >= 1, timeout=30, what="Alertmanager's wrong-token delivery")

    assert [a.name for _, a in inbox.alerts] == ["CanaryBroken"]  # CanaryNoisy does not match
    assert inbox.alerts[0][1].labels["severity"] == "page"
    assert [a.name for a in hook.firing(datetime.now(UTC))] == ["CanaryBroken"]
    assert "rejected POST /alerts from 127.0.0.1:" in caplog.text
    assert [a.name for a in feed.firing(datetime.now(UTC))] == ["CanaryBroken"]  # polling agrees
    assert latency < 15

    broken.labels("canary").set(0)
    wait_until(lambda: hook.firing(datetime.now(UTC)) == (), timeout=60, what="the resolved notification")
    wait_until(lambda: feed.firing(datetime.now(UTC)) == (), timeout=30, what="Prometheus to resolve it")


def test_wrong_token_is_401(stack: tuple[AlertmanagerWebhook, Inbox, Gauge, PrometheusServer]) -> None:
    hook = stack[0]
    payload = {"version": "4", "status": "firing", "alerts": [
        {"status": "firing", "labels": {"alertname": "Forged", "auto_rollback": "true"}}]}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        assert httpx.post(hook.url, json=payload, headers=headers, timeout=5).status_code == 401
    assert all(a.name != "Forged" for a in hook.firing(datetime.now(UTC)))


def test_logs_stay_in_the_temporary_folder(
    stack: tuple[AlertmanagerWebhook, Inbox, Gauge, PrometheusServer],
) -> None:
    prom = stack[3]
    assert Path(prom.process.log_path).parent == prom.config_path.parent
