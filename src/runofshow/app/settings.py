"""Settings from the environment. The only module that reads `os.environ`; every function takes an
`environ` mapping so tests pass their own (`environ=None` means the process environment).

    GITHUB_TOKEN      token for the GitHub REST API (labels, statuses); GitHub Actions provides one
    GITHUB_API_URL    API base URL; GitHub Actions sets it (https://HOST/api/v3 on GitHub Enterprise)

Secrets the plan names by environment variable (`*_env` fields of `runofshow.domain.connections`)
are read here too, once, when the adapter that needs them is built; adapters get the values. A
named variable that is not set is bad input (`InputError`), except the optional Slack webhook URL,
Grafana token and PagerDuty routing key. The plan's `communications` name theirs the same way
(SLACK_BOT_TOKEN, PAGERDUTY_TOKEN, PAGERDUTY_ROUTING_KEY by default; GitHub deployments use
GITHUB_TOKEN and GITHUB_API_URL as above).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from runofshow.domain.addresses import check_http_url
from runofshow.domain.communications import PagerDutySettings, SlackWarRoomSettings, WebhookPagerSettings
from runofshow.domain.connections import (
    AlertSourceSettings,
    FlagApiRouterSettings,
    NotificationSettings,
    PrometheusCredentials,
    PrometheusSettings,
)
from runofshow.errors import InputError

DEFAULT_GITHUB_API_URL = "https://api.github.com"


@dataclass(frozen=True)
class GitHubSettings:
    api_url: str = DEFAULT_GITHUB_API_URL
    token: str | None = None
    timeout_s: float = 10.0
    max_attempts: int = 5
    max_wait_s: float = 120.0

    def __repr__(self) -> str:  # never print the token
        return f"GitHubSettings(api_url={self.api_url!r}, token={'***' if self.token else None})"


def environment(environ: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """The process environment, or the mapping a test injects. The only place that reads os.environ."""
    return os.environ if environ is None else environ


def github_settings(
    environ: Mapping[str, str] | None = None, *, api_url: str | None = None,
) -> GitHubSettings:
    """GitHub settings: `api_url` (a --api-url flag) wins over GITHUB_API_URL, then the default."""
    env = environment(environ)
    url = (api_url or env.get("GITHUB_API_URL") or DEFAULT_GITHUB_API_URL).strip().rstrip("/")
    try:
        check_http_url(url)
    except ValueError as err:
        raise InputError(f"GitHub API URL '{url}': {err}, like https://github.example.com/api/v3") from None
    token = (env.get("GITHUB_TOKEN") or "").strip() or None
    return GitHubSettings(api_url=url, token=token)


def _required(env: Mapping[str, str], name: str, what: str, field: str | None = None) -> str:
    value = env.get(name) if name else None
    if not value:
        named = f"{name or '(unnamed)'}" + (f" ({field})" if field else "")
        raise InputError(f"{what}: environment variable {named} is not set")
    return value


def prometheus_credentials(
    source: PrometheusSettings, environ: Mapping[str, str] | None = None,
) -> PrometheusCredentials:
    """The bearer token and basic-auth pair the plan's Prometheus settings name."""
    env = environment(environ)
    what = f"prometheus {source.url.rstrip('/')}"
    token = _required(env, source.bearer_token_env, what) if source.bearer_token_env else None
    basic = None
    if source.basic_user_env or source.basic_password_env:
        basic = (_required(env, source.basic_user_env or "", what),
                 _required(env, source.basic_password_env or "", what))
    return PrometheusCredentials(bearer_token=token, basic_auth=basic)


def flag_api_token(router: FlagApiRouterSettings, environ: Mapping[str, str] | None = None) -> str | None:
    """The flag API's bearer token (traffic_router.token_env), or None when none is named."""
    if not router.token_env:
        return None
    return _required(environment(environ), router.token_env, "flag API", "token_env")


def webhook_token(alerts: AlertSourceSettings, listen: str, environ: Mapping[str, str] | None = None) -> str:
    """The bearer token Alertmanager must send to the webhook (alert_source.webhook_token_env)."""
    return _required(environment(environ), alerts.webhook_token_env, f"alertmanager webhook {listen}")


def slack_webhook_url(
    notifications: NotificationSettings, environ: Mapping[str, str] | None = None,
) -> str | None:
    """The Slack incoming-webhook URL (notifications.slack_webhook_url_env); None when unset."""
    name = notifications.slack_webhook_url_env
    return (environment(environ).get(name) or None) if name else None


def grafana_token(
    notifications: NotificationSettings, environ: Mapping[str, str] | None = None,
) -> str | None:
    """Grafana's service-account token (notifications.grafana_token_env); None when unset."""
    return environment(environ).get(notifications.grafana_token_env) or None


# --------------------------------------------------------------------------- communications


def slack_bot_token(slack: SlackWarRoomSettings, environ: Mapping[str, str] | None = None) -> str:
    """The war-room channel's Slack bot token (communications.slack.bot_token_env)."""
    return _required(environment(environ), slack.bot_token_env, f"slack war room #{slack.channel}",
                     "bot_token_env")


def slack_signing_secret(slack: SlackWarRoomSettings, environ: Mapping[str, str] | None = None) -> str | None:
    """The Slack app's signing secret (communications.slack.signing_secret_env): what `serve`
    checks each button click with; None when unset (then `/slack/actions` is off)."""
    return (environment(environ).get(slack.signing_secret_env) or "").strip() or None


def pager_token(pager: PagerDutySettings | WebhookPagerSettings,
                environ: Mapping[str, str] | None = None) -> str | None:
    """The pager's token: PagerDuty's REST API token (required), a webhook pager's bearer token
    (when token_env is named)."""
    if not pager.token_env:
        return None
    return _required(environment(environ), pager.token_env, f"pager {pager.kind}", "token_env")


def pagerduty_routing_key(pager: PagerDutySettings, environ: Mapping[str, str] | None = None) -> str | None:
    """The Events API v2 integration key for change events; None when unnamed or unset (no
    change events are sent then)."""
    name = pager.routing_key_env
    return (environment(environ).get(name) or None) if name else None
