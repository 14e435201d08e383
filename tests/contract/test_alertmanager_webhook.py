"""AlertmanagerWebhook with recorded webhook v4 payloads posted over loopback HTTP."""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from runofshow.adapters.alertmanager import AlertmanagerWebhook, parse_listen
from runofshow.domain.connections import AlertSourceSettings
from runofshow.domain.tick import Alert
from runofshow.errors import AdapterError
from runofshow.ports import AlertFeed

TOKEN = "t0ken-for-tests"
AT = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)
ALERT = {
    "status": "firing",
    "labels": {"alertname": "CanaryErrorBudgetBurn", "auto_rollback": "true", "severity": "page"},
    "annotations": {"summary": "canary burns error budget"},
    "startsAt": "2025-03-14T09:59:30.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=up", "fingerprint": "1a30ba71cca2921f",
}
PAYLOAD = {
    "receiver": "runofshow", "status": "firing", "alerts": [ALERT],
    "groupLabels": {"alertname": "CanaryErrorBudgetBurn"}, "commonLabels": ALERT["labels"],
    "commonAnnotations": ALERT["annotations"], "externalURL": "http://127.0.0.1:9093", "version": "4",
    "groupKey": '{}:{alertname="CanaryErrorBudgetBurn"}', "truncatedAlerts": 0,
}


def with_alerts(*alerts: dict) -> dict:
    payload = copy.deepcopy(PAYLOAD)
    payload["alerts"] = list(alerts)
    return payload


@pytest.fixture
def inbox() -> Iterator[tuple[AlertmanagerWebhook, list[Alert]]]:
    got: list[Alert] = []
    hook = AlertmanagerWebhook(token=TOKEN, match_labels={"auto_rollback": "true"}, on_alert=got.append,
                               t0_at=datetime(2025, 3, 14, 9, 30, tzinfo=UTC)).start()
    yield hook, got
    hook.stop()


def post(hook: AlertmanagerWebhook, payload: object, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(hook.url, json=payload, headers=headers, timeout=5)


def test_firing_alert_is_announced_at_once_and_kept(inbox: tuple[AlertmanagerWebhook, list[Alert]]) -> None:
    hook, got = inbox
    assert isinstance(hook, AlertFeed) and hook.port > 0
    assert post(hook, PAYLOAD).status_code == 200
    (alert,) = got
    assert alert.name == "CanaryErrorBudgetBurn" and alert.labels["severity"] == "page"
    assert alert.fired_t_s == pytest.approx(29 * 60 + 30.123456)
    assert post(hook, PAYLOAD).status_code == 200  # a repeat notification is not a new alert
    assert len(got) == 1 and hook.firing(AT) == (alert,)
    resolved = {**ALERT, "status": "resolved", "endsAt": "2025-03-14T10:01:00Z"}
    assert post(hook, with_alerts(resolved)).status_code == 200
    assert hook.firing(AT) == ()


def test_only_alerts_matching_the_plan_labels_are_kept(
    inbox: tuple[AlertmanagerWebhook, list[Alert]],
) -> None:
    hook, got = inbox
    other = {**ALERT, "labels": {"alertname": "DiskFilling", "severity": "warning"}}
    wrong_value = {**ALERT, "labels": {"alertname": "Noisy", "auto_rollback": "false"}}
    post(hook, with_alerts(other, wrong_value, ALERT))
    assert [a.name for a in got] == ["CanaryErrorBudgetBurn"]
    assert [a.name for a in hook.firing(AT)] == ["CanaryErrorBudgetBurn"]


@pytest.mark.parametrize("token", [None, "wrong", f"{TOKEN}x"])
def test_wrong_or_missing_token_is_401_and_logged(
    inbox: tuple[AlertmanagerWebhook, list[Alert]], token: str | None, caplog: pytest.LogCaptureFixture,
) -> None:
    hook, got = inbox
    with caplog.at_level(logging.WARNING, logger="runofshow.adapters.alertmanager"):
        response = post(hook, PAYLOAD, token)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert got == [] and hook.firing(AT) == () and hook.rejected == 1
    assert "rejected POST /alerts from 127.0.0.1:" in caplog.text


def test_bad_payload_is_400_and_a_failing_callback_does_not_break_the_receiver() -> None:
    def boom(alert: Alert) -> None:
        raise RuntimeError("runner is busy")

    with AlertmanagerWebhook(token=TOKEN, match_labels={}, on_alert=boom) as hook:
        bad = httpx.post(hook.url, content=b"{nope", headers={"Authorization": f"Bearer {TOKEN}"})
        assert bad.status_code == 400
        assert post(hook, PAYLOAD).status_code == 200
        assert len(hook.firing(AT)) == 1


def test_from_settings_reads_listen_and_takes_the_token() -> None:
    settings = AlertSourceSettings(webhook_listen="127.0.0.1:0", webhook_token_env="HOOK_TOKEN")
    hook = AlertmanagerWebhook.from_settings(settings, TOKEN)
    with hook:
        assert hook.port != 0 and post(hook, PAYLOAD).status_code == 200
        assert [a.name for a in hook.firing(AT)] == ["CanaryErrorBudgetBurn"]
    with pytest.raises(AdapterError, match="empty bearer token"):
        AlertmanagerWebhook.from_settings(settings, "")
    assert parse_listen("[::1]:9095") == ("::1", 9095)
    with pytest.raises(AdapterError, match="not host:port"):
        parse_listen("9095")
