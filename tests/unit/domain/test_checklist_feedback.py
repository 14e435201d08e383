"""The first night's criterion "user feedback neutral/positive" (issue 14): pending while none was
given, failed on any negative; judged only when the facts carry feedback."""

from __future__ import annotations

import pytest

from runofshow.domain.checklist import FEEDBACK_CRITERION, RunFacts, evaluate, judge_user_feedback, render


@pytest.mark.parametrize(
    ("given", "passed", "pending", "detail"),
    [
        ((), False, True, "pending: no feedback yet"),
        (("positive",), True, False, "1 positive"),
        (("neutral",), True, False, "1 neutral"),
        (("positive", "neutral", "positive"), True, False, "2 positive, 1 neutral"),
        (("negative",), False, False, "1 negative"),
        (("positive", "positive", "negative"), False, False, "2 positive, 1 negative"),
        (("negative", "positive"), False, False, "1 positive, 1 negative"),  # a later positive does not undo it
        (("positive", "meh"), False, False, "unknown feedback: meh"),
    ],
)
def test_user_feedback_criterion(given: tuple[str, ...], passed: bool, pending: bool, detail: str) -> None:
    c = judge_user_feedback(given)
    assert (c.name, c.passed, c.pending, c.detail) == (FEEDBACK_CRITERION, passed, pending, detail)


def test_user_feedback_is_judged_only_when_gathered() -> None:
    base = RunFacts(stages_planned=5, stages_completed=5)
    assert FEEDBACK_CRITERION not in [c.name for c in evaluate(base)]
    with_feedback = evaluate(RunFacts(stages_planned=5, stages_completed=5, user_feedback=()))
    assert with_feedback[-1].name == FEEDBACK_CRITERION and with_feedback[-1].pending
    assert len(with_feedback) == len(evaluate(base)) + 1


def test_render_marks_pending_criteria() -> None:
    text = render((judge_user_feedback(()), judge_user_feedback(("negative",)), judge_user_feedback(("neutral",))))
    assert text.splitlines() == [
        "[~] User feedback neutral/positive: pending: no feedback yet",
        "[ ] User feedback neutral/positive: 1 negative",
        "[x] User feedback neutral/positive: 1 neutral",
        "1/3 criteria met: NOT MET",
    ]
