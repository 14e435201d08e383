"""Generic JSON webhook notifier (httpx), and the bounded retrying POST it shares with Grafana.

The body is one JSON object:

    {"source": "runofshow", "event": "stage", "text": "...", "fields": {...}}

2xx is delivered. Transport errors, 408, 425, 429 and 500/502/503/504 are retried with exponential
backoff (`adapters.http`; Retry-After is honoured, capped); any other status fails at once. After
the last attempt: `NotifierError` naming the adapter and the URL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx

from runofshow.adapters.http import RETRY_STATUS, AttemptFailed, retry_after, with_retries
from runofshow.errors import NotifierError

T = TypeVar("T")


def deliver(
    send_once: Callable[[], T], *, adapter: str, target: str, attempts: int = 3,
    backoff_s: float = 0.5, sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `send_once` up to `attempts` times while it raises a retryable `AttemptFailed`, waiting
    backoff_s, 2*backoff_s, ... (or the server's Retry-After, capped at 30 s) in between; then
    `NotifierError`."""
    attempts = max(1, attempts)
    try:
        return with_retries(send_once, attempts=attempts, backoff_s=backoff_s, sleep=sleep)
    except AttemptFailed as ex:
        raise NotifierError(f"{adapter}: {target}: gave up after {attempts} attempts: {ex.message}",
                            adapter=adapter, target=target) from None


def post_json(
    client: httpx.Client | None, url: str, payload: Mapping[str, Any], *, adapter: str,
    attempts: int = 3, backoff_s: float = 0.5, sleep: Callable[[float], None] = time.sleep,
    headers: Mapping[str, str] | None = None, timeout_s: float = 10.0,
) -> httpx.Response:
    """POST `payload` as JSON with retries; the 2xx response, or NotifierError. Without a
    `client`, one is opened for the call and closed after it (notifications are rare; no
    keep-alive connection is left to go stale over a 24 h run)."""
    body = json.loads(json.dumps(payload, default=str))  # datetimes, Decimals ... as text
    if client is None:
        with httpx.Client(timeout=timeout_s) as own:
            return post_json(own, url, body, adapter=adapter, attempts=attempts, backoff_s=backoff_s,
                             sleep=sleep, headers=headers)

    def once() -> httpx.Response:
        try:
            resp = client.post(url, json=body, headers=dict(headers or {}))
        except httpx.HTTPError as ex:
            raise AttemptFailed(f"{type(ex).__name__}: {ex}") from None
        if resp.is_success:
            return resp
        message = f"HTTP {resp.status_code} {resp.text[:200]}".strip()
        if resp.status_code in RETRY_STATUS:
            raise AttemptFailed(message, wait_s=retry_after(resp.headers))
        raise NotifierError(f"{adapter}: {url}: {message}", adapter=adapter, target=url)

    return deliver(once, adapter=adapter, target=url, attempts=attempts, backoff_s=backoff_s, sleep=sleep)


def webhook_payload(event: str, text: str, fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"source": "runofshow", "event": event, "text": text, "fields": dict(fields or {})}


class JsonWebhookNotifier:
    """A `Notifier` that POSTs `{source, event, text, fields}` to one URL."""

    name = "webhook"

    def __init__(
        self, url: str, *, headers: Mapping[str, str] | None = None, attempts: int = 3,
        backoff_s: float = 0.5, timeout_s: float = 10.0, sleep: Callable[[float], None] = time.sleep,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url
        self._headers = dict(headers or {})
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._timeout_s = timeout_s
        self._client = client

    def notify(self, event: str, text: str, fields: Mapping[str, Any] | None = None) -> None:
        post_json(
            self._client, self.url, webhook_payload(event, text, fields), adapter=self.name,
            attempts=self._attempts, backoff_s=self._backoff_s, sleep=self._sleep,
            headers=self._headers, timeout_s=self._timeout_s,
        )
