"""Answers to a click on the war room's Slack buttons (`slack_sdk`), behind `ChatInteractions`.

    views.open      the rollback's reason modal, with the click's trigger_id (bot token; no scope
                    beyond the app's interactivity); `invalid_trigger_id` / `expired_trigger_id`
                    raise `NotifierError` (the click is older than 3 s)
    response_url    an ephemeral reply to the clicker (`WebhookClient`, response_type ephemeral,
                    replace_original false); Slack answers `ok` (200) or an error text (4xx)

Only URLs under `response_hosts` are posted to (Slack's hooks.slack.com by default): a
response_url comes from a signed payload, and this keeps it that way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from runofshow.adapters.slack_warroom import DEFAULT_API_URL
from runofshow.errors import NotifierError

RESPONSE_HOSTS = ("hooks.slack.com",)


class SlackInteractions:
    """`ChatInteractions` on one Slack workspace, as the bot whose token it holds."""

    name = "slack-interactions"

    def __init__(self, token: str, *, base_url: str = DEFAULT_API_URL, timeout_s: float = 3.0,
                 response_hosts: tuple[str, ...] = RESPONSE_HOSTS) -> None:
        base = base_url if base_url.endswith("/") else base_url + "/"
        self._client = WebClient(token=token or None, base_url=base, timeout=max(1, round(timeout_s)))
        self._timeout = max(1, round(timeout_s))
        self._hosts = response_hosts
        self._has_token = bool(token)

    def open_modal(self, trigger_id: str, view: Mapping[str, Any]) -> str:
        if not self._has_token:
            raise NotifierError(f"{self.name}: views.open: no bot token (SLACK_BOT_TOKEN)", adapter=self.name)
        try:
            response = self._client.views_open(trigger_id=trigger_id, view=dict(view))
        except SlackApiError as ex:
            data = ex.response.data if isinstance(ex.response.data, dict) else {}
            code = str(data.get("error") or f"HTTP {ex.response.status_code}")
            raise NotifierError(f"{self.name}: views.open: {code}", adapter=self.name,
                                target="views.open") from None
        except Exception as ex:
            raise NotifierError(f"{self.name}: views.open: {type(ex).__name__}: {ex}", adapter=self.name,
                                target="views.open") from None
        data = response.data if isinstance(response.data, dict) else {}
        return str((data.get("view") or {}).get("id") or "")

    def reply_ephemeral(self, response_url: str, text: str) -> None:
        host = urlsplit(response_url).hostname or ""
        if not any(host == h or host.endswith("." + h) for h in self._hosts):
            allowed = ", ".join(self._hosts)
            raise NotifierError(f"{self.name}: response_url host '{host}' is not one of {allowed}",
                                adapter=self.name, target=host)
        try:
            answer = WebhookClient(response_url, timeout=self._timeout).send(
                text=text, response_type="ephemeral", replace_original=False)
        except Exception as ex:
            raise NotifierError(f"{self.name}: response_url: {type(ex).__name__}: {ex}", adapter=self.name,
                                target=host) from None
        if answer.status_code != 200:
            raise NotifierError(f"{self.name}: response_url: HTTP {answer.status_code} {answer.body[:80]}",
                                adapter=self.name, target=host)


__all__ = ["RESPONSE_HOSTS", "SlackInteractions"]
