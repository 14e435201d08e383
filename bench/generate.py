"""Generate replay scenarios (+ truth files) of the same kinds as the bundled examples.

    python bench/generate.py --out DIR --count 400 --seed 7
    python bench/generate.py --out DIR --count 400 --seed 7 --full-stage   # + a last stage at 100 %

The noise model was fitted to the examples' clean ticks (the truth files were used only to know
which ticks are clean): request counts at 1/5/25/50 %, the p95 of a sample of lognormal
latencies (so a small canary's p95 is noisy and biased low), binomial error and conflict counts,
Poisson CSP reports with rare bursts on either track, WebSocket lag with rare spikes on either
track, pool utilisation noise that shrinks with the track's share of traffic.

Good kinds: plain, surge, shared incident (broker backlog, downstream errors, DB saturation),
glitchy, decoy alert, shared drift, warm-up, canary spikes. Bad kinds: latency step, errors step,
slow leak (pool + latency creeping), auto-rollback alert, regression during a surge, CSP spike,
idempotency conflicts, ws lag. Nuisances (gaps, counter resets, low-n ticks, pool overflow,
spikes, surges, incidents, drifts, decoy alerts, warm-up) are sprinkled over both labels.

Effects reach below the examples' (latency x1.3-2.3 where the examples have x2.0-2.1, errors
x2.2-6 vs x5, CSP 1.2-4 per 1000 requests vs 3.3, leak 0.9-2.2 pool points a tick vs 1.95), so
an engine tuned here is not tuned to the twelve examples. FORMAT.md promises that every bad
scenario is detectable within a few ticks by an engine that compares canary with baseline and
uses request counts; `oracle_z` keeps that promise: an effect whose expected evidence over the
first 5 ticks after onset is below z = 3 (ex-008, the weakest example, is about 3.2), or a rate or
count regression with fewer than 10 canary events expected in them (gen_kinds.ORACLE_MIN_EVENTS:
the engine needs 5 at least), is redrawn.

`--full-stage` (not in the replay format's 1-50 % weights, so never in the scored sets) appends a
last stage at 100 %, where the baseline has no traffic: its track is null, or all nulls with 0
requests, or idle gauges (WebSocket lag, pool) with 0 requests. It measures the engine's fallback
to the absolute thresholds when there is no baseline to compare. There a shared incident is the
canary's too and a breach is a breach; a regression onset in that stage is only visible to the
thresholds, so the oracle does not vet it. Without the flag the output is unchanged for a seed.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gen_kinds as more
import numpy as np

WEIGHTS = (1, 5, 25, 50)
FULL = 100
GATES = {
    "http_p95_ms": {"max": 300}, "http_5xx_pct": {"max": 1.0}, "ws_lag_s": {"max": 30},
    "idempotency_conflict_pct": {"max": 1.0}, "csp_violations": {"max": 10},
    "pgbouncer_pool_util_pct": {"max": 80},
}
METRICS = tuple(GATES)
GOOD_KINDS = ("plain", "surge", "incident", "glitchy", "decoy_alert", "shared_drift", "warmup", "spikes",
              *more.NEW_GOOD)
BAD_KINDS = (
    "latency_step", "errors_step", "leak_drift", "alert", "bad_in_surge", "csp_spike",
    "idempotency_step", "ws_lag_step", "regression", "regression", "regression", "spread",
)
DECOYS = (
    ("MarketOpenLatencyHigh", {"auto_rollback": "false", "severity": "warning", "track": "all"}),
    ("WebsocketLagHigh", {"auto_rollback": "false", "track": "baseline"}),
    ("CanaryDeployStarted", {"severity": "info", "track": "canary"}),
    ("PgBouncerPoolBusy", {"severity": "page", "team": "payments"}),
    ("BrokerQueueDepth", {"auto_rollback": "False", "track": "all"}),
)
ROLLBACK_ALERTS = ("CanaryCrashLooping", "CanarySLOFastBurn", "CanaryErrorBudgetBurn")


@dataclass
class Track:
    """Per-tick multipliers / additions for one track, filled by nuisances and effects."""

    lat: np.ndarray
    err_mult: np.ndarray
    err_add: np.ndarray
    idem_mult: np.ndarray
    idem_add: np.ndarray
    ws_mult: np.ndarray
    ws_level: np.ndarray  # absolute ws level during a broker incident (0 = none)
    pool_add: np.ndarray
    csp_add_per_1k: np.ndarray

    @classmethod
    def empty(cls, n: int) -> Track:
        return cls(np.ones(n), np.ones(n), np.zeros(n), np.ones(n), np.zeros(n), np.ones(n),
                   np.zeros(n), np.zeros(n), np.zeros(n))


@dataclass
class World:
    rng: np.random.Generator
    n: int
    weights: np.ndarray
    load: np.ndarray
    base: Track
    can: Track
    nuisance: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[tuple[int, int, tuple[str, ...], str]] = field(default_factory=list)
    glitches: list[tuple[int, str, str]] = field(default_factory=list)
    spikes: list[tuple[int, str]] = field(default_factory=list)
    window: int = 1  # ticks each reported rate / count covers (overlapping query windows)
    idem_share: float = 1.0  # idempotent requests as a share of all (the conflict rate's denominator)
    err_power: float = 0.5  # how 5xx grows with load (a hot surge: faster than the load)


def _stages(rng: np.random.Generator, weights: tuple[int, ...] = WEIGHTS) -> list[int]:
    return [int(rng.integers(6, 11)) for _ in weights]


def _p95(rng: np.random.Generator, level: float, n: int, sigma: float) -> float:
    """The p95 of n lognormal latencies whose true p95 is `level`."""
    median = level / math.exp(1.645 * sigma)
    if n <= 400:
        x = rng.lognormal(math.log(median), sigma, size=max(n, 1))
        return float(np.quantile(x, 0.95))
    sd = 2.12 * sigma / math.sqrt(n)
    return level * math.exp(rng.normal(0.0, sd))


# --------------------------------------------------------------------------- nuisances


def surge(w: World, start: int, amp: float) -> None:
    up, plateau, down = int(w.rng.integers(2, 4)), int(w.rng.integers(3, 7)), int(w.rng.integers(3, 5))
    shape = np.zeros(w.n)
    for i in range(w.n):
        k = i - start
        if 0 <= k < up:
            shape[i] = (k + 1) / up
        elif up <= k < up + plateau:
            shape[i] = 1.0
        elif up + plateau <= k < up + plateau + down:
            shape[i] = 1 - (k - up - plateau + 1) / (down + 1)
    w.load *= 1 + (amp - 1) * shape
    w.nuisance.append({"type": "market_open_surge", "t": start * 60, "amp": round(amp, 2)})


def drift(w: World, start: int, per_tick: float) -> None:
    k = np.clip(np.arange(w.n) - start, 0, None)
    w.load *= 1 + per_tick * k
    w.nuisance.append({"type": "shared_drift", "t": start * 60, "load_per_tick": round(per_tick, 3)})


def incident(w: World, start: int, ticks: int, kind: str) -> None:
    """A shared incident: the same draw hits baseline and canary alike."""
    sl = slice(start, min(w.n, start + ticks))
    rng = w.rng
    ws_level, err, idem = rng.uniform(35, 110), rng.uniform(0.015, 0.04), rng.uniform(0.004, 0.011)
    lat_err, pool, lat_db = rng.uniform(1.3, 1.7), rng.uniform(45, 60), rng.uniform(1.2, 1.5)
    for tr in (w.base, w.can):
        if kind == "broker_backlog":
            tr.ws_level[sl] = ws_level
        elif kind == "downstream_errors":
            tr.err_add[sl] += err
            tr.idem_add[sl] += idem
            tr.lat[sl] *= lat_err
        elif kind == "db_saturation":
            tr.pool_add[sl] += pool
            tr.lat[sl] *= lat_db
    w.nuisance.append({"type": f"shared_incident:{kind}", "t": start * 60, "ticks": ticks})


def warmup(w: World, ticks: int, mult: float) -> None:
    for i in range(ticks):
        w.can.lat[i] *= 1 + (mult - 1) * (0.75 ** i)
    w.nuisance.append({"type": "canary_warmup", "ticks": ticks, "lat_mult": round(mult, 2)})


def gap(w: World, start: int, ticks: int, sides: tuple[str, ...], metrics: str) -> None:
    w.gaps.append((start, ticks, sides, metrics))
    w.nuisance.append(
        {"type": "gap", "t": start * 60, "ticks": ticks, "sides": list(sides), "metrics": metrics}
    )


def glitch(w: World, i: int, kind: str, side: str) -> None:
    w.glitches.append((i, kind, side))
    w.nuisance.append({"type": f"glitch:{kind}", "t": i * 60, "side": side})


SPIKE_METRICS = ("http_p95_ms", "http_5xx_pct", "ws_lag_s", "csp_violations")


def spikes(w: World, count: int) -> None:
    """Isolated single-tick canary spikes, at most one per metric."""
    for metric in w.rng.permutation(SPIKE_METRICS)[:count]:
        if any(m == metric for _, m in w.spikes):
            continue
        spike(w, int(w.rng.integers(0, w.n)), str(metric))


def spike(w: World, i: int, metric: str) -> None:
    w.spikes.append((i, metric))
    w.nuisance.append({"type": "canary_spike", "t": i * 60, "metric": metric})


def decoy(w: World, at_s: float) -> None:
    name, labels = DECOYS[int(w.rng.integers(len(DECOYS)))]
    w.alerts.append({"t": int(at_s), "name": name, "labels": dict(labels)})
    w.nuisance.append({"type": "decoy_alert", "name": name})


def random_nuisances(w: World, rich: bool) -> None:
    """Background nuisances; `rich` for the glitchy kind."""
    rng, n = w.rng, w.n
    p = 1.0 if rich else 0.45
    if rng.random() < p * 0.8:
        for _ in range(int(rng.integers(1, 3 if not rich else 4))):
            r = rng.random()
            side = ("canary",) if r < 0.6 else (("baseline",) if r < 0.8 else ("baseline", "canary"))
            metrics = "all" if rng.random() < 0.45 else str(rng.choice(METRICS))
            ticks = int(rng.choice([1, 1, 2, 2, 3, 4]))
            gap(w, int(rng.integers(1, n - 1)), ticks, side, metrics)
    if rng.random() < p * 0.6:
        for _ in range(int(rng.integers(1, 3 if not rich else 4))):
            kind = str(rng.choice(["counter_reset", "low_n", "pool_overflow"]))
            glitch(w, int(rng.integers(1, n)), kind, "canary" if rng.random() < 0.5 else "baseline")
    if rng.random() < (0.5 if rich else 0.25):
        decoy(w, rng.uniform(0, n * 60))
    if rng.random() < 0.25:
        drift(w, int(rng.integers(0, n - 5)), rng.uniform(0.008, 0.022))
    if rng.random() < 0.2:
        surge(w, int(rng.integers(2, n - 6)), rng.uniform(1.6, 3.4))
    if rng.random() < 0.15:
        incident(w, int(rng.integers(1, n - 3)), int(rng.integers(2, 8)),
                 str(rng.choice(["broker_backlog", "downstream_errors", "db_saturation"])))
    if rng.random() < 0.45:
        warmup(w, int(rng.integers(1, 3)), rng.uniform(1.3, 1.8))
    if rng.random() < 0.3:
        spikes(w, int(rng.integers(1, 3)))
    if rng.random() < 0.12:
        more.incident_canary_worse(w, int(rng.integers(1, n - 3)), int(rng.integers(2, 6)),
                                   str(rng.choice(["broker_backlog", "downstream_errors", "db_saturation"])))
    if rng.random() < 0.12:
        more.metric_drift(w, int(rng.integers(0, n // 2)))
    if rng.random() < 0.15:
        more.warmup_mixed(w)


# --------------------------------------------------------------------------- effects (bad)


def draw_effect(rng: np.random.Generator, kind: str) -> dict[str, float]:
    if kind == "latency_step":
        return {"latency_mult": round(float(rng.uniform(1.3, 2.3)), 3)}
    if kind == "errors_step":
        return {"errors_mult": round(float(rng.uniform(2.2, 6.0)), 2)}
    if kind == "leak_drift":
        return {"pool_per_tick": round(float(rng.uniform(0.9, 2.2)), 2),
                "latency_per_tick": round(float(rng.uniform(0.008, 0.03)), 4)}
    if kind == "csp_spike":
        return {"csp_per_1k_req": round(float(rng.uniform(1.2, 4.0)), 2)}
    if kind == "idempotency_step":
        return {"idempotency_mult": round(float(rng.uniform(2.5, 7.0)), 2)}
    if kind == "ws_lag_step":
        return {"ws_lag_mult": round(float(rng.uniform(1.8, 4.0)), 2)}
    raise ValueError(kind)


def apply_effect(w: World, kind: str, eff: dict[str, float], onset: int) -> None:
    sl = slice(onset, w.n)
    if kind == "latency_step":
        w.can.lat[sl] *= eff["latency_mult"]
    elif kind == "errors_step":
        w.can.err_mult[sl] *= eff["errors_mult"]
    elif kind == "leak_drift":
        k = np.arange(w.n - onset) + 1
        w.can.pool_add[sl] += eff["pool_per_tick"] * k
        w.can.lat[sl] *= 1 + eff["latency_per_tick"] * k
    elif kind == "csp_spike":
        w.can.csp_add_per_1k[sl] += eff["csp_per_1k_req"]
    elif kind == "idempotency_step":
        w.can.idem_mult[sl] *= eff["idempotency_mult"]
    elif kind == "ws_lag_step":
        w.can.ws_mult[sl] *= eff["ws_lag_mult"]


ORACLE_TICKS = 5
ORACLE_Z = 3.0


def oracle_z(w: World, b: Base, kind: str, eff: dict[str, float], onset: int) -> float:
    """Expected evidence in the first ORACLE_TICKS ticks after onset for an engine that compares
    canary with baseline using request counts (FORMAT.md: every bad scenario is detectable
    within a few ticks). Scenarios below ORACLE_Z are redrawn."""
    idx = [i for i in range(onset, min(w.n, onset + ORACLE_TICKS)) if w.weights[i] < FULL]
    if not idx:
        return math.inf  # onset at 100 %: no baseline; only the thresholds can see it
    nc = [b.total * w.load[i] ** 0.9 * w.weights[i] / 100 for i in idx]
    nb = [b.total * w.load[i] ** 0.9 * (1 - w.weights[i] / 100) for i in idx]
    wts = [float(w.weights[i]) for i in idx]
    if kind in ("errors_step", "idempotency_step"):
        rate = b.err if kind == "errors_step" else b.idem
        m = eff.get("errors_mult", eff.get("idempotency_mult", 1.0))
        lam0 = sum(n * rate for n in nc)
        return more.counts_z(lam0, lam0 * m)
    if kind == "csp_spike":
        lam0 = sum(n * b.csp_per_1k / 1000 for n in nc)
        return more.counts_z(lam0, lam0 + sum(n * eff["csp_per_1k_req"] / 1000 for n in nc))
    if kind == "latency_step":
        sampling = (2.12 * b.lat_sigma) ** 2
        inv = sum(1 / (0.07**2 + sampling * (1 / c + 1 / a)) for c, a in zip(nc, nb, strict=True))
        return math.log(eff["latency_mult"]) * math.sqrt(inv)
    if kind == "ws_lag_step":
        inv = sum(1 / (0.17 ** 2 * ((50 / x) ** 0.4 + (50 / (100 - x)) ** 0.4)) for x in wts)
        return math.log(eff["ws_lag_mult"]) * math.sqrt(inv)
    if kind == "leak_drift":
        var = [1.35 ** 2 * ((50 / x) ** 0.6 + (50 / (100 - x)) ** 0.6) for x in wts]
        num = sum(eff["pool_per_tick"] * (k + 1) / v for k, v in enumerate(var))
        return num / math.sqrt(sum(1 / v for v in var))
    return math.inf


def bad_effect(w: World, b: Base, kind: str, at: int | None = None) -> tuple[int, dict[str, float]]:
    """Onset (unless given) and effect for a bad scenario, redrawn until it is detectable (and when
    no draw of 60 is, the best one made larger until it is: never a regression too weak to see)."""
    rng = w.rng
    best: tuple[float, int, dict[str, float]] | None = None
    for _ in range(60):
        onset = int(rng.integers(1, w.n - 6)) if at is None else at
        eff = draw_effect(rng, kind)
        z = oracle_z(w, b, kind, eff, onset)
        if z >= ORACLE_Z:
            return onset, eff
        if best is None or z > best[0]:
            best = (z, onset, eff)
    assert best is not None
    z, onset, eff = best
    for _ in range(40):  # FORMAT.md promises detectable: no draw is, so the best one grows until it is
        if z >= ORACLE_Z:
            break
        eff = grown(eff)
        z = oracle_z(w, b, kind, eff, onset)
    return onset, eff


def grown(eff: dict[str, float]) -> dict[str, float]:
    """The effect a quarter larger: multipliers above 1, additions (per tick, per 1000 requests)."""
    return {k: round(1 + (v - 1) * 1.25 if k.endswith("_mult") else v * 1.25, 4) for k, v in eff.items()}


# --------------------------------------------------------------------------- rendering


@dataclass
class Base:
    total: float
    lat: float
    lat_sigma: float
    err: float
    idem: float
    csp_per_1k: float
    ws: float
    pool: float


def render(w: World, b: Base) -> list[dict[str, Any]]:
    rng, n = w.rng, w.n
    ticks: list[dict[str, Any]] = []
    raw: dict[str, list[tuple[int, ...]]] = {"baseline": [], "canary": []}
    walk = np.exp(np.cumsum(rng.normal(0, 0.015, n)))
    for i in range(n):
        weight = float(w.weights[i])
        load = w.load[i] * walk[i]
        shared_lat = math.exp(rng.normal(0, 0.06))
        tick: dict[str, Any] = {"t": i * 60, "weight": int(weight)}
        for side, tr in (("baseline", w.base), ("canary", w.can)):
            share = weight / 100 if side == "canary" else 1 - weight / 100
            if share <= 0:
                tick[side] = _idle_baseline(rng, b)
                raw[side].append((0, 0, 0, 0, 0, 0.0))
                continue
            req = int(rng.poisson(b.total * load ** 0.9 * share))
            lat_level = b.lat * load ** 0.75 * shared_lat * tr.lat[i] * math.exp(rng.normal(0, 0.04))
            p95 = _p95(rng, lat_level, req, b.lat_sigma)
            err_rate = min(0.9, (b.err * load ** w.err_power + tr.err_add[i]) * tr.err_mult[i])
            idem_rate = min(0.9, (b.idem + tr.idem_add[i]) * tr.idem_mult[i])
            errs = int(rng.binomial(max(req, 0), err_rate))
            idem_req = int(rng.binomial(max(req, 0), w.idem_share)) if w.idem_share < 1 else req
            idems = int(rng.binomial(max(idem_req, 0), idem_rate))
            csp = int(rng.poisson((b.csp_per_1k + tr.csp_add_per_1k[i]) * req / 1000))
            if rng.random() < 0.01:
                csp += int(rng.integers(7, 22))  # natural CSP burst (a browser extension, a bot)
            ws_sd = 0.17 * (50 / (share * 100)) ** 0.2
            ws = b.ws * load ** 1.6 * tr.ws_mult[i] * math.exp(rng.normal(0, ws_sd))
            if tr.ws_level[i] > 0:
                ws = tr.ws_level[i] * tr.ws_mult[i] * math.exp(rng.normal(0, 0.3))
            if rng.random() < 0.025:
                ws *= rng.uniform(1.8, 4.0)  # natural lag spike
            pool_sd = 1.35 * (50 / (share * 100)) ** 0.3
            pool = b.pool * load ** 0.6 + tr.pool_add[i] + rng.normal(0, pool_sd)
            pool = min(max(pool, 0.5), 99.5)
            vals: dict[str, Any] = {
                "http_p95_ms": round(p95, 1),
                "http_5xx_pct": round(100 * errs / req, 3) if req > 0 else None,
                "ws_lag_s": round(ws, 2),
                "idempotency_conflict_pct": round(100 * idems / idem_req, 3) if idem_req > 0 else None,
                "csp_violations": csp,
                "pgbouncer_pool_util_pct": round(pool, 1),
                "requests": req,
            }
            raw[side].append((req, errs, idem_req, idems, csp, p95))
            if w.idem_share < 1:
                vals["denominators"] = {"idempotency_conflict_pct": idem_req}
            tick[side] = vals
        _spikes(w, i, tick)
        ticks.append(tick)
    if w.window > 1:
        _windows(w.window, ticks, raw)
    _damage(w, ticks)
    return ticks


def _windows(k: int, ticks: list[dict[str, Any]], raw: dict[str, list[tuple[int, ...]]]) -> None:
    """Each tick's rates and counts over its last k ticks (a `[k*interval]` query), requests per tick."""
    for side, rows in raw.items():
        for i in range(len(rows)):
            s = ticks[i][side]
            if s is None or len(rows) != len(ticks):
                continue
            win = rows[max(0, i - k + 1): i + 1]
            req, err, ireq, idem = (sum(r[j] for r in win) for j in range(4))
            s["http_5xx_pct"] = round(100 * err / req, 3) if req > 0 else None
            s["idempotency_conflict_pct"] = round(100 * idem / ireq, 3) if ireq > 0 else None
            s["csp_violations"] = int(sum(r[4] for r in win))
            logs = [(r[0], math.log(r[5])) for r in win if r[0] > 0 and r[5] > 0]
            if logs and req > 0:
                s["http_p95_ms"] = round(math.exp(sum(n * x for n, x in logs) / sum(n for n, _ in logs)), 1)


