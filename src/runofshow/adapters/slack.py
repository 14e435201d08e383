"""Slack incoming webhook notifier (`slack_sdk.webhook.WebhookClient`).

Slack answers 200 with the body `ok`; 429 (with Retry-After) and 5xx are worth retrying, any
other status (400 invalid_payload, 403 invalid_token, 404 no_service ...) is not. Retries are
ours (`webhook.deliver` on `adapters.http`: bounded, exponential backoff); slack_sdk's own retry handlers are
switched off so the count is predictable. After the last attempt: `NotifierError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from runofshow.adapters.http import RETRY_STATUS, AttemptFailed, retry_after
from runofshow.adapters.webhook import deliver
from runofshow.errors import NotifierError

_MAX_FIELDS = 10  # Slack's limit for a section block's fields


def slack_payload(event: str, text: str, fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The message: `text` (what notifications show), a section, the fields, the event name."""
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    items = list((fields or {}).items())[:_MAX_FIELDS]
    if items:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in items
        ]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"runofshow · {event}"}]})
    return {"text": text, "blocks": blocks}


class SlackWebhookNotifier:
    """A `Notifier` posting to one Slack incoming webhook URL (the channel is the webhook's)."""

    name = "slack"

    def __init__(
        self, url: str, *, attempts: int = 3, backoff_s: float = 0.5, timeout_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from slack_sdk.webhook import WebhookClient

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise NotifierError("slack: the webhook URL must be http(s)", adapter="slack", target="")
        self._client = WebhookClient(url, timeout=max(1, round(timeout_s)), retry_handlers=[])
        self.target = f"{parts.scheme}://{parts.netloc}/..."  # the path is the secret
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._sleep = sleep

    def notify(self, event: str, text: str, fields: Mapping[str, Any] | None = None) -> None:
        payload = slack_payload(event, text, fields)

        def once() -> None:
            try:
                resp = self._client.send_dict(payload)
            except Exception as ex:  # URLError, socket timeout, SlackRequestError ...
                raise AttemptFailed(f"{type(ex).__name__}: {ex}") from None
            if resp.status_code == 200:
                return
            message = f"HTTP {resp.status_code} {(resp.body or '').strip()[:200]}".strip()
            if resp.status_code in RETRY_STATUS:
                raise AttemptFailed(message, wait_s=retry_after(resp.headers or {}))
            raise NotifierError(f"slack: {self.target}: {message}", adapter="slack", target=self.target)

        deliver(once, adapter="slack", target=self.target, attempts=self._attempts,
                     backoff_s=self._backoff_s, sleep=self._sleep)
