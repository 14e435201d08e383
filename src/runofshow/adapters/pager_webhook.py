"""The pager's yellow mode through a generic JSON webhook, for pagers other than PagerDuty
(Opsgenie, Grafana OnCall, an in-house rota) behind a small bridge of your own.

Every call is one POST of a JSON object, and the bridge answers with JSON:

    {"source": "runofshow", "action": "read"}                          -> {"services": {...}}
    {"source": "runofshow", "action": "yellow", "ack_timeout_s": 300}  -> {"services": {...}} after
    {"source": "runofshow", "action": "restore", "services": {...}}    -> {"services": {...}} after
    {"source": "runofshow", "action": "change_event", "text": "...", "at": "ISO 8601"}  -> any 2xx

`services` maps whatever the bridge calls its services to their settings (JSON objects); runofshow
keeps what `read` answered and sends it back unchanged with `restore`. Retries as for the other
webhooks (transport errors, 408, 429 with Retry-After, 5xx); then `NotifierError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from runofshow.adapters.webhook import post_json
from runofshow.errors import NotifierError
from runofshow.ports import PagerSnapshot


class WebhookPager:
    """`PagerMode` through one bridge URL."""

    name = "pager-webhook"

    def __init__(
        self, url: str, *, token: str | None = None, ack_timeout_s: int = 300, attempts: int = 3,
        backoff_s: float = 0.5, timeout_s: float = 10.0, sleep: Callable[[float], None] = time.sleep,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._ack_timeout_s = ack_timeout_s
        self._attempts, self._backoff_s, self._timeout_s, self._sleep = attempts, backoff_s, timeout_s, sleep
        self._client = client

    def _post(self, payload: Mapping[str, Any]) -> httpx.Response:
        return post_json(self._client, self.url, {"source": "runofshow", **payload}, adapter=self.name,
                         attempts=self._attempts, backoff_s=self._backoff_s, sleep=self._sleep,
                         headers=self._headers, timeout_s=self._timeout_s)

    def _snapshot(self, payload: Mapping[str, Any]) -> PagerSnapshot:
        resp = self._post(payload)
        try:
            services = resp.json()["services"]
            if not isinstance(services, dict) or not all(isinstance(v, dict) for v in services.values()):
                raise TypeError("services is not an object of objects")
        except (ValueError, KeyError, TypeError) as ex:
            raise NotifierError(f"{self.name}: {self.url}: the bridge's answer has no services ({ex})",
                                adapter=self.name, target=self.url) from None
        return PagerSnapshot({str(k): v for k, v in services.items()})

    def read_settings(self) -> PagerSnapshot:
        return self._snapshot({"action": "read"})

    def set_yellow(self) -> PagerSnapshot:
        return self._snapshot({"action": "yellow", "ack_timeout_s": self._ack_timeout_s, "urgency": "high"})

    def restore(self, snapshot: PagerSnapshot) -> PagerSnapshot:
        services = {k: dict(v) for k, v in snapshot.services.items()}
        return self._snapshot({"action": "restore", "services": services})

    def send_change_event(self, text: str, at: datetime) -> None:
        self._post({"action": "change_event", "text": text, "at": at.isoformat()})


__all__ = ["WebhookPager"]