def _idle_baseline(rng: np.random.Generator, b: Base) -> dict[str, Any] | None:
    """The baseline at 100 % on the canary: no traffic. No track, or nulls, or idle gauges."""
    r = rng.random()
    if r < 0.3:
        return None
    idle: dict[str, Any] = {m: None for m in METRICS}
    idle["requests"] = 0
    if r >= 0.7:
        idle["ws_lag_s"] = round(b.ws * 0.2 * math.exp(rng.normal(0, 0.2)), 2)
        idle["pgbouncer_pool_util_pct"] = round(max(0.5, 3 + rng.normal(0, 1)), 1)
    return idle


def _spikes(w: World, i: int, tick: dict[str, Any]) -> None:
    rng = w.rng
    c = tick["canary"]
    for j, metric in w.spikes:
        if j != i:
            continue
        if metric == "http_p95_ms":
            c[metric] = round(c[metric] * rng.uniform(1.6, 3.0), 1)
        elif metric == "http_5xx_pct" and c["requests"]:
            extra = int(rng.integers(3, 12)) + int(c["requests"] * rng.uniform(0.005, 0.03))
            c[metric] = round(min(100.0, c[metric] + 100 * extra / c["requests"]), 3)
        elif metric == "ws_lag_s":
            c[metric] = round(c[metric] * rng.uniform(3, 12), 2)
        elif metric == "csp_violations":
            c[metric] += int(rng.integers(10, 30))


