"""Notifications that never slow the run: a fan-out to every channel, and the run-of-show's texts.

`NotifierFanout` is itself a `Notifier` and an `Annotator`. `notify`/`annotate` only put a job on
each channel's bounded queue and return; one daemon thread per channel delivers, so a hanging
Slack cannot delay Grafana, and neither can delay the run. A delivery that raises is retried
(`attempts`, exponential backoff; real adapters also retry inside), then logged, kept in
`failures` and passed to `on_failure` (the runner appends `notify_failed` to the ledger; note
that `on_failure` runs on the channel's thread). Nothing raises into the caller. `flush(timeout)`
waits for the queues to drain (tests, shutdown); `close(timeout)` flushes and stops the threads.

The texts are the seed's own (`freeze_open`, `canary_complete`, `stable_24h`) plus one line each
for a stage transition, a hold, a rollback, a halt and the hourly first-night check-in.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from runofshow.ports import Annotator, Notifier

log = logging.getLogger("runofshow.notify")


class Event(StrEnum):
    """The `event` names notifications carry (webhooks can route on them)."""

    FREEZE_OPEN = "freeze_open"
    PREFLIGHT = "preflight"
    STAGE = "stage"
    HOLD = "hold"
    ROLLBACK = "rollback"
    CANARY_COMPLETE = "canary_complete"
    CHECKIN = "checkin"
    STABLE = "stable"
    FREEZE_LIFTED = "freeze_lifted"
    HALTED = "halted"


# --------------------------------------------------------------------------- texts


def _reasons(reasons: Sequence[str] | str) -> str:
    return reasons if isinstance(reasons, str) else "; ".join(reasons)


def freeze_open(version: str) -> str:
    return f"🔒 Freeze window open for {version} canary"


def preflight_confirmed(passed: int, total: int, blast_passed: bool) -> str:
    """The IC's T-10 confirmation, e.g. "Preflight 9/9 ✅, Blast radius PASS ✅"."""
    ok = "✅" if passed == total else "❌"
    blast = "PASS ✅" if blast_passed else "FAIL ❌"
    return f"Preflight {passed}/{total} {ok}, Blast radius {blast}"


def stage_transition(version: str, stage: int, weight: float, observed: str = "") -> str:
    """`stage` is 1-based; `observed` is the war-room metric line (p95=142ms 5xx=0.2% ...)."""
    text = f"▶️ {version} canary: Stage {stage} ({weight:g}%) start"
    return f"{text} | {observed}" if observed else text


def hold(version: str, stage: int, weight: float, minutes: float, reasons: Sequence[str] | str) -> str:
    return f"⏸️ {version} canary held at Stage {stage} ({weight:g}%) for {minutes:g} min: {_reasons(reasons)}"


def ic_hold(version: str, stage: int, weight: float, by: str, reason: str) -> str:
    """The incident commander holds the stage until they proceed (`runofshow decide ... hold`)."""
    return f"⏸️ {version} canary held at Stage {stage} ({weight:g}%) by {by} until the IC proceeds: {reason}"


def rollback(version: str, stage: int | None, weight: float | None, reasons: Sequence[str] | str) -> str:
    where = f" at Stage {stage} ({weight:g}%)" if stage is not None and weight is not None else ""
    return f"🚨 {version} canary ROLLED BACK{where}, canary traffic 0%: {_reasons(reasons)}"


def canary_complete(first_weight: float = 1, last_weight: float = 100, monitor_h: float = 24) -> str:
    return f"✅ Canary complete ({first_weight:g}→{last_weight:g}%), entering {monitor_h:g}h monitoring"


def checkin(version: str, hour: int, hours: float, summary: str) -> str:
    """The hourly first-night check-in, e.g. hour 3 of 24."""
    return f"🌙 {version} first night check-in {hour}/{hours:g}h: {summary}"


def stable_24h(version: str, hours: float = 24, freeze_lifted: bool = True) -> str:
    return f"✅ {version} stable ({hours:g}h)" + (", freeze lifted" if freeze_lifted else "")


def halted(version: str, reason: str) -> str:
    """The run stopped with traffic left where it is (held past its limit, window closed, a failed
    preflight): people must decide."""
    return f"⛔ {version} canary halted, traffic left where it is: {reason}"


def freeze_lifted(version: str, reason: str) -> str:
    return f"🔓 Freeze lifted for {version}: {reason}"


# --------------------------------------------------------------------------- fan-out


@dataclass(frozen=True)
class DeliveryFailure:
    channel: str
    event: str
    error: str


@dataclass(frozen=True)
class _Job:
    event: str
    send: Callable[[], None]


_STOP = _Job("stop", lambda: None)


class _Channel:
    def __init__(self, name: str, queue_max: int) -> None:
        self.name = name
        self.queue: queue.Queue[_Job] = queue.Queue(maxsize=queue_max)
        self.thread: threading.Thread | None = None
        self.pending = 0  # queued or being sent (guarded by the fan-out's condition)
        self.last_error = ""  # the newest attempt that raised, retried or not


