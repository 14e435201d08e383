"""The HTTP adapters' one retry helper: which failures are retried, how long it waits, what it raises."""

from __future__ import annotations

import httpx
import pytest

from runofshow.adapters.http import AttemptFailed, retry_after, with_retries


def failing(*errors: BaseException, result: str = "ok"):
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return result

    return attempt, calls


def test_backoff_doubles_and_is_capped() -> None:
    slept: list[float] = []
    attempt, calls = failing(*[AttemptFailed("busy")] * 4)
    assert with_retries(attempt, attempts=5, backoff_s=1, max_backoff_s=3, sleep=slept.append) == "ok"
    assert slept == [1, 2, 3, 3] and len(calls) == 5


def test_the_servers_wait_wins_when_longer_and_is_capped() -> None:
    slept: list[float] = []
    attempt, _ = failing(AttemptFailed("429", wait_s=7), AttemptFailed("429", wait_s=0.1),
                         AttemptFailed("429", wait_s=90))
    with_retries(attempt, attempts=4, backoff_s=0.5, max_server_wait_s=30, sleep=slept.append)
    assert slept == [7, 1.0, 30]


def test_transport_errors_are_retried_and_the_last_error_is_raised() -> None:
    slept: list[float] = []
    attempt, calls = failing(*[httpx.ConnectError("refused")] * 3)
    with pytest.raises(httpx.ConnectError):
        with_retries(attempt, attempts=3, backoff_s=0.1, sleep=slept.append)
    assert len(calls) == 3 and slept == [0.1, 0.2]


def test_a_failure_not_worth_another_try_is_raised_at_once() -> None:
    slept: list[float] = []
    for error in (AttemptFailed("HTTP 404", retry=False), ValueError("not JSON")):
        attempt, calls = failing(error)
        with pytest.raises(type(error)):
            with_retries(attempt, attempts=3, backoff_s=0.1, sleep=slept.append)
        assert len(calls) == 1
    assert slept == []


def test_at_least_one_attempt() -> None:
    attempt, calls = failing()
    assert with_retries(attempt, attempts=0, backoff_s=1, sleep=lambda s: None) == "ok" and calls == [1]


def test_an_error_answer_and_retry_after() -> None:
    busy = httpx.Response(503, text=" overloaded ", headers={"Retry-After": "4"})
    failed = AttemptFailed.of(busy, honour_retry_after=True)
    assert failed.retry and failed.wait_s == 4 and failed.message == "HTTP 503: overloaded"
    assert failed.response is busy
    assert not AttemptFailed.of(httpx.Response(404), retry_status={429}).retry
    assert AttemptFailed.of(busy).wait_s is None
    assert retry_after({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}) is None
    assert retry_after({}) is None
