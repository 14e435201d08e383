"""Secrets the plan names by environment variable are read once, by `app.settings`, from an injected
mapping; a named variable that is not set is bad input, and the values never print."""

from __future__ import annotations

import pytest

from runofshow.app import settings
from runofshow.domain.connections import (
    AlertSourceSettings,
    FlagApiRouterSettings,
    NotificationSettings,
    PrometheusSettings,
)
from runofshow.errors import InputError


def test_prometheus_credentials_from_the_named_variables() -> None:
    src = PrometheusSettings(bearer_token_env="PROM_TOKEN", basic_user_env="U", basic_password_env="P")
    creds = settings.prometheus_credentials(src, {"PROM_TOKEN": "s3cret", "U": "grafana", "P": "pw"})
    assert creds.bearer_token == "s3cret" and creds.basic_auth == ("grafana", "pw")
    assert "s3cret" not in repr(creds) and "pw" not in repr(creds)
    assert settings.prometheus_credentials(PrometheusSettings(), {}).bearer_token is None


@pytest.mark.parametrize(("fields", "environ", "message"), [
    ({"bearer_token_env": "PROM_TOKEN"}, {}, "environment variable PROM_TOKEN is not set"),
    ({"basic_user_env": "U"}, {"U": "grafana"}, "environment variable (unnamed) is not set"),
    ({"basic_user_env": "U", "basic_password_env": "P"}, {"U": "grafana"}, "environment variable P is not set"),
])
def test_a_named_prometheus_secret_that_is_not_set_is_bad_input(fields, environ, message) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        settings.prometheus_credentials(PrometheusSettings(url="http://prom:9090/", **fields), environ)
    assert str(err.value).startswith("prometheus http://prom:9090: ")


def test_flag_api_token() -> None:
    router = FlagApiRouterSettings(url="http://flags/rollout", feature="v1.4.0", token_env="FLAG_TOKEN")
    assert settings.flag_api_token(router, {"FLAG_TOKEN": "t"}) == "t"
    assert settings.flag_api_token(router.model_copy(update={"token_env": None}), {}) is None
    with pytest.raises(InputError, match=r"flag API: environment variable FLAG_TOKEN \(token_env\) is not set"):
        settings.flag_api_token(router, {})


def test_webhook_token_is_required_when_listening() -> None:
    alerts = AlertSourceSettings(webhook_token_env="HOOK_TOKEN")
    assert settings.webhook_token(alerts, "127.0.0.1:9095", {"HOOK_TOKEN": "h"}) == "h"
    with pytest.raises(InputError, match="alertmanager webhook 127.0.0.1:9095: environment variable HOOK_TOKEN"):
        settings.webhook_token(alerts, "127.0.0.1:9095", {"HOOK_TOKEN": ""})


def test_slack_url_and_grafana_token_are_optional() -> None:
    n = NotificationSettings()
    env = {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x", "GRAFANA_TOKEN": "glsa"}
    assert settings.slack_webhook_url(n, env) == env["SLACK_WEBHOOK_URL"]
    assert settings.grafana_token(n, env) == "glsa"
    assert settings.slack_webhook_url(n, {}) is None and settings.grafana_token(n, {}) is None
    assert settings.slack_webhook_url(n.model_copy(update={"slack_webhook_url_env": None}), env) is None
