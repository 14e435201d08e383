"""In-memory fakes of the ports. Production code: they pass the same contract tests as the real
adapters and are used by unit tests, replay and dry runs. Named for behaviour
(`InMemoryRouter`, `ScriptedMetrics`, `RecordingNotifier`, ...).

Each block below belongs to one role; add to a block with small edits.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from runofshow.adapters.weights import checked_weight
from runofshow.domain.tick import Alert, TrackSample
from runofshow.errors import LedgerError, RouterError, RunNotFoundError
from runofshow.ledger_chain import chain_problems, event_hash, normalise_payload
from runofshow.ledger_chain import utc as ledger_utc
from runofshow.ports import ApiToken, LedgerEvent, RunRecord

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
        w = checked_weight(weight)
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


# --------------------------------------------------------------------------- ledger, metrics, alerts


class InMemoryLedger:
    """The `Ledger` port in memory, with the same hash chain and errors as `SqlLedger`."""

    name = "memory"

    def __init__(self) -> None:
        self._runs: dict[str, RunRecord] = {}
        self._events: dict[str, list[LedgerEvent]] = {}
        self._lock = threading.Lock()

    def _unknown(self, run_id: str) -> RunNotFoundError:
        return RunNotFoundError(f"ledger memory: no run {run_id}", adapter="memory", target="memory")

    def create_run(self, run: RunRecord) -> None:
        _, plan = normalise_payload(run.plan, "ledger memory")
        record = replace(run, started_at=ledger_utc(run.started_at), plan=plan)
        with self._lock:
            if run.run_id in self._runs:
                raise LedgerError(f"ledger memory: run {run.run_id} already exists", adapter="memory",
                                  target="memory")
            self._runs[run.run_id] = record
            self._events[run.run_id] = []

    def append(self, run_id: str, kind: str, payload: Mapping[str, Any], at: datetime) -> LedgerEvent:
        at_utc = ledger_utc(at)
        _, normalised = normalise_payload(payload, "ledger memory")
        with self._lock:
            if run_id not in self._runs:
                raise self._unknown(run_id)
            chain = self._events[run_id]
            seq, prev = (chain[-1].seq + 1, chain[-1].hash) if chain else (1, "")
            ev = LedgerEvent(run_id=run_id, seq=seq, at=at_utc, kind=kind, payload=normalised,
                             prev_hash=prev, hash=event_hash(prev, seq, at_utc, kind, normalised))
            chain.append(ev)
            return ev

    def events(self, run_id: str, after_seq: int = 0) -> list[LedgerEvent]:
        with self._lock:
            if run_id not in self._runs:
                raise self._unknown(run_id)
            return [copy.deepcopy(e) for e in self._events[run_id] if e.seq > after_seq]

    def update_run(
        self, run_id: str, *, status: str | None = None, stage: int | None = None,
        weight: float | None = None,
    ) -> None:
        with self._lock:
            if run_id not in self._runs:
                raise self._unknown(run_id)
            r = self._runs[run_id]
            self._runs[run_id] = replace(
                r, status=r.status if status is None else status, stage=r.stage if stage is None else stage,
                weight=r.weight if weight is None else weight,
            )

    def run(self, run_id: str) -> RunRecord:
        with self._lock:
            if run_id not in self._runs:
                raise self._unknown(run_id)
            return copy.deepcopy(self._runs[run_id])

    def runs(self) -> list[RunRecord]:
        with self._lock:
            return sorted((copy.deepcopy(r) for r in self._runs.values()),
                          key=lambda r: (r.started_at, r.run_id))

    def verify_chain(self, run_id: str) -> list[str]:
        """One line per broken link of the run's hash chain; an empty list when it verifies."""
        return chain_problems(self.events(run_id))


class InMemoryTokenStore:
    """The `TokenStore` port in memory (the web app's API token hashes)."""

    def __init__(self) -> None:
        self._tokens: dict[str, ApiToken] = {}
        self._lock = threading.Lock()

    def add_token(self, token: ApiToken) -> None:
        with self._lock:
            if token.token_id in self._tokens or any(
                    t.token_hash == token.token_hash for t in self._tokens.values()):
                raise LedgerError(f"tokens: {token.token_id} already exists", adapter="memory",
                                  target="memory")
            self._tokens[token.token_id] = token

    def token_by_hash(self, token_hash: str) -> ApiToken | None:
        with self._lock:
            return next((t for t in self._tokens.values() if t.token_hash == token_hash), None)

    def tokens(self) -> list[ApiToken]:
        with self._lock:
            return sorted(self._tokens.values(), key=lambda t: (t.created_at, t.token_id))

    def revoke_token(self, token_id: str, at: datetime) -> bool:
        with self._lock:
            token = self._tokens.get(token_id)
            if token is None or token.revoked_at is not None:
                return False
            self._tokens[token_id] = replace(token, revoked_at=ledger_utc(at))
            return True


TrackPair = tuple[TrackSample | None, TrackSample | None]


class ScriptedMetrics:
    """A `MetricsSource` that answers from a script: each `observe` takes the next entry.

    An entry is a (baseline, canary) pair, or an exception to raise (e.g. `MetricsUnavailableError`).
    When the script runs out, the last pair is repeated (`repeat_last=True`) or (None, None) is
    returned. `calls` records every (at, window_s) asked for.
    """

    def __init__(self, script: Iterable[TrackPair | BaseException] = (), *, repeat_last: bool = True) -> None:
        self._script: deque[TrackPair | BaseException] = deque(script)
        self._last: TrackPair = (None, None)
        self.repeat_last = repeat_last
        self.calls: list[tuple[datetime, float]] = []
        self._lock = threading.Lock()

    def push(self, baseline: TrackSample | None, canary: TrackSample | None) -> None:
        with self._lock:
            self._script.append((baseline, canary))

    def fail_next(self, error: BaseException) -> None:
        with self._lock:
            self._script.append(error)

    def observe(self, at: datetime, window_s: float) -> TrackPair:
        with self._lock:
            self.calls.append((at, window_s))
            if not self._script:
                return self._last if self.repeat_last else (None, None)
            entry = self._script.popleft()
            if isinstance(entry, BaseException):
                raise entry
            self._last = entry
            return entry


