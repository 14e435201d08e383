"""What a worker puts between a run and its router and metrics source (issue 13):

- **fencing of traffic**: before every `set_weight` the lease is checked in the database (same
  epoch, still running, and unexpired for at least `margin_s` more seconds by the database's
  clock). A worker that was paused past its lease, or whose renewals stopped, is refused there
  (`LeaseLostError`) and moves no traffic; its intent stays open and the new owner settles it by
  reading the router back. A pause longer than `margin_s` *between* the check and the router's
  own call is the one window left: routers take no fencing token.
- **per-call timeouts**: every router and metrics call runs on a small pool and is abandoned after
  `timeout_s` (a `RouterError` or `MetricsUnavailableError`, which the runner already handles), so a
  hung source or router cannot hold a run -- and the lease its worker keeps renewing -- forever,
  and one run's slow call never waits on another's (each run has its own pool).

No I/O here but through the wrapped ports and the `fence` callable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import Any, TypeVar

from runofshow.domain.tick import TrackSample
from runofshow.errors import AdapterError, MetricsUnavailableError, RouterError
from runofshow.ports import MetricsSource, TrafficRouter

T = TypeVar("T")

#: default seconds one router or metrics call may take in a worker
CALL_TIMEOUT_S = 10.0


class CallTimeout:
    """Runs calls on their own daemon threads and gives up waiting after `timeout_s`.

    A thread per call (not a pool): a hung call keeps its thread, and a later call is never
    queued behind it. `hung` counts the calls abandoned and still running."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.hung = 0
        self._lock = threading.Lock()

    def call(self, what: str, fn: Callable[[], T], error: type[AdapterError], adapter: str) -> T:
        future: Future[T] = Future()
        abandoned = threading.Event()

        def target() -> None:
            try:
                future.set_result(fn())
            except BaseException as err:  # handed to the caller
                future.set_exception(err)
            with self._lock:
                if abandoned.is_set():
                    self.hung -= 1

        threading.Thread(target=target, name=f"call-{what}", daemon=True).start()
        try:
            return future.result(self.timeout_s)
        except FutureTimeout:
            with self._lock:
                if not future.done():
                    abandoned.set()
                    self.hung += 1
            if future.done():
                return future.result()
            raise error(f"{what} took longer than {self.timeout_s:g} s: abandoned", adapter=adapter) from None


class GuardedRouter:
    """A `TrafficRouter` whose writes are fenced by the lease and whose calls time out."""

    def __init__(self, router: TrafficRouter, *, fence: Callable[[], None] | None,
                 calls: CallTimeout) -> None:
        self.inner, self.fence, self.calls = router, fence, calls
        self._name = type(router).__name__

    def set_weight(self, weight: float) -> None:
        if self.fence is not None:
            self.fence()  # LeaseLostError: this worker no longer drives the run
        self.calls.call("set_weight", lambda: self.inner.set_weight(weight), RouterError, self._name)

    def current_weight(self) -> float:
        return self.calls.call("current_weight", self.inner.current_weight, RouterError, self._name)

    def weight_note(self) -> str | None:
        note = getattr(self.inner, "weight_note", None)
        return note() if callable(note) else None

    def __getattr__(self, name: str) -> Any:  # settings, ...: the router's own
        return getattr(self.inner, name)


class GuardedMetrics:
    """A `MetricsSource` whose calls time out (a timeout is no data for that tick)."""

    def __init__(self, metrics: MetricsSource, *, calls: CallTimeout) -> None:
        self.inner, self.calls = metrics, calls
        self._name = type(metrics).__name__

    def observe(self, at: datetime, window_s: float) -> tuple[TrackSample | None, TrackSample | None]:
        return self.calls.call("observe", lambda: self.inner.observe(at, window_s), MetricsUnavailableError,
                               self._name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def guard_ports(fence: Callable[[], None] | None, timeout_s: float = CALL_TIMEOUT_S
                ) -> Callable[[TrafficRouter, MetricsSource], tuple[TrafficRouter, MetricsSource]]:
    """The `wrap_ports` a worker hands to `bootstrap.build_world`."""

    def wrap(router: TrafficRouter, metrics: MetricsSource) -> tuple[TrafficRouter, MetricsSource]:
        calls = CallTimeout(timeout_s)
        return GuardedRouter(router, fence=fence, calls=calls), GuardedMetrics(metrics, calls=calls)

    return wrap


__all__ = ["CALL_TIMEOUT_S", "CallTimeout", "GuardedMetrics", "GuardedRouter", "guard_ports"]
