"""Webhook calls the alert receiver refused (401: no or a wrong bearer token), into the ledger.

The receiver (an adapter) never writes the ledger: it reports each refusal to `RefusalLog.take`
(from its own thread), and the runner records what is due at its safe points (`record_due`), as a
`webhook_refused` event (time, source address, reason; never the token presented) and a
war-room line. A flood cannot fill the ledger: at most one event per source address per `every_s`
wall seconds; the refusals in between are counted, and the next event for that source (the latest
refusal) carries the count of the others (`suppressed`). Addresses are bounded too: beyond
`max_sources` addresses waiting or recorded in the last `every_s`, further ones are counted
together under `OTHER_SOURCES`.

    refusals = RefusalLog(recorder, clock, wake=event)
    refusals.take(WebhookRefusal(at, "10.0.0.7", "wrong bearer token", "/alerts"))   # any thread
    refusals.record_due()                                                             # the runner
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from runofshow.app.run.clock import RunClock
from runofshow.app.run.events import EventKind
from runofshow.app.run.recorder import Recorder
from runofshow.ports import WebhookRefusal

#: at most one `webhook_refused` event per source address in this many wall seconds
EVERY_S = 10.0
#: addresses with refusals waiting at once; more are counted together under OTHER_SOURCES
MAX_SOURCES = 64
OTHER_SOURCES = "(other addresses)"


@dataclass
class _Pending:
    last: WebhookRefusal  # the latest refusal not yet recorded
    count: int = 1  # refusals not yet recorded (the latest included)


class RefusalLog:
    """Refused webhook calls, rate-limited per source address, recorded by the runner."""

    def __init__(self, recorder: Recorder, clock: RunClock, *, wake: threading.Event | None = None,
                 every_s: float = EVERY_S, max_sources: int = MAX_SOURCES) -> None:
        self.rec, self.clock, self.wake = recorder, clock, wake
        self.every_s, self.max_sources = every_s, max_sources
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._recorded_at: dict[str, datetime] = {}  # wall time of each source's last event

    def _wall(self) -> datetime:
        return self.clock.to_wall(self.clock.now())

    def _due(self, source: str, wall: datetime) -> bool:
        last = self._recorded_at.get(source)
        return last is None or (wall - last).total_seconds() >= self.every_s

    def take(self, refusal: WebhookRefusal) -> None:
        """A refused call (any thread): kept until the runner records it; wakes the runner when an
        event for its source is due now (not for every call of a flood)."""
        with self._lock:
            source = refusal.source
            known = source in self._pending or source in self._recorded_at
            if not known and len(self._pending) + len(self._recorded_at) >= self.max_sources:
                source = OTHER_SOURCES
            pending = self._pending.get(source)
            if pending is None:
                self._pending[source] = _Pending(refusal)
            else:
                pending.last, pending.count = refusal, pending.count + 1
            due = pending is None and self._due(source, self._wall())
        if due and self.wake is not None:
            self.wake.set()

    def record_due(self) -> int:
        """Record every source whose event is due (runner thread only); how many were recorded."""
        wall = self._wall()
        with self._lock:
            self._recorded_at = {s: at for s, at in self._recorded_at.items()
                                 if (wall - at).total_seconds() < self.every_s}
            due = [(s, p) for s, p in self._pending.items() if self._due(s, wall)]
            for source, _ in due:
                del self._pending[source]
                self._recorded_at[source] = wall
        for source, pending in due:
            r, suppressed = pending.last, pending.count - 1
            self.rec.append(EventKind.WEBHOOK_REFUSED, {
                "source": source, "reason": r.reason, "refused_at": r.at.isoformat(),
                "suppressed": suppressed,
            })
            more = f" (+{suppressed} more from there, not recorded one by one)" if suppressed else ""
            self.rec.war_room(f"Webhook call refused from {source}: {r.reason}{more}")
        return len(due)


__all__ = ["EVERY_S", "MAX_SOURCES", "OTHER_SOURCES", "RefusalLog"]
