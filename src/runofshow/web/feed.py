"""One ledger poller per run in this process, shared by every event stream open on that run.

Fifty browsers watching a run would otherwise ask the ledger for new events fifty times per poll;
here one task asks, keeps the recent events, and wakes the streams. A stream first catches up from
the ledger itself (from its `Last-Event-ID`), then takes what the poller found; a stream that is
behind what the poller still keeps reads the ledger again. Nothing here is needed by another
replica: it is only who to wake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from runofshow.ports import LedgerEvent

KEEP = 2000  # events kept per run for streams that are a little behind


@dataclass
class _RunFeed:
    last_seq: int
    events: list[LedgerEvent] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # set (and replaced) on new events
    watchers: int = 0
    task: asyncio.Task[None] | None = None


class Feed:
    def __init__(self, read: Callable[[str, int], list[LedgerEvent]], poll_s: float) -> None:
        self._read = read  # ledger.events(run_id, after_seq)
        self._poll_s = poll_s
        self._runs: dict[str, _RunFeed] = {}

    async def read(self, run_id: str, after: int) -> list[LedgerEvent]:
        events: list[LedgerEvent] = await run_in_threadpool(self._read, run_id, after)
        return events

    def watch(self, run_id: str, seen: int) -> None:
        feed = self._runs.get(run_id)
        if feed is None:
            feed = self._runs[run_id] = _RunFeed(last_seq=seen)
        feed.watchers += 1
        if feed.task is None or feed.task.done():
            feed.task = asyncio.get_running_loop().create_task(self._poll(run_id, feed))

    def unwatch(self, run_id: str) -> None:
        feed = self._runs.get(run_id)
        if feed is not None:
            feed.watchers -= 1

    async def _poll(self, run_id: str, feed: _RunFeed) -> None:
        try:
            while feed.watchers > 0:
                new = await self.read(run_id, feed.last_seq)
                if new:
                    feed.events = (feed.events + new)[-KEEP:]
                    feed.last_seq = new[-1].seq
                    woken, feed.changed = feed.changed, asyncio.Event()
                    woken.set()
                await asyncio.sleep(self._poll_s)
        finally:
            if feed.watchers <= 0 and self._runs.get(run_id) is feed:
                del self._runs[run_id]

    async def after(self, run_id: str, after: int, timeout_s: float) -> list[LedgerEvent]:
        """The run's events after seq `after`; waits up to `timeout_s` for some (then [])."""
        feed = self._runs[run_id]
        deadline = asyncio.get_running_loop().time() + timeout_s
        while feed.last_seq <= after:  # an event, not a condition: no lock to give back when cancelled
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return []
            try:
                await asyncio.wait_for(feed.changed.wait(), left)
            except TimeoutError:
                return []
        if not feed.events or feed.events[0].seq > after + 1:  # behind what is kept: the ledger itself
            return await self.read(run_id, after)
        return [e for e in feed.events if e.seq > after]


__all__ = ["Feed"]