def _damage(w: World, ticks: list[dict[str, Any]]) -> None:
    rng = w.rng
    for start, length, sides, metrics in w.gaps:
        for i in range(start, min(len(ticks), start + length)):
            for side in sides:
                if ticks[i][side] is None:
                    continue
                if metrics == "all":
                    if rng.random() < 0.3:
                        ticks[i][side] = None
                    else:
                        ticks[i][side] = {k: None for k in ticks[i][side] if k != "denominators"}
                elif ticks[i][side] is not None:
                    ticks[i][side][metrics] = None
    for i, kind, side in w.glitches:
        s = ticks[i][side]
        if s is None:
            continue
        if kind == "counter_reset":
            neg = -int(rng.uniform(1e5, 6e5))
            s["requests"] = neg
            s["http_5xx_pct"] = round(-rng.uniform(1000, 5000), 3)
            s["idempotency_conflict_pct"] = round(-rng.uniform(50, 200), 3)
            s["csp_violations"] = -int(rng.uniform(500, 3000))
        elif kind == "low_n":
            r = int(rng.integers(0, 3))
            s["requests"] = r
            if r == 0:
                s["http_p95_ms"] = s["http_5xx_pct"] = s["idempotency_conflict_pct"] = None
            else:
                s["http_p95_ms"] = round(rng.uniform(2000, 40000), 1)
                s["http_5xx_pct"] = float(rng.choice([0.0, 50.0, 100.0]))
                s["idempotency_conflict_pct"] = float(rng.choice([0.0, 50.0]))
        elif kind == "pool_overflow":
            s["pgbouncer_pool_util_pct"] = round(rng.uniform(500, 12000), 1)


