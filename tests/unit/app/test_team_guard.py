"""Team mode's guard around a run's router and metrics: the fence before every traffic change and
per-call timeouts (a hung call is abandoned, never waited on, and never queues the next one)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from runofshow.adapters.memory import InMemoryRouter, ScriptedMetrics
from runofshow.app.team.guard import CallThreads, CallTimeout, GuardedMetrics, GuardedRouter, guard_ports
from runofshow.errors import LeaseLostError, MetricsUnavailableError, RouterError
from tests.helpers import wait_until


class HangingRouter(InMemoryRouter):
    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.hang = True

    def set_weight(self, weight: float) -> None:
        if self.hang:
            self.release.wait(30)
        super().set_weight(weight)


def test_the_fence_runs_before_every_write_and_a_refusal_moves_nothing() -> None:
    router = InMemoryRouter()
    calls: list[str] = []
    held = [True]

    def fence() -> None:
        calls.append("fence")
        if not held[0]:
            raise LeaseLostError("lease_lost: taken over")

    guarded = GuardedRouter(router, fence=fence, calls=CallTimeout(5))
    guarded.set_weight(1)
    assert guarded.current_weight() == 1
    held[0] = False
    with pytest.raises(LeaseLostError):
        guarded.set_weight(5)
    assert router.sets == [1.0] and calls == ["fence", "fence"]  # reads are not fenced


def test_a_hung_router_call_is_abandoned_and_the_next_is_not_queued_behind_it() -> None:
    router = HangingRouter()
    calls = CallTimeout(0.2)
    guarded = GuardedRouter(router, fence=None, calls=calls)
    with pytest.raises(RouterError, match="set_weight took longer than 0.2 s"):
        guarded.set_weight(5)
    assert calls.hung == 1
    assert guarded.current_weight() == 0  # answered at once, beside the hung call
    router.release.set()
    for _ in range(100):
        if calls.hung == 0:
            break
        threading.Event().wait(0.02)
    assert calls.hung == 0


def test_a_hung_metrics_call_is_no_data() -> None:
    gate = threading.Event()

    class Slow(ScriptedMetrics):
        def observe(self, at: datetime, window_s: float):  # type: ignore[no-untyped-def]
            gate.wait(30)
            return super().observe(at, window_s)

    guarded = GuardedMetrics(Slow(), calls=CallTimeout(0.1))
    with pytest.raises(MetricsUnavailableError, match="observe took longer"):
        guarded.observe(datetime(2026, 12, 7, tzinfo=UTC), 60)
    gate.set()


def test_errors_pass_through_and_other_attributes_are_the_inner_ones() -> None:
    router = InMemoryRouter(fail_sets=1)
    wrapped_router, wrapped_metrics = guard_ports(None, 5)(router, ScriptedMetrics())
    with pytest.raises(RouterError, match="scripted"):
        wrapped_router.set_weight(5)
    assert wrapped_router.sets == []  # type: ignore[attr-defined]
    assert wrapped_metrics.observe(datetime(2026, 12, 7, tzinfo=UTC), 60) == (None, None)


def test_calls_reuse_idle_threads_and_an_idle_thread_ends() -> None:
    threads = CallThreads(idle_s=0.05)
    calls = CallTimeout(5, threads)
    ran_on = {calls.call("observe", threading.get_ident, MetricsUnavailableError, "x") for _ in range(50)}
    assert len(ran_on) == 1  # one thread served every call, one after the other
    wait_until(lambda: not any(t.ident in ran_on for t in threading.enumerate()), what="the idle thread ends")
    assert calls.call("observe", lambda: 7, MetricsUnavailableError, "x") == 7  # a new one starts


def test_a_hung_call_keeps_its_thread_and_the_next_call_takes_another() -> None:
    threads = CallThreads()
    calls = CallTimeout(0.1, threads)
    gate = threading.Event()
    hung_on: list[int] = []

    def hang() -> None:
        hung_on.append(threading.get_ident())
        gate.wait(30)

    with pytest.raises(RouterError, match="took longer"):
        calls.call("set_weight", hang, RouterError, "x")
    assert calls.call("current_weight", threading.get_ident, RouterError, "x") not in hung_on
    gate.set()
    wait_until(lambda: calls.hung == 0, what="the hung call returns")
    assert calls.call("current_weight", threading.get_ident, RouterError, "x") is not None
