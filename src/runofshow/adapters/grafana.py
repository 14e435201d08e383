"""Grafana: annotations on the war-room dashboard, and a health check.

`GrafanaAnnotator` POSTs to `/api/annotations` (the classic HTTP API) with a service-account
token as `Authorization: Bearer ...`:

    {"time": <epoch ms>, "tags": ["runofshow", ...], "text": "...", "dashboardUID": "..."}

Grafana answers 200 `{"id": 1, "message": "Annotation added"}`. 401/403 (bad token, no
permission) fail at once; transport errors, 429 and 5xx are retried (`webhook.post_json`).
Without `dashboard_uid` the annotation is an organisation annotation, shown on dashboards that
query its tags (the runofshow dashboard does, by the tag `runofshow`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import httpx

from runofshow.adapters.webhook import post_json
from runofshow.errors import NotifierError

DEFAULT_TAGS = ("runofshow",)


def annotation_payload(
    at: datetime, text: str, tags: Sequence[str], dashboard_uid: str | None = None,
    default_tags: Sequence[str] = DEFAULT_TAGS,
) -> dict[str, Any]:
    if at.tzinfo is None:
        raise ValueError("annotation time must be timezone-aware")
    merged = list(dict.fromkeys([*default_tags, *tags]))
    body: dict[str, Any] = {"time": round(at.timestamp() * 1000), "tags": merged, "text": text}
    if dashboard_uid:
        body["dashboardUID"] = dashboard_uid
    return body


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


class GrafanaAnnotator:
    """An `Annotator` writing Grafana annotations (stage transitions, holds, rollbacks)."""

    name = "grafana"

    def __init__(
        self, url: str, token: str | None, *, dashboard_uid: str | None = None,
        default_tags: Sequence[str] = DEFAULT_TAGS, attempts: int = 3, backoff_s: float = 0.5,
        timeout_s: float = 10.0, sleep: Callable[[float], None] = time.sleep,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.dashboard_uid = dashboard_uid
        self.default_tags = tuple(default_tags)
        self.last_id: int | None = None
        self._headers = _auth(token)
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._timeout_s = timeout_s
        self._client = client

    def annotate(self, at: datetime, text: str, tags: Sequence[str]) -> None:
        body = annotation_payload(at, text, tags, self.dashboard_uid, self.default_tags)
        resp = post_json(
            self._client, f"{self.url}/api/annotations", body, adapter=self.name,
            attempts=self._attempts, backoff_s=self._backoff_s, sleep=self._sleep,
            headers=self._headers, timeout_s=self._timeout_s,
        )
        try:
            self.last_id = int(resp.json()["id"])
        except (ValueError, KeyError, TypeError):
            self.last_id = None  # delivered; Grafana just did not say which id


class GrafanaHealth:
    """Preflight checks: Grafana answers, and the war-room dashboard exists."""

    def __init__(self, url: str, token: str | None = None, *, timeout_s: float = 5.0,
                 client: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        self._headers = _auth(token)
        self._timeout_s = timeout_s
        self._client = client

    def _get(self, path: str) -> httpx.Response:
        try:
            if self._client is not None:
                return self._client.get(f"{self.url}{path}", headers=self._headers)
            with httpx.Client(timeout=self._timeout_s) as client:
                return client.get(f"{self.url}{path}", headers=self._headers)
        except httpx.HTTPError as ex:
            raise NotifierError(f"grafana: {self.url}{path}: {type(ex).__name__}: {ex}",
                                adapter="grafana", target=self.url) from None

    def version(self) -> str:
        """Grafana's version from /api/health when its database is ok; NotifierError otherwise."""
        resp = self._get("/api/health")
        try:
            data = resp.json()
        except ValueError:
            data = {}
        if resp.status_code != 200 or data.get("database") != "ok":
            raise NotifierError(f"grafana: {self.url}/api/health: HTTP {resp.status_code} {resp.text[:200]}",
                                adapter="grafana", target=self.url)
        return str(data.get("version", "unknown"))

    def dashboard_exists(self, uid: str) -> bool:
        """True when /api/dashboards/uid/<uid> answers 200, False on 404; NotifierError otherwise."""
        resp = self._get(f"/api/dashboards/uid/{uid}")
        if resp.status_code == 404:
            return False
        if resp.status_code != 200:
            raise NotifierError(f"grafana: dashboard {uid}: HTTP {resp.status_code} {resp.text[:200]}",
                                adapter="grafana", target=self.url)
        return True