# --------------------------------------------------------------------------- one scenario


def scenario(
    seed: int, name: str, label: str | None = None, kind: str | None = None, full_stage: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = np.random.default_rng(seed)
    label = label or ("bad" if rng.random() < 0.5 else "good")
    kind = kind or str(rng.choice(BAD_KINDS if label == "bad" else GOOD_KINDS))
    stage_weights = (*WEIGHTS, FULL) if full_stage else WEIGHTS
    lengths = _stages(rng, stage_weights)
    weights = np.concatenate([np.full(k, wt) for k, wt in zip(lengths, stage_weights, strict=True)])
    n = len(weights)
    w = World(rng, n, weights, np.ones(n), Track.empty(n), Track.empty(n))
    b = Base(
        total=float(math.exp(rng.uniform(math.log(1500), math.log(25000)))),
        lat=float(rng.uniform(70, 200)), lat_sigma=float(rng.uniform(0.55, 0.85)),
        err=float(math.exp(rng.uniform(math.log(0.0002), math.log(0.005)))),
        idem=float(math.exp(rng.uniform(math.log(0.0002), math.log(0.002)))),
        csp_per_1k=float(math.exp(rng.uniform(math.log(0.05), math.log(0.5)))),
        ws=float(math.exp(rng.uniform(math.log(0.4), math.log(4.0)))),
        pool=float(rng.uniform(15, 45)),
    )
    onset: int | None = None
    eff: dict[str, Any] | None = None
    if label == "good":
        if kind == "surge":
            surge(w, int(rng.integers(2, n - 8)), rng.uniform(1.8, 3.5))
        elif kind == "incident":
            for _ in range(int(rng.integers(1, 3))):
                incident(w, int(rng.integers(1, n - 3)), int(rng.integers(2, 8)),
                         str(rng.choice(["broker_backlog", "downstream_errors", "db_saturation"])))
        elif kind == "decoy_alert":
            for _ in range(int(rng.integers(1, 3))):
                decoy(w, rng.uniform(0, n * 60))
        elif kind == "shared_drift":
            drift(w, int(rng.integers(0, n // 2)), rng.uniform(0.012, 0.025))
        elif kind == "warmup":
            warmup(w, int(rng.integers(1, 3)), rng.uniform(1.4, 1.9))
        elif kind == "spikes":
            spikes(w, int(rng.integers(1, 4)))
        elif kind == "incident_canary_worse":
            for _ in range(int(rng.integers(1, 3))):
                more.incident_canary_worse(
                    w, int(rng.integers(1, n - 3)), int(rng.integers(2, 8)),
                    str(rng.choice(["broker_backlog", "downstream_errors", "db_saturation"])))
        elif kind == "hot_surge":
            more.hot_surge(w, surge, int(rng.integers(2, n - 8)))
        elif kind == "metric_drift":
            more.metric_drift(w, int(rng.integers(0, n // 2)))
        elif kind == "warmup_mixed":
            more.warmup_mixed(w)
        more.styles(w, b, force=kind)
        random_nuisances(w, rich=kind == "glitchy")
    else:
        if kind == "alert":
            onset = int(rng.integers(1, n - 6))
            at = onset * 60 - float(rng.uniform(0, 59))
            w.alerts.append({"t": int(at), "name": str(rng.choice(ROLLBACK_ALERTS)),
                             "labels": {"auto_rollback": "true", "track": "canary", "severity": "page"}})
            eff = {}
        elif kind == "bad_in_surge":
            sub = str(rng.choice(["latency_step", "errors_step"]))
            onset = int(rng.integers(2, n - 8))
            surge(w, onset, rng.uniform(1.8, 3.5))
            onset, eff = bad_effect(w, b, sub, at=onset)  # the regression starts with the surge
            apply_effect(w, sub, eff, onset)
            kind = f"bad_in_surge/{sub}"
        elif kind in ("regression", "spread"):
            more.styles(w, b)
            onset, eff = more.regression(w, b) if kind == "regression" else more.spread(w, b)
            if kind == "regression":
                kind = f"regression/{eff['metric']}/{eff['shape']}"
        else:
            onset, eff = bad_effect(w, b, kind)
            apply_effect(w, kind, eff, onset)
        random_nuisances(w, rich=False)
    ticks = render(w, b)
    stages, i = [], 0
    for k, wt in zip(lengths, stage_weights, strict=True):
        stages.append({"weight": wt, "from_t": i * 60, "to_t": (i + k - 1) * 60})
        i += k
    gates: dict[str, dict[str, Any]] = {k: dict(v) for k, v in GATES.items()}
    if w.window > 1:  # what the plan knows of its queries' ranges: `[k*interval]`
        for m in ("http_p95_ms", "http_5xx_pct", "idempotency_conflict_pct", "csp_violations"):
            gates[m]["window_s"] = 60 * w.window
    scen = {"name": name, "interval_s": 60, "gates": gates, "stages": stages,
            "alerts": sorted(w.alerts, key=lambda a: a["t"]), "ticks": ticks}
    truth = {"name": name, "label": label, "onset_t": None if onset is None else onset * 60,
             "kind": kind, "effect": eff, "nuisance": w.nuisance}
    return scen, truth


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--count", type=int, default=400)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--full-stage", action="store_true",
                    help="append a stage at 100 %% (no baseline traffic): measures the no-baseline fallback")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for k in range(args.count):
        name = f"gen-{args.seed}-{k:04d}"
        scen, truth = scenario(args.seed * 100_003 + k, name, full_stage=args.full_stage)
        (args.out / f"{name}.json").write_text(json.dumps(scen), encoding="utf-8")
        (args.out / f"{name}.truth.json").write_text(json.dumps(truth, indent=1), encoding="utf-8")
    print(f"wrote {args.count} scenarios to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
