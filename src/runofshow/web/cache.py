"""What this process has already read of each run: its events and their fold, topped up by seq.

The ledger is append-only and hash-chained, so a run's events up to seq N never change: a request
reads only the events after the last one seen (one small query) and applies them to the folded
state, instead of reading and folding thousands of events again. Nothing here is state a replica
needs: a cold process (or another replica) reads the ledger from the start and gets the same answers.

The plotly figures take seconds for a long run: while they are recomputed for a new seq, other
requests get the previous ones (a second later the next request gets the new ones).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from runofshow.app.run.event_types import RunStarted, TypedEvent, parse
from runofshow.app.run.state import RunState
from runofshow.ports import Ledger, LedgerEvent, RunRecord
from runofshow.reports.evidence_render import RunView, plan_from_ledger

T = TypeVar("T")
MAX_RUNS = 64


@dataclass
class _Run:
    events: list[LedgerEvent] = field(default_factory=list)
    typed: list[TypedEvent] = field(default_factory=list)  # the same events, parsed once
    state: RunState = field(default_factory=RunState)
    view: RunView | None = None  # over `typed` (it grows with it), once run_started is in
    lock: threading.Lock = field(default_factory=threading.Lock)
    figures_lock: threading.Lock = field(default_factory=threading.Lock)
    memo: dict[str, tuple[int, Any]] = field(default_factory=dict)

    @property
    def last_seq(self) -> int:
        return self.events[-1].seq if self.events else 0


class RunCache:
    def __init__(self, ledger: Ledger, max_runs: int = MAX_RUNS) -> None:
        self._ledger = ledger
        self._runs: OrderedDict[str, _Run] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_runs

    def _entry(self, run_id: str) -> _Run:
        with self._lock:
            entry = self._runs.get(run_id)
            if entry is None:
                entry = self._runs[run_id] = _Run()
                while len(self._runs) > self._max:
                    self._runs.popitem(last=False)
            self._runs.move_to_end(run_id)
            return entry

    def _top_up(self, entry: _Run, run_id: str) -> None:
        for event in self._ledger.events(run_id, entry.last_seq):  # raises LedgerError: no run
            if event.seq != entry.last_seq + 1:  # never expected of the ledger: start again
                entry.events, entry.typed, entry.state, entry.memo = [], [], RunState(), {}
                entry.view = None
                self._top_up(entry, run_id)
                return
            typed = parse(event)
            entry.events.append(event)
            entry.typed.append(typed)
            entry.state.apply(typed)
            entry.state.run_id = event.run_id
            if entry.view is None and isinstance(typed, RunStarted):
                entry.view = RunView(entry.typed, plan_from_ledger(typed), run_id)

    def view(self, run_id: str, fn: Callable[[RunRecord, list[LedgerEvent], RunState], T]) -> T:
        """`fn(record, events, state)` for the run as the ledger has it now (under the run's lock:
        the state is not changed while `fn` reads it)."""
        entry = self._entry(run_id)
        record = self._ledger.run(run_id)
        with entry.lock:
            self._top_up(entry, run_id)
            return fn(record, entry.events, entry.state)

    def page(self, run_id: str, fn: Callable[[RunRecord, list[LedgerEvent], RunState, RunView], T]) -> T:
        """`fn(record, events, state, view)`: `view` is the run's typed events (parsed once, not per
        request) with its plan, as the reports' renderers take them."""
        entry = self._entry(run_id)
        record = self._ledger.run(run_id)
        with entry.lock:
            self._top_up(entry, run_id)
            view = entry.view if entry.view is not None else RunView.of(entry.typed)
            return fn(record, entry.events, entry.state, view)

    def figures(self, run_id: str, fn: Callable[[list[LedgerEvent]], T]) -> T:
        """The run's figures for its last seq; while they are being recomputed, the previous ones."""
        entry = self._entry(run_id)
        with entry.lock:
            self._top_up(entry, run_id)
            events = list(entry.events)
            seen = entry.memo.get("figures")
        last = events[-1].seq if events else 0
        if seen is not None and seen[0] == last:
            return seen[1]  # type: ignore[no-any-return]
        if not entry.figures_lock.acquire(blocking=seen is None):
            return seen[1]  # type: ignore[index,no-any-return]
        try:
            result = fn(events)
            with entry.lock:
                entry.memo["figures"] = (last, result)
            return result
        finally:
            entry.figures_lock.release()


__all__ = ["RunCache"]
