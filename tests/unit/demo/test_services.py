"""The demo's sample services: what they refuse, and the traffic model behind them (latency, the pool
leak, WebSocket lag). Running services are tested in tests/integration/test_sample_services.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from runofshow.demo.behaviour import ORDERS, PORTFOLIO, QUOTES, Behaviour, TrafficModel
from runofshow.demo.services import SampleService

# ---------------------------------------------------------------------------------------- serving


def test_constructor_refuses_non_loopback_hosts_unknown_tracks_and_faults() -> None:
    with pytest.raises(ValueError, match="loopback"):
        SampleService("v1", "canary", host="0.0.0.0")
    with pytest.raises(ValueError, match="track"):
        SampleService("v1", "blue")
    with pytest.raises(ValueError, match="unknown fault"):
        SampleService("v1", "canary", fault="meltdown")


# ---------------------------------------------------------------------------------------- metrics


# ---------------------------------------------------------------------------------------- faults


# ------------------------------------------------------------------------------- the model, in demo time


def _draws_p95_ms(model: TrafficModel, now: float, n: int = 20_000) -> float:
    eps = [QUOTES, QUOTES, PORTFOLIO, ORDERS]
    delays = []
    for i in range(n):
        delays.append(model.begin(eps[i % 4], now).delay_s)
        model.finish(eps[i % 4], None, 0.0, now)
    return float(np.percentile(delays, 95)) * 1000


def test_model_latency_healthy_p95_near_150_ms_and_about_3x_under_the_latency_fault() -> None:
    model = TrafficModel(Behaviour(), seed=1, fault=None, now=0.0)
    healthy = _draws_p95_ms(model, 0.0)
    assert 120 <= healthy <= 180
    model.set_fault("latency", 0.0)
    assert 2.5 <= _draws_p95_ms(model, 0.0) / healthy <= 3.2


def test_model_leak_crosses_80_percent_within_30_to_60_seconds_and_latency_creeps() -> None:
    model = TrafficModel(Behaviour(), seed=1, fault=None, now=100.0)
    before = _draws_p95_ms(model, 100.0, 4000)
    model.set_fault("leak", 100.0)
    util = [model.snapshot(10, 100.0 + t)["pgbouncer_pool_util_pct"] for t in range(91)]
    crossed = next(t for t, u in enumerate(util) if u > 80)
    assert 30 <= crossed <= 60 and util == sorted(util) and util[-1] == 100
    assert _draws_p95_ms(model, 100.0 + crossed, 4000) > 1.8 * before


def test_model_ws_lag_is_a_bounded_walk_of_a_few_seconds() -> None:
    model = TrafficModel(Behaviour(), seed=4, fault=None, now=0.0)
    lags = [model.ws_lag(float(t)) for t in range(0, 1800, 5)]
    assert all(0.2 <= lag <= 12 for lag in lags)
    assert 2 <= float(np.mean(lags)) <= 4 and float(np.std(lags)) > 0.3
    assert math.isfinite(model.ws_lag(1e9))  # a long idle gap is bounded work
