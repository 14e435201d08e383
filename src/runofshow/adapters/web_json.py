"""Gate metrics from plain JSON endpoints (like Argo Rollouts' web metric provider).

Each metric names, per track, a URL and a dotted path into the JSON it returns (`data.p95_ms`,
`items.0.value`). A missing path, null, a boolean or a non-number is None (NoData), never 0.
An endpoint that cannot be reached (after retries) or does not return JSON raises
`MetricsUnavailableError`; the same URL is fetched once per `observe`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from runofshow.adapters.http import with_retries
from runofshow.domain.connections import WebJsonSettings
from runofshow.domain.tick import TrackSample
from runofshow.errors import MetricsUnavailableError

REQUESTS = "requests"


def json_path(document: Any, path: str) -> Any:
    """The value at a dotted `path` (list items by index), or None when any step is missing."""
    node = document
    for part in path.split(".") if path else []:
        if isinstance(node, Mapping):
            if part not in node:
                return None
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(node) <= index < len(node):
                return None
            node = node[index]
        else:
            return None
    return node


def number(value: Any) -> float | None:
    """A finite number, or None for null, booleans, strings, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


class WebJsonMetricsSource:
    """The `MetricsSource` port on JSON endpoints. A metric named `requests` fills the request count."""

    def __init__(
        self, settings: WebJsonSettings, *, headers: Mapping[str, str] | None = None, retries: int = 2,
        backoff_s: float = 0.2, transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._http = httpx.Client(timeout=httpx.Timeout(settings.timeout_s), headers=dict(headers or {}),
                                  transport=transport)
        self._attempts = retries + 1
        self._backoff_s = backoff_s

    def _fetch(self, url: str) -> Any:
        try:
            response = with_retries(lambda: self._http.get(url), attempts=self._attempts,
                                    backoff_s=self._backoff_s, max_backoff_s=max(self._backoff_s, 5.0))
        except httpx.TransportError as exc:
            raise MetricsUnavailableError(f"web_json {url}: {type(exc).__name__}: {exc or 'no answer'}",
                                          adapter="web_json", target=url) from exc
        if response.status_code >= 400:
            raise MetricsUnavailableError(f"web_json {url}: HTTP {response.status_code}", adapter="web_json",
                                          target=url)
        try:
            return response.json()
        except ValueError:
            raise MetricsUnavailableError(f"web_json {url}: the answer is not JSON", adapter="web_json",
                                          target=url) from None

    def observe(self, at: datetime, window_s: float) -> tuple[TrackSample | None, TrackSample | None]:
        documents: dict[str, Any] = {}
        samples = []
        for track in ("baseline", "canary"):
            values: dict[str, float | None] = {}
            requests: float | None = None
            for name, metric in self.settings.metrics.items():
                endpoint = getattr(metric, track)
                if endpoint.url not in documents:
                    documents[endpoint.url] = self._fetch(endpoint.url)
                value = number(json_path(documents[endpoint.url], endpoint.path))
                if name == REQUESTS:
                    requests = value
                else:
                    values[name] = value
            samples.append(TrackSample(values=values, requests=requests))
        return samples[0], samples[1]

    def close(self) -> None:
        self._http.close()
