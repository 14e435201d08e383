"""How a sample spark-trading service behaves: latency, errors, conflicts, WebSocket lag, the pgBouncer
pool, and the faults that break them. No I/O: every method takes `now` (monotonic seconds), so the
HTTP service (`runofshow.demo.services`) and tests drive the same model. Thread-safe.

Healthy: latency lognormal per endpoint (medians 55-85 ms, sigma 0.45: p95 ~ 150 ms), 0.2 % 5xx,
0.2 % of orders lose a race with a duplicate submission (409), WebSocket lag a mean-reverting walk
around 3 s, pool active = 6 background connections + one per request in flight, of 100.

Faults:
    latency  traffic 3x slower: p95 ~ 440 ms; WebSocket lag around 6 s
    errors   8 % of traffic answers 500 (80 %) or 503
    leak     connections leak at `leak_per_s` from the moment the fault is set (1.75/s: past 80 % of
             the pool in about 40 s); latency grows with the leaked share; an exhausted pool adds
             0.2-0.5 s waits and 5 % 503s
    alert    the service reports it is crash-looping (gauge canary_crashloop = 1)
    none     healthy
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass
from random import Random
from typing import Any

import numpy as np

FAULTS = ("none", "latency", "errors", "leak", "alert")
ALERT_NAME = "CanaryCrashLooping"
QUOTES, ORDERS, PORTFOLIO, CSP = "/api/quotes", "/api/orders", "/api/portfolio", "/csp-report"
ENDPOINTS = (QUOTES, ORDERS, PORTFOLIO, CSP)
OK_CODE = {QUOTES: 200, ORDERS: 201, PORTFOLIO: 200, CSP: 204}
MAX_WINDOW_S = 300.0

_MEDIAN_S = {QUOTES: 0.055, ORDERS: 0.085, PORTFOLIO: 0.07, CSP: 0.004}
_WALK_STEP_S = 0.5
_MAX_WALK_STEPS = 600


@dataclass(frozen=True)
class Behaviour:
    """Tunables of the simulation; the defaults are the demo's."""

    latency_sigma: float = 0.45
    latency_scale: float = 1.0  # multiplies every median
    base_5xx: float = 0.002
    intrinsic_conflict: float = 0.002  # share of orders that lose a race with a duplicate submission
    latency_factor: float = 3.0  # `latency` fault
    error_rate: float = 0.08  # `errors` fault
    leak_per_s: float = 1.75  # `leak` fault: connections leaked per second
    leak_latency_gain: float = 1.5  # `leak` fault: latency x (1 + gain * leaked share of the pool)
    pool_max: int = 100
    pool_floor: int = 6  # connections held by background jobs
    ws_lag_mean_s: float = 3.0


@dataclass(frozen=True)
class Draw:
    """What one request will do: how long it takes, whether it fails, whether it loses a race."""

    delay_s: float
    fail_code: int | None
    race_conflict: bool


def fault_name(fault: str | None) -> str:
    """The canonical fault name; None and "" are "none". Unknown names raise ValueError."""
    if fault is not None and not isinstance(fault, str):
        raise ValueError(f"fault must be a string, not {type(fault).__name__}")
    name = (fault or "none").strip().lower()
    if name not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
    return name


