from __future__ import annotations

import pytest
from pydantic import ValidationError

from runofshow.domain.plan import Plan
from runofshow.domain.rules import Direction, Gate, GateKind, Stage
from runofshow.domain.timeline import StepKind, schedule, t_label


def test_default_plan_matches_the_run_of_show():
    plan = Plan()
    assert [s.weight for s in plan.stages] == [1, 5, 25, 50, 100]
    assert plan.stage_starts_min() == (0, 15, 30, 45, 60)
    assert plan.nominal_duration_min == 90
    assert {n: g.threshold for n, g in plan.gates.items()} == {
        "http_p95_ms": 300, "http_5xx_pct": 1.0, "ws_lag_s": 30,
        "idempotency_conflict_pct": 1.0, "csp_violations": 10, "pgbouncer_pool_util_pct": 80,
    }
    assert plan.market.calendar == "XIST" and plan.market.timezone == "Europe/Istanbul"
    assert plan.freeze.label == "hold-for-canary"


@pytest.mark.parametrize("weight", [0, -1, 100.5, 1000])
def test_stage_weight_must_be_between_0_and_100(weight):
    with pytest.raises(ValidationError, match="must be between 0 and 100"):
        Stage(weight=weight)


def test_stages_must_increase_and_end_at_100():
    with pytest.raises(ValidationError, match="must increase"):
        Plan(stages=(Stage(weight=5), Stage(weight=1), Stage(weight=100)))
    with pytest.raises(ValidationError, match="must be 100"):
        Plan(stages=(Stage(weight=5), Stage(weight=50)))


def test_users_may_add_and_remove_gates():
    plan = Plan(gates={"queue_depth": Gate(threshold=1000, kind=GateKind.GAUGE)})
    assert plan.gate_names == ("queue_depth",)
    with pytest.raises(ValidationError, match="not a metric name"):
        Plan(gates={"Bad-Name": Gate(threshold=1)})
    with pytest.raises(ValidationError, match="at least one gate"):
        Plan(gates={})


def test_gate_direction():
    low = Gate(threshold=300)
    high = Gate(threshold=99.0, direction=Direction.HIGHER_IS_BETTER)
    assert low.breaches(301) and not low.breaches(300)
    assert high.breaches(98.9) and not high.breaches(99.5)
    assert high.badness(98) > high.badness(99)


def test_schedule_has_every_step_in_order():
    steps = schedule(Plan())
    kinds = [s.kind for s in steps]
    assert kinds[:4] == [StepKind.FREEZE_START, StepKind.WAR_ROOM, StepKind.PREFLIGHT, StepKind.BLAST_RADIUS]
    assert [s.label for s in steps if s.kind is StepKind.STAGE] == ["T0", "T+15", "T+30", "T+45", "T+60"]
    assert [s.label for s in steps][-3:] == ["T+90", "T+90", "T+25.5h"]
    offsets = [s.offset for s in steps]
    assert offsets == sorted(offsets)


@pytest.mark.parametrize(("minutes", "label"), [(0, "T0"), (-30, "T-30"), (15, "T+15"), (1440, "T+24h")])
def test_t_labels(minutes, label):
    from datetime import timedelta

    assert t_label(timedelta(minutes=minutes)) == label
