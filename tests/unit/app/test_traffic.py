"""shift / rollback in runofshow.app.run.traffic, against the in-memory router and a fake sleep."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runofshow.adapters.memory import InMemoryRouter
from runofshow.app.run.traffic import rollback, shift
from runofshow.errors import RouterError


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_shift_sets_and_reads_back() -> None:
    router = InMemoryRouter()
    assert shift(router, 5) == 5
    assert router.sets == [5] and router.changes == [5]


def test_shift_raises_when_the_read_back_differs() -> None:
    router = InMemoryRouter(weight=1, stick_at=1)
    with pytest.raises(RouterError, match="set the canary weight to 25 % but the router reads back 1 %"):
        shift(router, 25)


@pytest.mark.parametrize("bad", [-1, 101, float("nan")])
def test_shift_refuses_weights_outside_0_to_100(bad: float) -> None:
    router = InMemoryRouter(weight=5)
    with pytest.raises(ValueError):
        shift(router, bad)
    assert router.sets == []


def test_shift_passes_router_errors_through() -> None:
    with pytest.raises(RouterError, match="scripted"):
        shift(InMemoryRouter(fail_sets=1), 5)


def test_rollback_first_try() -> None:
    router, sleeps = InMemoryRouter(weight=25), Sleeps()
    assert rollback(router, attempts=5, backoff_s=1, sleep=sleeps) == 1
    assert router.current_weight() == 0 and sleeps == []


def test_rollback_from_zero_is_allowed_and_changes_nothing() -> None:
    router = InMemoryRouter(weight=0)
    assert rollback(router, sleep=Sleeps()) == 1
    assert router.changes == []


def test_rollback_retries_while_the_weight_sticks_then_recovers() -> None:
    router, sleeps = InMemoryRouter(weight=25, stick_at=25, stick_times=2), Sleeps()
    assert rollback(router, attempts=5, backoff_s=1, sleep=sleeps) == 3
    assert router.sets == [0, 0, 0] and router.current_weight() == 0
    assert sleeps == [1, 2]


def test_rollback_retries_through_router_errors() -> None:
    router, sleeps = InMemoryRouter(weight=5, fail_sets=2, fail_reads=1), Sleeps()
    assert rollback(router, attempts=5, backoff_s=0.5, sleep=sleeps) == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_rollback_that_never_reads_zero_raises_after_the_last_attempt() -> None:
    router, sleeps = InMemoryRouter(weight=50, stick_at=5), Sleeps()
    with pytest.raises(RouterError, match="after 4 attempts; the router still reads back 5 %") as err:
        rollback(router, attempts=4, backoff_s=10, max_backoff_s=25, sleep=sleeps)
    assert err.value.adapter == "InMemoryRouter"
    assert sleeps == [10, 20, 25]  # no sleep after the last attempt; capped
    assert router.sets == [0, 0, 0, 0]


def test_rollback_that_always_fails_names_the_last_error() -> None:
    router = InMemoryRouter(weight=50, fail_sets=99)
    with pytest.raises(RouterError, match="after 2 attempts; the last attempt failed: .*scripted") as err:
        rollback(router, attempts=2, backoff_s=0, sleep=Sleeps())
    assert err.value.adapter == "memory" and isinstance(err.value.__cause__, RouterError)


def test_rollback_needs_at_least_one_attempt() -> None:
    with pytest.raises(ValueError):
        rollback(InMemoryRouter(), attempts=0, sleep=Sleeps())


@given(start=st.floats(0.01, 100), stuck=st.integers(0, 6), extra=st.integers(1, 4))
def test_rollback_takes_one_attempt_more_than_the_router_sticks(start: float, stuck: int, extra: int) -> None:
    router, sleeps = InMemoryRouter(weight=start, stick_at=start, stick_times=stuck), Sleeps()
    attempts = stuck + extra
    assert rollback(router, attempts=attempts, backoff_s=1, sleep=sleeps) == stuck + 1
    assert router.current_weight() == 0 and len(sleeps) == stuck


@given(stuck=st.integers(1, 8))
def test_rollback_gives_up_when_attempts_run_out(stuck: int) -> None:
    router = InMemoryRouter(weight=10, stick_at=10, stick_times=stuck)
    with pytest.raises(RouterError):
        rollback(router, attempts=stuck, backoff_s=0, sleep=Sleeps())
