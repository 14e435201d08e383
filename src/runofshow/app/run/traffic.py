"""Moving canary traffic with a read-back after every write (argo-rollouts' VerifyWeight idea).

`shift` sets a weight and checks the router reports it back; `rollback` sets 0 % and keeps
trying, with a bounded backoff, until the router reads back 0 %. Rollback is allowed at any time:
nothing here looks at windows, freezes or stages. No I/O except through the router and the
injected `sleep` (the runner passes `Clock.sleep`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from runofshow.errors import RouterError
from runofshow.ports import TrafficRouter

#: Two weights closer than this are the same weight (routers store 0.01 % steps at the finest).
TOLERANCE = 1e-6


def _adapter(router: TrafficRouter) -> str:
    return type(router).__name__


def same_weight(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=0.0, abs_tol=TOLERANCE)


def shift(router: TrafficRouter, weight: float) -> float:
    """Set `weight` % and read it back. Returns the weight read back.

    Raises `ValueError` for a weight outside 0..100 and `RouterError` when the router fails or
    reads back something else.
    """
    if not 0.0 <= weight <= 100.0:
        raise ValueError(f"weight must be between 0 and 100 %, not {weight!r}")
    router.set_weight(weight)
    got = router.current_weight()
    if not same_weight(got, weight):
        raise RouterError(
            f"set the canary weight to {weight:g} % but the router reads back {got:g} %",
            adapter=_adapter(router),
        )
    return got


def rollback(
    router: TrafficRouter, *, attempts: int = 10, backoff_s: float = 1.0, max_backoff_s: float = 30.0,
    sleep: Callable[[float], None],
) -> int:
    """Set 0 % until the router reads back 0 %. Returns how many attempts it took (1 = first try).

    Each attempt sets 0 % and reads the weight back; a failure of either (a `RouterError`) or a
    read-back other than 0 counts as a failed attempt. Between attempts it sleeps `backoff_s`,
    doubling up to `max_backoff_s`. After `attempts` failed attempts it raises `RouterError` naming
    the last weight read back or the last error.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    last: str = "nothing was read back"
    last_error: RouterError | None = None
    delay = backoff_s
    for attempt in range(1, attempts + 1):
        try:
            router.set_weight(0)
            got = router.current_weight()
        except RouterError as e:
            last, last_error = f"the last attempt failed: {e}", e
        else:
            if same_weight(got, 0.0):
                return attempt
            last, last_error = f"the router still reads back {got:g} %", None
        if attempt < attempts:
            sleep(delay)
            delay = min(delay * 2, max_backoff_s)
    error = RouterError(
        f"rollback did not reach 0 % after {attempts} attempts; {last}",
        adapter=last_error.adapter if last_error else _adapter(router),
        target=last_error.target if last_error else "",
    )
    raise error from last_error


__all__ = ["TOLERANCE", "rollback", "same_weight", "shift"]
