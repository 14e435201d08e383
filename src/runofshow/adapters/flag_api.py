"""Feature-flag API traffic router: the seed's `POST /api/features/rollout {"feature", "percentage"}`.

Read-back: `GET read_url` and the number at `read_json_path` (dotted keys and list indexes, e.g.
`percentage`, `data.rollout.percentage`, `features.0.percentage`; `{feature}` in the URL or in a
path segment is replaced by the feature name). Without `read_url` the percentage the last POST's
response body reports is the read-back (so nothing can be read back before the first set).

A flag the service does not know yet (`GET read_url` answers 404) is 0 % to the canary: the state
before T0. `current_weight()` then returns 0 and `weight_note()` says `flag <feature> absent`; the
first weight change creates it with the same `POST` (the service's create-or-update). A flag that
goes missing after this router set it is an error, not 0 %.

Setting the weight the API already reports is a no-op (one change). Transport errors, 429 and 5xx
are retried (`adapters.http`, exponential backoff); 4xx are not. Every failure becomes a `RouterError`
naming the URL.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from runofshow.adapters.http import TOO_MANY_OR_SERVER_ERROR, AttemptFailed, with_retries
from runofshow.adapters.weights import checked_weight
from runofshow.domain.connections import FlagApiRouterSettings
from runofshow.errors import RouterError

log = logging.getLogger(__name__)

ADAPTER = "flag_api"
_ABSENT = object()  # what a 404 on the read-back stands for


def _json_number(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def extract(document: Any, path: str, feature: str) -> float:
    """The number at dotted `path` in `document`. Raises KeyError/IndexError/TypeError/ValueError."""
    node = document
    for raw in path.split("."):
        segment = raw.replace("{feature}", feature)
        if isinstance(node, list):
            node = node[int(segment)]
        elif isinstance(node, dict):
            node = node[segment]
        else:
            raise TypeError(f"cannot look up '{segment}' in a {type(node).__name__}")
    if isinstance(node, bool) or not isinstance(node, int | float | str):
        raise TypeError(f"'{path}' is a {type(node).__name__}, not a number")
    value = float(node)
    if not math.isfinite(value):
        raise ValueError(f"'{path}' is not a finite number")
    return value


class FlagApiRouter:
    """`TrafficRouter` over a feature-flag HTTP API."""

    def __init__(
        self, settings: FlagApiRouterSettings, *, token: str | None = None,
        transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        headers = {"Accept": "application/json", "User-Agent": "runofshow"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(settings.timeout_s), transport=transport,
        )
        self._sleep = sleep
        self._acknowledged: float | None = None  # the POST response's percentage, without read_url
        self._absent = False  # the last read-back found no flag
        self._set: float | None = None  # the last weight this router set

    @property
    def read_url(self) -> str | None:
        if not self.settings.read_url:
            return None
        return self.settings.read_url.replace("{feature}", quote(self.settings.feature, safe=""))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> FlagApiRouter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ HTTP with retries

    def _request(self, method: str, url: str, *, absent: Any = None, **kwargs: Any) -> Any:
        """The JSON answer; `absent` (not None) is returned for a 404 instead of failing."""

        def once() -> Any:
            response = self._client.request(method, url, **kwargs)
            if absent is not None and response.status_code == 404:
                return absent
            if response.is_error:
                raise AttemptFailed.of(response, retry_status=TOO_MANY_OR_SERVER_ERROR)
            return response.json() if response.content else None

        try:
            return with_retries(once, attempts=self.settings.retries, backoff_s=self.settings.backoff_s,
                                max_backoff_s=10, sleep=self._sleep)
        except (httpx.HTTPError, AttemptFailed) as e:
            raise RouterError(f"flag API: {method} {url} failed: {e}", adapter=ADAPTER, target=url) from e
        except ValueError as e:  # body is not JSON
            raise RouterError(f"flag API: {method} {url} did not answer JSON", adapter=ADAPTER,
                              target=url) from e

    def _percentage(self, document: Any, url: str) -> float:
        try:
            return extract(document, self.settings.read_json_path, self.settings.feature)
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise RouterError(
                f"flag API: {url} has no percentage at '{self.settings.read_json_path}' ({e})",
                adapter=ADAPTER, target=url,
            ) from e

    # ------------------------------------------------------------------ TrafficRouter

    def current_weight(self) -> float:
        url = self.read_url
        if url is None:
            if self._acknowledged is None:
                raise RouterError(
                    "flag API: no read_url is configured and nothing has been set yet, so there is "
                    "nothing to read back", adapter=ADAPTER, target=self.settings.url,
                )
            return self._acknowledged
        answer = self._request("GET", url, absent=_ABSENT)
        self._absent = answer is _ABSENT
        if not self._absent:
            return self._percentage(answer, url)
        if self._set:
            raise RouterError(f"flag API: flag {self.settings.feature} is absent ({url} answered 404) "
                              f"although it was set to {self._set:g} %", adapter=ADAPTER, target=url)
        return 0.0

    def weight_note(self) -> str | None:
        """`flag <feature> absent` when the last read-back found no flag (0 % to the canary)."""
        return f"flag {self.settings.feature} absent" if self._absent else None

    def set_weight(self, weight: float) -> None:
        w = checked_weight(weight)
        if self.read_url is not None or self._acknowledged is not None:
            try:
                if self.current_weight() == w:
                    return  # already there: no second change
            except RouterError as err:  # the read is only an optimisation; the write below is idempotent
                log.debug("flag API: reading back before setting %g %% failed: %s", w, err)
        url = self.settings.url
        body = {"feature": self.settings.feature, "percentage": _json_number(w)}
        answer = self._request("POST", url, json=body)  # creates the flag when it is absent
        self._set, self._absent = w, False
        if self.read_url is None:
            self._acknowledged = self._percentage(answer, url)


__all__ = ["FlagApiRouter", "extract"]
