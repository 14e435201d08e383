from __future__ import annotations

import pytest

from runofshow.app.query_windows import overlap_line, range_seconds, with_query_windows
from runofshow.domain.plan import Plan, TrackQueries
from runofshow.errors import PlanError


def test_range_selectors_are_read_by_the_parser():
    assert range_seconds("sum(rate(x[5m])) / sum(rate(y[30s]))", 60) == 300
    assert range_seconds("max(ws_lag)", 60) is None
    assert range_seconds("sum(increase(x[$window]))", 60) == 60
    assert range_seconds("max_over_time(rate(x[1m])[10m:1m])", 60) == 600
    with pytest.raises(ValueError):
        range_seconds("sum(rate(x[5m)", 60)


def test_windows_longer_than_the_tick_are_set_on_the_gates_and_said_in_one_line():
    plan = Plan()
    assert with_query_windows(plan) is plan and overlap_line(plan) is None
    q = TrackQueries(baseline='sum(increase(c{track="baseline"}[5m]))', canary='sum(increase(c{track="canary"}[5m]))')
    gates = {**plan.gates, "csp_violations": plan.gates["csp_violations"].model_copy(update={"query": q})}
    out = with_query_windows(plan.model_copy(update={"gates": gates}))
    assert out.gates["csp_violations"].window_s == 300 and out.gates["http_p95_ms"].window_s is None
    line = overlap_line(out)
    assert line is not None and "csp 300 s (x5)" in line and "\n" not in line


def test_a_query_that_is_not_promql_is_a_plan_error():
    plan = Plan()
    bad = TrackQueries(baseline="sum(rate(x[5m)", canary="up")
    gates = {**plan.gates, "ws_lag_s": plan.gates["ws_lag_s"].model_copy(update={"query": bad})}
    with pytest.raises(PlanError, match="gates.ws_lag_s.query.baseline: not a PromQL query"):
        with_query_windows(plan.model_copy(update={"gates": gates}))
