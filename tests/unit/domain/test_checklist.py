"""The seed's success criteria, judged from facts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from runofshow.domain.checklist import RunFacts, StageGates, all_passed, evaluate, render


def good() -> RunFacts:
    return RunFacts(
        stages_planned=5, stages_completed=5,
        stage_gates=tuple(StageGates(n, 6, 6) for n in range(1, 6)),
        rollbacks=0, critical_alerts=(), war_room_lines=48, war_room_missing=(), evidence_files=53,
        first_night_h=24, first_night_done_h=24, burn_rate_24h=0.4, burn_rate_24h_max=1.5,
        degradations=(), user_feedback=("neutral",),
    )


def test_a_clean_run_meets_every_criterion_in_the_seeds_order():
    criteria = evaluate(good())
    assert [c.name for c in criteria] == [
        "All 5 stages completed", "6/6 metrics PASS at each stage", "0 rollbacks", "0 critical alerts",
        "War-room log complete", "Evidence files collected (50+)", "24h monitoring complete",
        "SLO burn rate < 1.5", "No degradation", "User feedback neutral/positive",
    ]
    assert all_passed(criteria)
    text = render(criteria)
    assert text.splitlines()[0] == "[x] All 5 stages completed: 5/5 stages completed"
    assert text.endswith("10/10 criteria met: SUCCESS\n")


@pytest.mark.parametrize(
    ("change", "name", "detail"),
    [
        ({"stages_completed": 3}, "All 5 stages completed", "3/5 stages completed"),
        ({"stage_gates": (StageGates(1, 6, 6), StageGates(2, 6, 6), StageGates(3, 5, 6), StageGates(4, 6, 6),
                          StageGates(5, 6, 6))}, "6/6 metrics PASS at each stage", "stage 3: 5/6"),
        ({"stage_gates": tuple(StageGates(n, 6, 6) for n in range(1, 5))}, "6/6 metrics PASS at each stage",
         "stage 5: not judged"),
        ({"rollbacks": 1}, "0 rollbacks", "1 rollback(s)"),
        ({"critical_alerts": ("DBDown",)}, "0 critical alerts", "1 critical alert(s): DBDown"),
        ({"war_room_missing": ("Stage 2 start",)}, "War-room log complete", "missing: Stage 2 start"),
        ({"war_room_lines": 0}, "War-room log complete", "log is empty"),
        ({"evidence_files": 49}, "Evidence files collected (50+)", "49 files"),
        ({"evidence_files": None}, "Evidence files collected (50+)", "not counted"),
        ({"first_night_done_h": 6.5}, "24h monitoring complete", "6.5 h of 24 h"),
        ({"first_night_done_h": None}, "24h monitoring complete", "first night not started"),
        ({"burn_rate_24h": 1.5}, "SLO burn rate < 1.5", "24 h burn rate 1.50x"),
        ({"burn_rate_24h": None}, "SLO burn rate < 1.5", "no 24 h burn rate measured"),
        ({"degradations": ("T+3h: hold",)}, "No degradation", "T+3h: hold"),
    ],
)
def test_each_failing_fact_fails_its_criterion_only(change, name, detail):
    criteria = evaluate(replace(good(), **change))
    failed = [c for c in criteria if not c.passed]
    assert [(c.name, c.detail) for c in failed] == [(name, detail)]
    assert not all_passed(criteria)
    assert render(criteria).endswith("9/10 criteria met: NOT MET\n")


def test_long_lists_are_shortened():
    facts = replace(good(), critical_alerts=("A", "B", "C", "D", "E"))
    c = next(c for c in evaluate(facts) if c.name == "0 critical alerts")
    assert c.detail == "5 critical alert(s): A, B, C (+2 more)"


def test_nothing_planned_is_not_success():
    assert not all_passed(evaluate(RunFacts(stages_planned=0, stages_completed=0)))
    assert not all_passed(())