class NotifierFanout:
    """Sends every notification to all notifiers and every annotation to all annotators, in the
    background. Implements both `Notifier` and `Annotator`; never raises, never blocks."""

    def __init__(
        self, notifiers: Sequence[Notifier] = (), annotators: Sequence[Annotator] = (), *,
        attempts: int = 2, backoff_s: float = 1.0, queue_max: int = 1000,
        on_failure: Callable[[DeliveryFailure], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._attempts = max(1, attempts)
        self._backoff_s = backoff_s
        self._on_failure = on_failure
        self._sleep = sleep
        self._cond = threading.Condition()
        self._pending = 0
        self._closed = False
        self.failures: deque[DeliveryFailure] = deque(maxlen=200)
        self.delivered = 0
        self._names: set[str] = set()
        self._notifiers = [(self._channel(n, queue_max), n) for n in notifiers]
        self._annotators = [(self._channel(a, queue_max), a) for a in annotators]

    def _channel(self, target: object, queue_max: int) -> _Channel:
        base = str(getattr(target, "name", type(target).__name__))
        name, n = base, 2
        while name in self._names:
            name, n = f"{base}#{n}", n + 1
        self._names.add(name)
        return _Channel(name, queue_max)

    @property
    def channels(self) -> list[str]:
        return [c.name for c, _ in self._notifiers + self._annotators]

    # -- the two ports

    def notify(self, event: str, text: str, fields: Mapping[str, Any] | None = None) -> None:
        try:
            frozen = dict(fields or {})
            for channel, target in self._notifiers:
                self._put(channel, _Job(event, _bind_notify(target, event, text, frozen)))
        except Exception:  # never into the caller
            log.exception("notify %s: could not queue", event)

    def annotate(self, at: datetime, text: str, tags: Sequence[str]) -> None:
        try:
            frozen = tuple(tags)
            for channel, target in self._annotators:
                self._put(channel, _Job("annotation", _bind_annotate(target, at, text, frozen)))
        except Exception:
            log.exception("annotate: could not queue")

    # -- queueing and delivery

    def _put(self, channel: _Channel, job: _Job) -> None:
        if self._closed:
            self._failed(channel.name, job.event, "fan-out is closed")
            return
        with self._cond:
            self._pending += 1
            channel.pending += 1
        try:
            channel.queue.put_nowait(job)
        except queue.Full:
            self._done(channel)
            self._failed(channel.name, job.event, "queue full, message dropped")
            return
        with self._cond:
            if channel.thread is None:
                channel.thread = threading.Thread(
                    target=self._work, args=(channel,), name=f"notify-{channel.name}", daemon=True
                )
                channel.thread.start()

    def _work(self, channel: _Channel) -> None:
        while True:  # ends on _STOP (close); a daemon, so a hung channel cannot hold the process
            job = channel.queue.get()
            if job is _STOP:
                return
            try:
                self._deliver(channel, job)
            finally:
                self._done(channel)

    def _deliver(self, channel: _Channel, job: _Job) -> None:
        error = ""
        for n in range(self._attempts):
            try:
                job.send()
            except Exception as ex:
                error = f"{type(ex).__name__}: {ex}"
                with self._cond:
                    channel.last_error = error
                if n + 1 < self._attempts:
                    self._sleep(self._backoff_s * 2**n)
                continue
            with self._cond:
                self.delivered += 1
            return
        self._failed(channel.name, job.event, error)

    def _failed(self, channel: str, event: str, error: str) -> None:
        failure = DeliveryFailure(channel, event, error)
        log.warning("notification %s to %s failed: %s", event, channel, error)
        self.failures.append(failure)
        if self._on_failure is not None:
            try:
                self._on_failure(failure)
            except Exception:
                log.exception("on_failure callback raised")

    def _done(self, channel: _Channel) -> None:
        with self._cond:
            self._pending -= 1
            channel.pending -= 1
            self._cond.notify_all()

    def undelivered(self) -> list[DeliveryFailure]:
        """One line per channel that still has messages queued or in flight (a run that ends
        while a channel is retrying), with the newest error that channel saw, if any."""
        with self._cond:
            stuck = [(c.name, c.pending, c.last_error) for c, _ in self._notifiers + self._annotators
                     if c.pending > 0]
        return [DeliveryFailure(name, "undelivered", f"{n} message(s) not delivered when the run ended"
                                + (f" (last error: {error})" if error else " (still sending)"))
                for name, n, error in stuck]

    # -- shutdown

    def flush(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for every queued message to be delivered or given up;
        True when nothing is left."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout=max(0.0, timeout))

    def close(self, timeout: float = 5.0) -> bool:
        """Flush, then stop the channel threads. Later messages are dropped (and logged)."""
        deadline = time.monotonic() + max(0.0, timeout)
        drained = self.flush(timeout)
        self._closed = True
        for channel, _ in self._notifiers + self._annotators:
            if channel.thread is None:
                continue
            try:
                channel.queue.put_nowait(_STOP)
            except queue.Full:
                continue
            channel.thread.join(max(0.0, deadline - time.monotonic()))
        return drained


def _bind_notify(target: Notifier, event: str, text: str, fields: Mapping[str, Any]) -> Callable[[], None]:
    return lambda: target.notify(event, text, fields)


def _bind_annotate(target: Annotator, at: datetime, text: str, tags: Sequence[str]) -> Callable[[], None]:
    return lambda: target.annotate(at, text, tags)
