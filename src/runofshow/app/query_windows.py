"""How much of the past each gate query reads: its range selectors, read with a real PromQL parser.

A gate query such as `sum(increase(csp_violation_reports_total[5m]))` evaluated every minute
reports five minutes of events at every tick: one event shows up in five consecutive readings.
The judge (domain/judge.py) must not count it five times, so the plan's gates carry the window
(`Gate.window_s`) and the judge discounts the pooled evidence by the overlap (window / tick).

The parse is the library's (`promql-parser`, the Rust parser Prometheus-compatible tools use);
the domain only ever sees the number. `$window` (the runner's own query window) is read as
`window_s` (default: one tick). A query that is not PromQL is a plan error (fail closed).

The requests a gate is weighed by count too: a rate divides by them (unless it names its own
`count_query`) and a latency's sampling noise shrinks with them. A `requests_query` over `[5m]` at a
1-min tick reports five ticks' requests at every tick; weighing a `[1m]` 5xx percentage by them
would count each error five times, so such a gate carries the longer of the two windows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from runofshow.domain.plan import Plan
from runofshow.domain.rules import Gate, GateKind, TrackQueries
from runofshow.errors import PlanError


def _durations(node: Any) -> Iterator[timedelta]:
    import promql_parser as pp

    if isinstance(node, pp.MatrixSelector | pp.SubqueryExpr) and node.range is not None:
        yield node.range
    for attr in ("lhs", "rhs", "expr", "args"):
        child = getattr(node, attr, None)
        if child is None:
            continue
        for c in child if isinstance(child, list) else (child,):
            yield from _durations(c)


def range_seconds(expr: str, window_s: float) -> float | None:
    """The longest range selector in `expr` in seconds (`$window` read as `window_s`), None without
    any. Raises ValueError when `expr` is not PromQL."""
    import promql_parser as pp

    text = expr.replace("$window", f"{max(1, round(window_s))}s")
    try:
        tree = pp.parse(text)
    except (ValueError, RuntimeError) as ex:
        raise ValueError(str(ex).splitlines()[0] if str(ex) else "not PromQL") from None
    ranges = [d.total_seconds() for d in _durations(tree)]
    return max(ranges) if ranges else None


def _longest(field: str, queries: TrackQueries | None, tick_s: float, window_s: float | None,
             speed: float) -> float | None:
    """The longest range either track's query reads, in plan seconds (see gate_window_s)."""
    found: list[float] = []
    for track in ("baseline", "canary") if queries is not None else ():
        try:
            r = range_seconds(getattr(queries, track), window_s or tick_s / speed)
        except ValueError as ex:
            raise PlanError(f"{field}.{track}: not a PromQL query ({ex})") from None
        if r is not None:
            found.append(r * speed)
    return max(found) if found else None


def weighs_by_requests(gate: Gate) -> bool:
    """A rate without its own denominator divides by the plan's requests; a latency's noise shrinks
    with them. Counts compare the tracks' shares (the same factor on both cancels), gauges ignore them."""
    return (gate.kind is GateKind.RATE and gate.count_query is None) or gate.kind is GateKind.LATENCY


def gate_window_s(name: str, gate: Gate, tick_s: float, window_s: float | None = None,
                  speed: float = 1.0, requests_s: float | None = None) -> float | None:
    """The longest range any of the gate's queries reads, in plan seconds (a range is wall time: under
    `--speed N` it covers N times as many plan seconds), None when no query has one. `$window` is
    read as `window_s` wall seconds (default: one tick). `requests_s`: the plan's requests_query's
    range, counted for a gate that weighs by requests (`weighs_by_requests`)."""
    found = [w for field, queries in (("query", gate.query), ("count_query", gate.count_query))
             if (w := _longest(f"gates.{name}.{field}", queries, tick_s, window_s, speed)) is not None]
    if requests_s is not None and weighs_by_requests(gate):
        found.append(requests_s)
    return max(found) if found else None


def denominator_window_s(name: str, gate: Gate, tick_s: float, window_s: float | None = None,
                         speed: float = 1.0, requests_s: float | None = None) -> float | None:
    """A rate's denominator's range, in plan seconds: its `count_query`'s, else the requests query's
    (`requests_s`); None for another kind of gate, or a denominator without a range."""
    if gate.kind is not GateKind.RATE:
        return None
    if gate.count_query is not None:
        return _longest(f"gates.{name}.count_query", gate.count_query, tick_s, window_s, speed)
    return requests_s


def with_query_windows(plan: Plan, window_s: float | None = None, speed: float = 1.0) -> Plan:
    """The plan with `window_s` set on every gate whose queries read more than one tick (a gate
    that sets `window_s` itself keeps it). Unchanged when every range is one tick or less.
    `window_s`: what `$window` stands for, in wall seconds (the runner's query window: at least
    PROMETHEUS_MIN_WINDOW_S); `speed`: plan seconds per wall second (`--speed`)."""
    tick = plan.decision.tick_interval_s
    requests_s = _longest("requests_query", plan.requests_query, tick, window_s, speed)
    gates: dict[str, Gate] = {}
    changed = False
    for name, gate in plan.gates.items():
        w = gate_window_s(name, gate, tick, window_s, speed, requests_s)
        if gate.window_s is None and w is not None and w > tick + 1e-9:
            update: dict[str, float] = {"window_s": w}
            den = denominator_window_s(name, gate, tick, window_s, speed, requests_s)
            if gate.denominator_window_s is None and den is not None:
                update["denominator_window_s"] = den  # overlap.counted_ticks: at least one tick
            gates[name] = gate.model_copy(update=update)
            changed = True
        else:
            gates[name] = gate
    return plan.model_copy(update={"gates": gates}) if changed else plan


def overlap_line(plan: Plan) -> str | None:
    """One line for `validate`: which gates' readings overlap and how the judge discounts them."""
    tick = plan.decision.tick_interval_s
    over = [(n, g.window_s) for n, g in plan.gates.items() if g.window_s is not None and g.window_s > tick]
    if not over:
        return None
    parts = ", ".join(f"{g.short or n} {w:g} s (x{w / tick:.3g})" for n, g in plan.gates.items()
                      for m, w in over if m == n)
    line = (
        f"query windows longer than the {tick:g} s tick: {parts}; consecutive readings share their "
        "events, so the judge discounts pooled evidence by that overlap"
    )
    own = [f"{g.short or n} {g.denominator_window_s:g} s" for n, g in plan.gates.items()
           if g.window_s is not None and g.window_s > tick and g.denominator_window_s is not None
           and g.denominator_window_s < g.window_s]
    if own:
        line += f" (a rate by its denominator's range: {', '.join(own)})"
    return line


def judged_plan(plan: Plan, query_window_s: float, speed: float = 1.0) -> Plan:
    """The plan the runner judges a stage tick with: when the gates are PromQL (a Prometheus metrics
    source), each gate carries the window its queries really read at this tick (`$window` is the
    runner's query window), so the judge discounts overlapping readings. Other sources: the plan."""
    if plan.metrics_source.kind != "prometheus":
        return plan
    return with_query_windows(plan, query_window_s, speed)
