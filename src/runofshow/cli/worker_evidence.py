"""A worker's evidence: each run's folder kept current as the run goes, and its bundle at the end.

    writer = EvidenceWriter()                      # one per worker: its own thread
    watch = RunEvidence(run_id, folder, ledger, lines, say, writer)
    ... the worker drives the run with watch.on_event; at its end: watch.ended(runner)

A run's events go to the writer's queue, so that a run's ticks never wait on rendering its files;
the events that came in while the writer was busy are written together, each file once (a
thousand runs at a tick are not a thousand renders per event). When the run ends, what is still
queued for it is written first, then the whole bundle is built (`closeout.finish`, as `run` does),
and the writer leaves that folder alone from then on, so MANIFEST.sha256 stays true.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runofshow.app.run.runner import Runner
    from runofshow.app.run.state import RunState
    from runofshow.ports import LedgerEvent

log = logging.getLogger(__name__)


class EvidenceWriter:
    """Writes the live evidence of a worker's runs on a daemon thread of its own."""

    def __init__(self) -> None:
        self._pending: dict[RunEvidence, list[LedgerEvent]] = {}
        self._cond = threading.Condition()
        threading.Thread(target=self._loop, daemon=True, name="evidence-writer").start()

    def put(self, run: RunEvidence, event: LedgerEvent) -> None:
        with self._cond:
            self._pending.setdefault(run, []).append(event)
            self._cond.notify()

    def flush(self, run: RunEvidence) -> None:
        """What is queued for `run`, written now in the calling thread."""
        with self._cond:
            events = self._pending.pop(run, [])
        run.write(events)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                batch, self._pending = self._pending, {}
            for run, events in batch.items():
                run.write(events)


class RunEvidence:
    """One run a worker drives: its war-room lines on stdout at once, its evidence folder kept
    current by the writer (`LiveEvidence`, reading the ledger for what it missed: a takeover starts
    mid-run) and, when it ends, the whole bundle with the report (`closeout.finish`)."""

    def __init__(self, run_id: str, folder: Path, ledger: Any, lines: Callable[[LedgerEvent, RunState], None],
                 say: Callable[[str], None], writer: EvidenceWriter) -> None:
        from runofshow.reports.evidence_live import LiveEvidence

        self.run_id, self.folder, self._say, self._lines, self._writer = run_id, folder, say, lines, writer
        self.live = LiveEvidence(folder, ledger)
        self._lock = threading.Lock()  # the writer's thread or the run's own, one at a time
        self._closed = False  # the bundle is built: no live file is written after it

    def on_event(self, event: LedgerEvent, state: RunState) -> None:
        try:
            self._lines(event, state)
        finally:
            self._writer.put(self, event)

    def write(self, events: list[LedgerEvent]) -> None:
        with self._lock:
            if self._closed or not events:
                return
            try:
                self.live.take(events)
            except Exception:  # evidence must never stop the writer; the bundle rewrites every file
                log.warning("live evidence of %s failed", self.run_id, exc_info=True)

    def ended(self, runner: Runner) -> None:
        from runofshow.cli.closeout import finish

        self._writer.flush(self)
        with self._lock:
            self._closed = True
            finish(runner, say=lambda text: self._say(f"[{self.run_id}] {text}"))


__all__ = ["EvidenceWriter", "RunEvidence"]
