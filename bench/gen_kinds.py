"""More scenario kinds for bench/generate.py: what the first generator did not make.

Good: a shared incident in which the canary is a little worse than the baseline by chance, a hot
market-open surge (errors grow faster than the load), a slow drift of latency and pool on both
tracks, a canary warm-up that also throws a few errors and fills the pool, a quiet service (tens
of requests a tick at 1 %), rare events (idempotency conflicts at 1 in 100 000), overlapping query
windows (each tick reports a `[k*interval]` window, so one event shows up in k ticks), and a
mismatched denominator (idempotency conflicts divided by idempotent requests only, a share of all
requests). The last four are also "styles" sprinkled over every kind, good and bad.

Bad: a regression in any of the six metrics shaped as a step, a ramp (reaching its full size over
3-6 ticks) or intermittent (present on about 60 % of the ticks), and a regression spread over two
or three metrics, each too small to be detected on its own.

Every bad scenario is vetted with `oracle_z` (expected evidence over the first ORACLE_TICKS ticks
after onset for an engine that compares canary with baseline using request counts): single
regressions need z >= 3, spread ones a combined z (root sum of squares) >= 3.5.

`w` and `b` are generate.World / generate.Base (not imported: generate imports this module).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

ORACLE_TICKS = 5
ORACLE_MIN_EVENTS = 10.0
"""A rate or count regression needs this many canary events expected over ORACLE_TICKS ticks
(after onset, the regression included) to be detectable: the engine rolls back on a rate or count
only with at least `min_canary_events` (5) canary events in its window (issue 11: one event never
does; the judge's own floor for rates is 6), and Poisson(10) reaches 6 nine times in ten. Below
it a z computed from expected counts (2 events where 0.02 are usual: z 3) is no promise at all."""
SIX = ("latency", "errors", "idempotency", "ws_lag", "pool", "csp")
SHAPES = ("step", "ramp", "intermittent")
NEW_GOOD = ("incident_canary_worse", "hot_surge", "metric_drift", "warmup_mixed", "quiet",
            "rare_events", "overlap_windows", "denominator")
NEW_BAD = ("regression", "spread")


# --------------------------------------------------------------------------- styles


def styles(w: Any, b: Any, force: str | None = None) -> None:
    """Scenario-wide ways the data are measured or the service behaves, on either label."""
    rng = w.rng
    if force == "quiet" or rng.random() < 0.12:
        b.total = float(math.exp(rng.uniform(math.log(700), math.log(3000))))  # 7-30 req/tick at 1 %
        w.nuisance.append({"type": "quiet_service", "requests_per_tick": round(b.total)})
    if force == "rare_events" or rng.random() < 0.12:
        b.idem = float(math.exp(rng.uniform(math.log(5e-6), math.log(6e-5))))
        w.nuisance.append({"type": "rare_events", "idempotency_rate": b.idem})
    if force == "overlap_windows" or rng.random() < 0.15:
        w.window = int(rng.integers(2, 6))
        w.nuisance.append({"type": "overlapping_windows", "ticks": w.window})
    if force == "denominator" or rng.random() < 0.12:
        w.idem_share = float(rng.uniform(0.05, 0.3))
        w.nuisance.append({"type": "idempotency_denominator", "share_of_requests": round(w.idem_share, 3)})


# --------------------------------------------------------------------------- good kinds


def incident_canary_worse(w: Any, start: int, ticks: int, kind: str) -> None:
    """A shared incident whose size on each track is drawn apart: the canary a little worse by chance."""
    sl = slice(start, min(w.n, start + ticks))
    rng = w.rng
    ws_level, err, idem = rng.uniform(35, 110), rng.uniform(0.015, 0.04), rng.uniform(0.004, 0.011)
    lat_err, pool, lat_db = rng.uniform(1.3, 1.7), rng.uniform(45, 60), rng.uniform(1.2, 1.5)
    worse = 1 + abs(rng.normal(0, 0.12))
    for tr, f in ((w.base, 1.0), (w.can, worse)):
        if kind == "broker_backlog":
            tr.ws_level[sl] = ws_level * f
        elif kind == "downstream_errors":
            tr.err_add[sl] += err * f
            tr.idem_add[sl] += idem * f
            tr.lat[sl] *= lat_err ** f
        elif kind == "db_saturation":
            tr.pool_add[sl] += min(pool * f, 95 - pool * 0.5)
            tr.lat[sl] *= lat_db ** f
    w.nuisance.append({"type": f"shared_incident_canary_worse:{kind}", "t": start * 60, "ticks": ticks,
                       "canary_factor": round(worse, 3)})


def hot_surge(w: Any, surge: Any, start: int) -> None:
    """A market-open surge in which errors and latency grow faster than the load, on both tracks."""
    surge(w, start, float(w.rng.uniform(2.2, 4.0)))
    w.err_power = float(w.rng.uniform(1.2, 2.0))
    w.nuisance.append({"type": "hot_surge", "err_power": round(w.err_power, 2)})


def metric_drift(w: Any, start: int) -> None:
    """Latency and pool creep up slowly on both tracks (a growing table, a cache going cold)."""
    rng = w.rng
    k = np.clip(np.arange(w.n) - start, 0, None)
    lat, pool = float(rng.uniform(0.004, 0.015)), float(rng.uniform(0.3, 1.0))
    for tr in (w.base, w.can):
        tr.lat *= 1 + lat * k
        tr.pool_add += pool * k
    w.nuisance.append({"type": "metric_drift", "t": start * 60, "lat_per_tick": round(lat, 4),
                       "pool_per_tick": round(pool, 2)})


def warmup_mixed(w: Any) -> None:
    """The canary's first tick or two: slow, a few errors, a fuller pool, some lag."""
    rng = w.rng
    ticks = int(rng.integers(1, 3))
    mult = float(rng.uniform(1.3, 1.9))
    for i in range(ticks):
        f = 0.7 ** i
        w.can.lat[i] *= 1 + (mult - 1) * f
        w.can.err_add[i] += float(rng.uniform(0.002, 0.02)) * f
        w.can.pool_add[i] += float(rng.uniform(3, 12)) * f
        w.can.ws_mult[i] *= 1 + float(rng.uniform(0.2, 1.0)) * f
    w.nuisance.append({"type": "canary_warmup_mixed", "ticks": ticks, "lat_mult": round(mult, 2)})


# --------------------------------------------------------------------------- bad kinds


def draw_size(rng: np.random.Generator, metric: str, thin: bool = False) -> float:
    """A regression's full size: a multiplier, or points (pool), or CSP reports per 1000 requests."""
    lo_hi = {
        "latency": ((1.2, 2.0), (1.08, 1.3)), "errors": ((2.0, 6.0), (1.4, 2.5)),
        "idempotency": ((2.5, 7.0), (1.5, 3.0)), "ws_lag": ((1.5, 4.0), (1.15, 1.6)),
        "pool": ((6.0, 20.0), (2.0, 6.0)), "csp": ((1.0, 4.0), (0.3, 1.2)),
    }[metric][1 if thin else 0]
    return float(rng.uniform(*lo_hi))


def profile(rng: np.random.Generator, n: int, onset: int, shape: str) -> np.ndarray:
    """The share of the full effect at each tick: 0 before onset."""
    f = np.zeros(n)
    if shape == "step":
        f[onset:] = 1.0
    elif shape == "ramp":
        ramp = int(rng.integers(3, 7))
        f[onset:] = np.minimum(1.0, (np.arange(n - onset) + 1) / ramp)
    else:
        f[onset:] = (rng.random(n - onset) < 0.6).astype(float)
        f[onset] = 1.0  # the onset tick shows it (onset is the first tick that is worse)
    return f


def apply(w: Any, metric: str, size: float, f: np.ndarray) -> None:
    c = w.can
    if metric == "latency":
        c.lat *= 1 + (size - 1) * f
    elif metric == "errors":
        c.err_mult *= 1 + (size - 1) * f
    elif metric == "idempotency":
        c.idem_mult *= 1 + (size - 1) * f
    elif metric == "ws_lag":
        c.ws_mult *= 1 + (size - 1) * f
    elif metric == "pool":
        c.pool_add += size * f
    elif metric == "csp":
        c.csp_add_per_1k += size * f


def oracle_metric(w: Any, b: Any, metric: str, size: float, f: np.ndarray, onset: int) -> float:
    """Expected evidence (z) on one metric over the first ORACLE_TICKS ticks after onset."""
    idx = [i for i in range(onset, min(w.n, onset + ORACLE_TICKS)) if w.weights[i] < 100]
    if not idx:
        return math.inf
    nc = [b.total * w.load[i] ** 0.9 * w.weights[i] / 100 for i in idx]
    nb = [b.total * w.load[i] ** 0.9 * (1 - w.weights[i] / 100) for i in idx]
    wts = [float(w.weights[i]) for i in idx]
    fs = [float(f[i]) for i in idx]
    if metric in ("errors", "idempotency"):
        rate = b.err if metric == "errors" else b.idem
        share = 1.0 if metric == "errors" else w.idem_share
        lam0 = sum(n * rate * share for n in nc)
        lam1 = sum(n * rate * share * (1 + (size - 1) * x) for n, x in zip(nc, fs, strict=True))
        return counts_z(lam0, lam1, w.window)
    if metric == "csp":
        lam0 = sum(n * b.csp_per_1k / 1000 for n in nc)
        lam1 = lam0 + sum(n * size * x / 1000 for n, x in zip(nc, fs, strict=True))
        return counts_z(lam0, lam1, w.window)
    if metric == "latency":
        sampling = (2.12 * b.lat_sigma) ** 2
        var = [0.07**2 + sampling * (1 / c + 1 / a) for c, a in zip(nc, nb, strict=True)]
        d = [math.log(1 + (size - 1) * x) for x in fs]
    elif metric == "ws_lag":
        var = [0.17**2 * ((50 / x) ** 0.4 + (50 / (100 - x)) ** 0.4) for x in wts]
        d = [math.log(1 + (size - 1) * x) for x in fs]
    else:
        var = [1.35**2 * ((50 / x) ** 0.6 + (50 / (100 - x)) ** 0.6) for x in wts]
        d = [size * x for x in fs]
    return sum(di / v for di, v in zip(d, var, strict=True)) / math.sqrt(sum(1 / v for v in var))


def counts_z(lam0: float, lam1: float, window: int = 1) -> float:
    """The evidence of lam1 canary events expected where lam0 are usual; none below ORACLE_MIN_EVENTS."""
    z = _poisson_z(lam0, lam1) / math.sqrt(window)
    if lam1 < ORACLE_MIN_EVENTS:  # still ranked (a larger effect is closer), never a promise
        return min(z, 2.9) * lam1 / ORACLE_MIN_EVENTS
    return z


def _poisson_z(lam0: float, lam1: float) -> float:
    if lam1 <= lam0 or lam0 <= 0:
        return 0.0
    return math.sqrt(2 * (lam1 * math.log(lam1 / lam0) - lam1 + lam0))


def regression(w: Any, b: Any) -> tuple[int, dict[str, Any]]:
    """One metric, one shape; redrawn until detectable (the best of 60 draws made larger otherwise)."""
    rng = w.rng
    metric = str(rng.choice(SIX))
    shape = str(rng.choice(SHAPES))
    best: tuple[float, int, float, np.ndarray] | None = None
    for _ in range(60):
        onset = int(rng.integers(1, w.n - 6))
        size = draw_size(rng, metric)
        f = profile(rng, w.n, onset, shape)
        z = oracle_metric(w, b, metric, size, f, onset)
        if best is None or z > best[0]:
            best = (z, onset, size, f)
        if z >= 3.0:
            break
    assert best is not None
    z, onset, size, f = best
    for _ in range(40):  # FORMAT.md promises detectable: no draw is, so the best one grows until it is
        if z >= 3.0:
            break
        size = 1 + (size - 1) * 1.25 if metric not in ("pool", "csp") else size * 1.25
        z = oracle_metric(w, b, metric, size, f, onset)
    apply(w, metric, size, f)
    return onset, {"metric": metric, "shape": shape, "size": round(size, 3)}


def spread(w: Any, b: Any) -> tuple[int, dict[str, Any]]:
    """Two or three metrics at once, each too small to stand out; together clear (z >= 3.5)."""
    rng = w.rng
    best: tuple[float, int, list[tuple[str, float]]] | None = None
    for _ in range(80):
        onset = int(rng.integers(1, w.n - 6))
        metrics = [str(m) for m in rng.permutation(SIX)[: int(rng.integers(2, 4))]]
        f = profile(rng, w.n, onset, "step")
        sizes = [(m, draw_size(rng, m, thin=True)) for m in metrics]
        zs = [oracle_metric(w, b, m, s, f, onset) for m, s in sizes]
        if max(zs) >= 3.0:
            continue  # one of them alone would be detectable: not spread
        z = math.sqrt(sum(x * x for x in zs))
        if best is None or z > best[0]:
            best = (z, onset, sizes)
        if z >= 3.5:
            break
    assert best is not None
    _, onset, sizes = best
    f = profile(rng, w.n, onset, "step")
    for m, s in sizes:
        apply(w, m, s, f)
    return onset, {m: round(s, 3) for m, s in sizes}
