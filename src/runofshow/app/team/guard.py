"""What a worker puts between a run and its router and metrics source (issue 13):

- **fencing of traffic**: before every `set_weight` the lease is checked in the database (same
  epoch, still running, and unexpired for at least `margin_s` more seconds by the database's
  clock). A worker that was paused past its lease, or whose renewals stopped, is refused there
  (`LeaseLostError`) and moves no traffic; its intent stays open and the new owner settles it by
  reading the router back. A pause longer than `margin_s` *between* the check and the router's
  own call is the one window left: routers take no fencing token.
- **per-call timeouts**: every router and metrics call runs on a thread the process keeps for such
  calls (`CallThreads`: an idle one, or a new one when all are busy or hung) and is abandoned after
  `timeout_s` (a `RouterError` or `MetricsUnavailableError`, which the runner already handles), so a
  hung source or router cannot hold a run -- and the lease its worker keeps renewing -- forever,
  and one run's slow call never waits on another's.

No I/O here but through the wrapped ports and the `fence` callable.
"""

from __future__ import annotations

import queue
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


class CallThreads:
    """Threads kept for the next calls: a call takes an idle thread or starts one, so a hung call
    keeps its thread and no call ever waits behind another -- as with a thread per call, without
    starting one per call (a thousand runs' ticks started a hundred a second). A thread idle for
    `idle_s` ends."""

    def __init__(self, idle_s: float = 30.0) -> None:
        self.idle_s = idle_s
        self._tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._idle = 0  # threads waiting for a task, less the tasks already handed to them
        self._lock = threading.Lock()

    def run(self, task: Callable[[], None]) -> None:
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
                self._tasks.put(task)
                return
        threading.Thread(target=self._serve, args=(task,), name="guarded-call", daemon=True).start()

    def _serve(self, task: Callable[[], None]) -> None:
        while True:
            task()
            with self._lock:
                self._idle += 1
            while True:
                try:
                    task = self._tasks.get(timeout=self.idle_s)
                    break
                except queue.Empty:
                    with self._lock:
                        if self._idle > 0:  # no task is on its way to this thread: end it
                            self._idle -= 1
                            return
                    # every waiting thread has a task coming: wait for it


#: the threads every worker's guarded calls share (one process, one set)
SHARED_THREADS = CallThreads()


class CallTimeout:
    """Runs calls on `threads` (an idle one or a new one) and gives up waiting after `timeout_s`.

    A hung call keeps its thread, and a later call is never queued behind it. `hung` counts the
    calls abandoned and still running."""

    def __init__(self, timeout_s: float, threads: CallThreads | None = None) -> None:
        self.timeout_s = timeout_s
        self.threads = SHARED_THREADS if threads is None else threads
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

        self.threads.run(target)
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


__all__ = ["CALL_TIMEOUT_S", "CallThreads", "CallTimeout", "GuardedMetrics", "GuardedRouter", "guard_ports"]
