"""The demo's load generator against a running sample service: steady open-loop rate, bounded
concurrency, stops by itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runofshow.demo.behaviour import Behaviour
from runofshow.demo.load import LoadGenerator
from runofshow.demo.services import SampleService


@pytest.fixture
def stable() -> Iterator[SampleService]:
    svc = SampleService("v1.3.7", "baseline", seed=21).start()
    yield svc
    svc.stop()


def test_achieves_roughly_the_asked_rate_for_two_seconds(stable: SampleService) -> None:
    gen = LoadGenerator(stable.url, rate_per_s=60, seed=1, concurrency=32).start()
    assert gen.wait(2.0) is False and gen.running  # still going: it only ends on stop or max_duration_s
    stats = gen.stop()
    assert not gen.running and gen.error is None
    assert stats.completed == stats.sent and stats.failed == 0 and stats.dropped == 0
    assert 0.8 * 60 <= stats.rate_per_s <= 1.1 * 60
    assert stats.by_track == {"baseline": stats.completed}
    assert stats.by_status.get("2xx", 0) >= 0.95 * stats.completed
    assert 1 <= stats.max_in_flight <= 32
    assert stats.p95_ms is not None and 50 <= stats.p95_ms <= 400
    served = stable.snapshot(10)["requests"]
    assert served == stats.completed


def test_concurrency_is_bounded_and_excess_arrivals_are_dropped_not_queued() -> None:
    slow = Behaviour(latency_scale=6.0)  # median ~0.4 s: 50/s needs ~20 in flight
    with SampleService("v1.4.0", "canary", seed=2, behaviour=slow) as svc:
        gen = LoadGenerator(svc.url, rate_per_s=50, seed=2, concurrency=4).start()
        gen.wait(1.5)
        stats = gen.stop()
    assert stats.max_in_flight <= 4
    assert stats.dropped > 0.5 * (stats.sent + stats.dropped)
    assert stats.by_track.get("canary", 0) == stats.completed


def test_stops_by_itself_after_max_duration(stable: SampleService) -> None:
    gen = LoadGenerator(stable.url, rate_per_s=40, seed=3, max_duration_s=0.5).start()
    assert gen.wait(5.0) is True
    stats = gen.stats()
    assert not gen.running and 10 <= stats.sent <= 30
    assert gen.stop().sent == stats.sent  # stopping a finished generator is harmless


def test_unreachable_target_counts_failures_and_still_stops() -> None:
    with SampleService("v1", "canary") as svc:
        url = svc.url
    gen = LoadGenerator(url, rate_per_s=20, seed=4, max_duration_s=0.5, timeout_s=1).start()
    assert gen.wait(5.0)
    stats = gen.stats()
    assert stats.sent > 0 and stats.failed == stats.sent and stats.completed == 0
