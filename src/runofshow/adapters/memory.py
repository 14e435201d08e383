"""In-memory fakes of the ports. Production code: they pass the same contract tests as the real
adapters and are used by unit tests, replay and dry runs. Named for behaviour
(`InMemoryRouter`, `ScriptedMetrics`, `RecordingNotifier`, ...).

Each block below belongs to one role; add to a block with small edits.
"""

from __future__ import annotations

import threading

from runofshow.errors import RouterError

# --------------------------------------------------------------------------- traffic router


class InMemoryRouter:
    """A `TrafficRouter` held in memory, for tests, replay and dry runs.

    `sets` records every `set_weight` call that reached the router; `changes` only the ones that
    moved the weight (setting 5 % twice is one change). It can be told to misbehave, for the
    rollback-retry tests: `fail_sets` / `fail_reads` make the next N calls raise `RouterError`;
    `stick_at` makes the next `stick_times` sets (all of them when None) leave the weight at that
    value, like a controller that has not caught up.
    """

    def __init__(
        self, weight: float = 0.0, *, fail_sets: int = 0, fail_reads: int = 0,
        stick_at: float | None = None, stick_times: int | None = None,
    ) -> None:
        self._weight = float(weight)
        self.sets: list[float] = []
        self.changes: list[float] = []
        self.fail_sets = fail_sets
        self.fail_reads = fail_reads
        self.stick_at = stick_at
        self.stick_times = stick_times
        self._lock = threading.Lock()

    def set_weight(self, weight: float) -> None:
        w = float(weight)
        if not 0.0 <= w <= 100.0:
            raise ValueError(f"weight must be between 0 and 100 %, not {weight!r}")
        with self._lock:
            if self.fail_sets > 0:
                self.fail_sets -= 1
                raise RouterError(f"memory router: set {w:g} % failed (scripted)", adapter="memory",
                                  target="memory")
            self.sets.append(w)
            if self.stick_at is not None and (self.stick_times is None or self.stick_times > 0):
                if self.stick_times is not None:
                    self.stick_times -= 1
                w = float(self.stick_at)
            if w != self._weight:
                self._weight = w
                self.changes.append(w)

    def current_weight(self) -> float:
        with self._lock:
            if self.fail_reads > 0:
                self.fail_reads -= 1
                raise RouterError("memory router: read failed (scripted)", adapter="memory",
                                  target="memory")
            return self._weight
