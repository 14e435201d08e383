"""The first night's criterion "user feedback neutral/positive" (issue 14): pending while none was
given (a checklist with nothing else missing then says PENDING), failed on any negative."""

from __future__ import annotations

import pytest

from runofshow.domain.checklist import (
    FEEDBACK_CRITERION,
    RunFacts,
    evaluate,
    judge_user_feedback,
    render,
    verdict,
)


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


def test_user_feedback_is_pending_in_the_checklist_until_some_is_given() -> None:
    for none_yet in (None, ()):
        criteria = evaluate(RunFacts(stages_planned=5, stages_completed=5, user_feedback=none_yet))
        assert criteria[-1].name == FEEDBACK_CRITERION and criteria[-1].pending and not criteria[-1].passed
    given = evaluate(RunFacts(stages_planned=5, stages_completed=5, user_feedback=("positive",)))
    assert given[-1].passed and len(given) == 10


def test_the_verdict_is_pending_when_only_feedback_is_missing() -> None:
    ok = judge_user_feedback(("neutral",))
    pending, negative = judge_user_feedback(()), judge_user_feedback(("negative",))
    assert verdict((ok, ok)) == "SUCCESS"
    assert verdict((ok, pending)) == "PENDING" and render((ok, pending)).endswith("1/2 criteria met: PENDING\n")
    assert verdict((negative, pending)) == "NOT MET"
    assert verdict(()) == "NOT MET"


def test_render_marks_pending_criteria() -> None:
    text = render((judge_user_feedback(()), judge_user_feedback(("negative",)), judge_user_feedback(("neutral",))))
    assert text.splitlines() == [
        "[~] User feedback neutral/positive: pending: no feedback yet",
        "[ ] User feedback neutral/positive: 1 negative",
        "[x] User feedback neutral/positive: 1 neutral",
        "1/3 criteria met: NOT MET",
    ]
