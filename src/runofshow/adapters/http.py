"""Bounded retries for the HTTP adapters, one way (tenacity).

An attempt is a function. It returns the answer, or raises `AttemptFailed` (with `retry=True` for
an answer worth another try: a 429, a 5xx, a rate limit) or lets an `httpx.TransportError` out
(retried too). Between attempts the wait is `backoff_s`, `2 * backoff_s`, ... capped at
`max_backoff_s`; when the server said how long to wait (Retry-After, a rate-limit reset) and the
adapter passed it on as `wait_s`, the longer of the two, capped at `max_server_wait_s`. After the
last attempt the last exception is raised again, for the adapter to translate into its own error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

T = TypeVar("T")

#: answers worth another try: timeout, too early, too many requests, server errors
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
#: the routers' rule: 429 and every 5xx
TOO_MANY_OR_SERVER_ERROR = frozenset({429, *range(500, 600)})
MAX_BACKOFF_S = 30.0


class AttemptFailed(Exception):
    """One attempt's failure. `retry`: worth another try; `wait_s`: how long the server asked to
    wait; `response`: the answer, when there was one."""

    def __init__(
        self, message: str, *, retry: bool = True, wait_s: float | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry = retry
        self.wait_s = wait_s
        self.response = response

    @classmethod
    def of(
        cls, response: httpx.Response, *, retry_status: Collection[int] = RETRY_STATUS,
        honour_retry_after: bool = False,
    ) -> AttemptFailed:
        """An error answer: `HTTP 503: <body>`, retried when its status is in `retry_status`."""
        return cls(
            f"HTTP {response.status_code}: {response.text[:200].strip()}",
            retry=response.status_code in retry_status, response=response,
            wait_s=retry_after(response.headers) if honour_retry_after else None,
        )


def retry_after(headers: Mapping[str, Any]) -> float | None:
    """The Retry-After header in seconds (the number form), or None."""
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


def _worth_another_try(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TransportError) or (isinstance(exc, AttemptFailed) and exc.retry)


def with_retries(
    attempt: Callable[[], T], *, attempts: int, backoff_s: float, max_backoff_s: float = MAX_BACKOFF_S,
    max_server_wait_s: float = MAX_BACKOFF_S, sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `attempt` up to `attempts` times (at least once) while it fails in a way worth another
    try; its result, or its last exception."""

    def wait(state: RetryCallState) -> float:
        backoff = min(backoff_s * 2 ** (state.attempt_number - 1), max_backoff_s)
        exc = state.outcome.exception() if state.outcome is not None else None
        server = exc.wait_s if isinstance(exc, AttemptFailed) else None
        return backoff if server is None else min(max(backoff, server), max_server_wait_s)

    retrying = Retrying(
        stop=stop_after_attempt(max(1, attempts)), wait=wait, sleep=sleep,
        retry=retry_if_exception(_worth_another_try), reraise=True,
    )
    return retrying(attempt)


__all__ = ["RETRY_STATUS", "TOO_MANY_OR_SERVER_ERROR", "AttemptFailed", "retry_after", "with_retries"]