class StaticAlerts:
    """An `AlertFeed` whose firing alerts are set by hand (`fire`, `resolve`, `clear`)."""

    def __init__(self, alerts: Iterable[Alert] = ()) -> None:
        self._alerts: dict[str, Alert] = {a.name: a for a in alerts}
        self._lock = threading.Lock()

    def fire(self, alert: Alert) -> None:
        with self._lock:
            self._alerts[alert.name] = alert

    def resolve(self, name: str) -> None:
        with self._lock:
            self._alerts.pop(name, None)

    def clear(self) -> None:
        with self._lock:
            self._alerts.clear()

    def firing(self, at: datetime) -> tuple[Alert, ...]:
        with self._lock:
            return tuple(self._alerts.values())


# --------------------------------------------------------------------------- market calendar, PR host
# (issue 4) live in `runofshow.adapters.memory_steps` with the other T-minus steps' fakes; named
# here too, where the other fakes are looked for.

from runofshow.adapters.memory_steps import FixedMarketCalendar, InMemoryPullRequestHost  # noqa: E402,F401

# --------------------------------------------------------------------------- notifier, annotator
# (issue 5; self-contained block)
from runofshow.errors import NotifierError  # noqa: E402


class RecordingNotifier:
    """A `Notifier` that keeps every message in `sent` as (event, text, fields). `fail=N` makes the
    next N calls raise `NotifierError`; `delay_s` makes each call take that long (a slow channel)."""

    def __init__(self, name: str = "recording", *, fail: int = 0, delay_s: float = 0.0) -> None:
        self.name = name
        self.fail = fail
        self.delay_s = delay_s
        self.calls = 0
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def notify(self, event: str, text: str, fields: Mapping[str, Any] | None = None) -> None:
        if self.delay_s > 0:
            threading.Event().wait(self.delay_s)
        with self._lock:
            self.calls += 1
            if self.fail > 0:
                self.fail -= 1
                raise NotifierError(f"{self.name}: {event} failed (scripted)", adapter="memory",
                                    target=self.name)
            self.sent.append((event, text, dict(fields or {})))

    @property
    def texts(self) -> list[str]:
        with self._lock:
            return [text for _, text, _ in self.sent]


class RecordingAnnotator:
    """An `Annotator` that keeps every annotation in `annotations` as (at, text, tags).
    `fail=N` makes the next N calls raise `NotifierError`."""

    def __init__(self, name: str = "recording-annotator", *, fail: int = 0) -> None:
        self.name = name
        self.fail = fail
        self.annotations: list[tuple[datetime, str, tuple[str, ...]]] = []
        self._lock = threading.Lock()

    def annotate(self, at: datetime, text: str, tags: Iterable[str]) -> None:
        if at.tzinfo is None:
            raise ValueError("annotation time must be timezone-aware")
        with self._lock:
            if self.fail > 0:
                self.fail -= 1
                raise NotifierError(f"{self.name}: annotation failed (scripted)", adapter="memory",
                                    target=self.name)
            self.annotations.append((at, text, tuple(tags)))


# --------------------------------------------------------------------------- clock
# (issue 3: the runner; self-contained block)

import heapq  # noqa: E402
import itertools  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC as _UTC  # noqa: E402
from datetime import timedelta  # noqa: E402


class FakeClock:
    """A `Clock` that moves only when waited on: a whole T-30 .. T+24h run takes milliseconds.

    Plan time is wall time (`speed` 1). `call_at(at, fn)` schedules `fn` for the instant `at`:
    a wait or sleep that passes `at` stops there, calls `fn`, and goes on, so tests can fire an
    alert or a fault at an exact moment. `wait(event, s)` returns True as soon as a callback has
    set `event` (the runner's wake-up), with the clock at that callback's instant.
    """

    speed = 1.0

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 12, 5, 3, 0, tzinfo=_UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._timers: list[tuple[datetime, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def to_wall(self, at: datetime) -> datetime:
        return at

    def to_plan(self, wall: datetime) -> datetime:
        return wall

    def call_at(self, at: datetime, fn: Callable[[], None]) -> None:
        with self._lock:
            heapq.heappush(self._timers, (at, next(self._order), fn))

    def advance(self, seconds: float) -> None:
        self.wait(None, seconds)

    def sleep(self, seconds: float) -> None:
        self.wait(None, seconds)

    def wait(self, event: threading.Event | None, seconds: float) -> bool:
        if event is not None and event.is_set():
            return True
        with self._lock:  # at least a microsecond, so that waiting always moves time on
            target = self._now + max(timedelta(seconds=max(0.0, seconds)), timedelta(microseconds=1))
        for _ in range(100_000):  # bounded: one pass per due timer
            with self._lock:
                if not self._timers or self._timers[0][0] > target:
                    break
                at, _, fn = heapq.heappop(self._timers)
                self._now = max(self._now, at)
            fn()
            if event is not None and event.is_set():
                return True
        with self._lock:
            self._now = max(self._now, target)
        return False