class TrafficModel:
    """The state of one service: current fault, requests in flight, WebSocket lag, recent requests."""

    def __init__(self, behaviour: Behaviour, seed: int, fault: str | None, now: float):
        self.behaviour = behaviour
        self._lock = threading.RLock()
        self._rng = Random(seed)
        self._fault, self._fault_since = fault_name(fault), now
        self._in_flight = 0
        self._ws_lag, self._ws_at = behaviour.ws_lag_mean_s, now
        # (at, elapsed_s, is_5xx, is_conflict, is_csp_report), oldest first, at most MAX_WINDOW_S old
        self._events: deque[tuple[float, float, bool, bool, bool]] = deque(maxlen=500_000)

    @property
    def fault(self) -> str:
        with self._lock:
            return self._fault

    def set_fault(self, fault: str | None, now: float) -> str:
        """Switch the fault; the same fault again changes nothing. Leaving `leak` frees the leak."""
        name = fault_name(fault)
        with self._lock:
            if name != self._fault:
                self._fault, self._fault_since = name, now
        return name

    def leaked(self, now: float) -> float:
        with self._lock:
            if self._fault != "leak":
                return 0.0
            b = self.behaviour
            return min(float(b.pool_max), b.leak_per_s * max(0.0, now - self._fault_since))

    def pool_active(self, now: float) -> int:
        with self._lock:
            b = self.behaviour
            return int(min(b.pool_max, b.pool_floor + self._in_flight + self.leaked(now)))

    def ws_lag(self, now: float) -> float:
        """A mean-reverting random walk, advanced lazily in fixed steps (bounded per call)."""
        with self._lock:
            mean = self.behaviour.ws_lag_mean_s * (2 if self._fault == "latency" else 1)
            steps = min(int((now - self._ws_at) / _WALK_STEP_S), _MAX_WALK_STEPS)
            for _ in range(max(steps, 0)):
                self._ws_lag += 0.15 * (mean - self._ws_lag) + self._rng.gauss(0, 0.35)
                self._ws_lag = min(max(self._ws_lag, 0.2), 4 * mean)
            if steps > 0:
                self._ws_at = max(self._ws_at + steps * _WALK_STEP_S, now - _WALK_STEP_S)
            return self._ws_lag

    def begin(self, endpoint: str, now: float) -> Draw:
        """A request arrives: draw its fate and count it in flight until `finish`."""
        b = self.behaviour
        with self._lock:
            median = _MEDIAN_S[endpoint] * b.latency_scale
            delay = self._rng.lognormvariate(math.log(median), b.latency_sigma)
            fail_p = b.base_5xx
            if self._fault == "latency":
                delay *= b.latency_factor
            elif self._fault == "errors":
                fail_p = max(fail_p, b.error_rate)
            elif self._fault == "leak":
                leaked = self.leaked(now)
                delay *= 1 + b.leak_latency_gain * leaked / b.pool_max
                if b.pool_floor + self._in_flight + leaked >= b.pool_max:  # exhausted: wait for one
                    delay += self._rng.uniform(0.2, 0.5)
                    fail_p = max(fail_p, 0.05)
            fail = self._rng.random() < fail_p
            code = (500 if self._rng.random() < 0.8 else 503) if fail else None
            race = endpoint == ORDERS and self._rng.random() < b.intrinsic_conflict
            self._in_flight += 1
        return Draw(delay, code, race)

    def finish(self, endpoint: str, status: int | None, elapsed_s: float, now: float) -> tuple[bool, bool]:
        """A request ends (`status` None: it was cancelled and is not counted).
        Returns (idempotency conflict, CSP report received)."""
        conflict = endpoint == ORDERS and status == 409
        csp = endpoint == CSP and status == OK_CODE[CSP]
        with self._lock:
            self._in_flight -= 1
            if status is None:
                return False, False
            self._events.append((now, elapsed_s, status >= 500, conflict, csp))
            while self._events and self._events[0][0] < now - MAX_WINDOW_S:
                self._events.popleft()
        return conflict, csp

    def snapshot(self, window_s: float, now: float) -> dict[str, Any]:
        """The six gate values over the last `window_s` seconds, plus the request count and alert.
        Per-request values are None when no request ended in the window: missing data is not zero."""
        window_s = min(max(float(window_s), 0.1), MAX_WINDOW_S)
        with self._lock:
            recent = []
            for ev in reversed(self._events):
                if ev[0] < now - window_s:
                    break
                recent.append(ev)
            fault, ws_lag, active = self._fault, self.ws_lag(now), self.pool_active(now)
        n = len(recent)
        lat = np.fromiter((ev[1] for ev in recent), dtype=float, count=n)
        pool_max = self.behaviour.pool_max
        return {
            "fault": fault, "window_s": window_s, "requests": n,
            "http_p95_ms": round(float(np.percentile(lat, 95)) * 1000, 3) if n else None,
            "http_5xx_pct": round(100 * sum(ev[2] for ev in recent) / n, 4) if n else None,
            "ws_lag_s": round(ws_lag, 3),
            "idempotency_conflict_pct": round(100 * sum(ev[3] for ev in recent) / n, 4) if n else None,
            "csp_violations": sum(ev[4] for ev in recent),
            "pgbouncer_pool_util_pct": round(100 * active / pool_max, 2),
            "pgbouncer_pool_active": active, "pgbouncer_pool_max": pool_max,
            "alert": ALERT_NAME if fault == "alert" else None,
        }
