"""The pager's yellow mode on PagerDuty, behind `PagerMode` (httpx).

REST API v2 (`Authorization: Token token=...`, `Accept: application/vnd.pagerduty+json;version=2`):
  GET /services/{id}   read each service's incident_urgency_rule, acknowledgement_timeout and
                       scheduled_actions (the snapshot kept in the ledger)
  PUT /services/{id}   yellow: urgency high (constant), acknowledgement timeout 300 s;
                       green: the snapshot put back exactly as it was read
Events API v2: POST {events_url}/v2/change/enqueue with the integration's routing key (a change
event, shown beside incidents on the service).

401/403 fail at once (`NotifierError` naming the token's environment variable); 429 waits
Retry-After (or PagerDuty's `ratelimit-reset`), 5xx and transport errors back off; at most
`attempts` tries (the bounded retry shared with the other HTTP adapters, `http.with_retries`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from runofshow.adapters.http import RETRY_STATUS, AttemptFailed, retry_after, with_retries
from runofshow.domain.communications import pager_fields, yellow_settings
from runofshow.errors import NotifierError
from runofshow.ports import PagerSnapshot

DEFAULT_API_URL = "https://api.pagerduty.com"
DEFAULT_EVENTS_URL = "https://events.pagerduty.com"
ACCEPT = "application/vnd.pagerduty+json;version=2"


def _rate_wait(resp: httpx.Response) -> float | None:
    """Retry-After, else PagerDuty's ratelimit-reset (seconds until the window resets)."""
    wait = retry_after(resp.headers)
    if wait is None:
        try:
            wait = float(resp.headers.get("ratelimit-reset", ""))
        except ValueError:
            wait = None
    return wait


def _error_text(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            extra = "; ".join(str(x) for x in err.get("errors") or ())
            return f"{err.get('message', '')} (code {err.get('code', '?')})" + (f": {extra}" if extra else "")
        if "message" in body:
            return str(body["message"]) + "".join(f"; {e}" for e in body.get("errors") or ())
    return resp.text[:200]


class PagerDutyPager:
    """`PagerMode` for the plan's PagerDuty services."""

    name = "pagerduty"

    def __init__(
        self, service_ids: Sequence[str], *, token: str, routing_key: str | None = None,
        ack_timeout_s: int = 300, api_url: str = DEFAULT_API_URL, events_url: str = DEFAULT_EVENTS_URL,
        token_env: str = "PAGERDUTY_TOKEN", attempts: int = 4, backoff_s: float = 0.5,
        timeout_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep, transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not token:
            raise NotifierError(f"pagerduty: no API token (set {token_env})", adapter=self.name)
        self.service_ids = tuple(service_ids)
        self._routing_key = routing_key
        self._ack_timeout_s = ack_timeout_s
        self._api = api_url.rstrip("/")
        self._events = events_url.rstrip("/")
        self._token_env = token_env
        self._attempts, self._backoff_s, self._sleep = attempts, backoff_s, sleep
        self._auth = {"Authorization": f"Token token={token}"}  # the REST API only, never the Events API
        self._http = httpx.Client(timeout=timeout_s, transport=transport, headers={
            "Accept": ACCEPT, "Content-Type": "application/json", "User-Agent": "runofshow",
        })

    # ------------------------------------------------------------------ the port

    def read_settings(self) -> PagerSnapshot:
        return PagerSnapshot({sid: pager_fields(self._service("GET", sid)) for sid in self.service_ids})

    def set_yellow(self) -> PagerSnapshot:
        after = {}
        for sid in self.service_ids:
            after[sid] = pager_fields(self._service("PUT", sid, yellow_settings(self._ack_timeout_s)))
        return PagerSnapshot(after)

    def restore(self, snapshot: PagerSnapshot) -> PagerSnapshot:
        after = {}
        for sid, fields in snapshot.services.items():
            after[sid] = pager_fields(self._service("PUT", sid, dict(fields)))
        return PagerSnapshot(after)

    def send_change_event(self, text: str, at: datetime) -> None:
        if not self._routing_key:
            raise NotifierError("pagerduty: no routing key for change events", adapter=self.name)
        body = {"routing_key": self._routing_key, "payload": {
            "summary": text[:1024], "timestamp": at.isoformat(), "source": "runofshow",
        }}
        self._send("POST", f"{self._events}/v2/change/enqueue", body, ok=(202,), auth=False)

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ HTTP

    def _service(self, method: str, sid: str, fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
        body = {"service": {"type": "service", **fields}} if fields is not None else None
        resp = self._send(method, f"{self._api}/services/{sid}", body, ok=(200,))
        try:
            service = resp.json()["service"]
            if not isinstance(service, dict):
                raise TypeError("service is not an object")
            return service
        except (ValueError, KeyError, TypeError) as ex:
            raise NotifierError(f"pagerduty: {method} /services/{sid}: unexpected answer ({ex})",
                                adapter=self.name, target=sid) from None

    def _send(
        self, method: str, url: str, body: Any, *, ok: tuple[int, ...], auth: bool = True,
    ) -> httpx.Response:
        headers = self._auth if auth else None

        def once() -> httpx.Response:
            try:
                resp = self._http.request(method, url, json=body, headers=headers)
            except httpx.HTTPError as ex:
                raise AttemptFailed(f"{type(ex).__name__}: {ex}") from None
            if resp.status_code in ok:
                return resp
            text = f"HTTP {resp.status_code} {_error_text(resp)}"
            if resp.status_code in RETRY_STATUS:
                wait = _rate_wait(resp) if resp.status_code == 429 else None
                raise AttemptFailed(text, wait_s=wait)
            hint = ""
            if resp.status_code in (401, 403):
                hint = (f" (is {self._token_env} a REST API key with write access to the service?)" if auth
                        else " (is the routing key an Events API v2 integration key?)")
            raise NotifierError(f"pagerduty: {method} {url}: {text}{hint}", adapter=self.name, target=url)

        try:
            return with_retries(once, attempts=self._attempts, backoff_s=self._backoff_s, sleep=self._sleep)
        except AttemptFailed as ex:
            raise NotifierError(f"{self.name}: {url}: gave up after {self._attempts} attempts: {ex.message}",
                                adapter=self.name, target=url) from None


__all__ = ["ACCEPT", "DEFAULT_API_URL", "DEFAULT_EVENTS_URL", "PagerDutyPager"]
