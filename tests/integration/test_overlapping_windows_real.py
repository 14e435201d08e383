"""Issue 11, found live: gate queries over a fixed `[30s]` window at a 6 s tick (the shape of a user's
`[5m]` at a 1-min tick) on a real Prometheus. Each reading holds five ticks' worth of events, so one
rare idempotency conflict shows up in five readings; a judge that pooled them as independent rolled
a healthy canary back. The runner reads each gate's range with the PromQL parser and the judge
discounts the overlap: a healthy canary (both tracks drawn from the same distributions) promotes.

A missing prometheus binary fails this test (never skips). It runs the canary stages in real time
(about two minutes): Prometheus's windows are wall time.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from runofshow.adapters.memory import InMemoryLedger, InMemoryRouter, StaticAlerts
from runofshow.app.bootstrap import RunOptions, start_run
from runofshow.app.query_windows import judged_plan
from runofshow.app.run.events import RunStatus
from runofshow.domain.decide import decide
from runofshow.domain.plan import Plan, Timeline
from runofshow.domain.rules import DecisionRules, Stage, TrackQueries
from tests.helpers import passing_t10_handlers
from tests.integration.services import SERVICE, TRACKS, PrometheusServer, SparkMetrics, serve_registry

TICK_S = 6.0
IDEM = "idempotency_conflict_pct"
RANGE = "30s"
SHARE = {"baseline": 0.8, "canary": 0.2}  # of 500 requests a second, whatever the stage


class HealthyTraffic:
    """Both tracks from the same distributions: latency, 5xx, rare idempotency conflicts (1 in 500
    requests: about one canary conflict a tick), rare CSP reports, WebSocket lag and pool noise."""

    def __init__(self, metrics: SparkMetrics, seed: int) -> None:
        self.m, self.rng = metrics, random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="healthy-traffic")
        self._thread.start()

    def _run(self) -> None:
        m, rng = self.m, self.rng
        while not self._stop.wait(0.1):
            for track in TRACKS:
                n = int(50 * SHARE[track])
                for _ in range(n):
                    code = "500" if rng.random() < 0.003 else "200"
                    m.requests.labels(SERVICE, track, code).inc()
                    m.latency.labels(SERVICE, track).observe(rng.lognormvariate(-3.2, 0.4))
                    if rng.random() < 0.002:
                        m.idempotency.labels(SERVICE, track).inc()
                    if rng.random() < 0.0005:
                        m.csp.labels(SERVICE, track).inc()
                m.ws_lag.labels(SERVICE, track).set(0.5 * rng.lognormvariate(0.0, 0.1))
                m.pool_active.labels(SERVICE, track).set(20 + rng.gauss(0.0, 1.0))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture(scope="module")
def healthy_prometheus(prometheus_factory: Callable[..., PrometheusServer]) -> Iterator[PrometheusServer]:
    metrics = SparkMetrics()
    traffic = HealthyTraffic(metrics, seed=11)
    exporter = serve_registry(metrics.registry)
    server = prometheus_factory([exporter.target])
    # the first readings must already cover a whole `[30s]` window on both tracks
    start = time.monotonic()
    while time.monotonic() - start < 35:
        time.sleep(1)
    assert server.query(f'sum(increase(http_requests_total{{track="canary"}}[{RANGE}])) > 1000')
    yield server
    server.stop()
    exporter.close()
    traffic.stop()


def thirty_second_plan(server: PrometheusServer) -> Plan:
    base = Plan.model_validate({
        "release": {"service": SERVICE},
        "metrics_source": {"kind": "prometheus", "url": server.url, "timeout_s": 5, "retries": 1},
    })

    def fixed(q: TrackQueries) -> TrackQueries:
        return TrackQueries(baseline=q.baseline.replace("$window", RANGE), canary=q.canary.replace("$window", RANGE))

    gates = {n: g.model_copy(update={"query": fixed(g.query)}) if g.query else g for n, g in base.gates.items()}
    return base.model_copy(update={
        "gates": gates, "requests_query": fixed(base.requests_query),
        "decision": DecisionRules(tick_interval_s=TICK_S, hold_min=0.2),
        "stages": (Stage(weight=5, hold_min=0.9), Stage(weight=25, hold_min=0.9), Stage(weight=100, hold_min=0.1)),
        "timeline": Timeline(freeze_at_min=-3, war_room_at_min=-2, preflight_at_min=-1, first_night_h=0),
    })


def test_a_healthy_canary_with_30s_windows_at_a_6s_tick_promotes(healthy_prometheus: PrometheusServer) -> None:
    plan = thirty_second_plan(healthy_prometheus)
    ledger = InMemoryLedger()
    options = RunOptions(speed=60, check_windows=False)  # the T-minus steps fast, then real time
    world, runner = start_run(
        plan, options, environ={}, ledger=ledger, router=InMemoryRouter(), alerts=StaticAlerts(),
        step_handlers=passing_t10_handlers(), phase_speeds={"stages": 1.0, "first_night": 60.0},
    )
    try:
        status = runner.run()
    finally:
        world.close()
    decisions = [e.payload for e in ledger.events(runner.state.run_id) if e.kind == "decision"]
    stage_ticks = [d for d in decisions if d["weight"] < 100]
    assert status is RunStatus.PROMOTED, [d.get("sentence") for d in decisions if d["action"] != "proceed"]
    assert len(stage_ticks) >= 12  # two canary stages of nine ticks, judged
    assert all(d["query_window_s"] == pytest.approx(TICK_S, abs=0.5) for d in stage_ticks)
    assert not [d for d in decisions if d["action"] == "rollback"]
    canary = [d["inputs"]["canary"] for d in stage_ticks]
    assert all(c and (c["requests"] or 0) > 1000 for c in canary)  # each reading: 30 s of canary requests
    # the runner judged these readings as 30 s ranges (five ticks each): each event counted once
    history = [t for t in runner.state.history if t.weight < 100]
    judged = judged_plan(plan, TICK_S)
    assert judged.gates[IDEM].window_s == 30 and plan.gates[IDEM].window_s is None
    verdict = next(v for v in decide(judged, history).verdicts if v.metric == IDEM)
    assert verdict.n is not None and verdict.ticks is not None
    reading = history[-1].canary.requests if history[-1].canary else None
    assert reading and verdict.n < verdict.ticks * reading / 4  # requests pooled: a fifth of each reading
