"""User feedback during the first night: `runofshow feedback RUN_ID positive|neutral|negative`.

    give_feedback(run_id, "neutral", note="two users saw a slow login", by="carol", ledger=...)

Anyone may give it (support, product, the on-call engineer relaying what users say). Each one is a
`user_feedback` ledger event {sentiment, note, by, t_s}; the first night's success criterion "user
feedback neutral/positive" is judged from all of them (`domain.checklist.judge_user_feedback`:
pending while none was given, failed on any negative).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from runofshow.app.run.events import EventKind
from runofshow.app.warroom.commander import recorder_for
from runofshow.domain.checklist import FEEDBACK, Criterion, judge_user_feedback
from runofshow.errors import InputError
from runofshow.ports import Ledger, LedgerEvent

USER_FEEDBACK = EventKind.USER_FEEDBACK.value  # the ledger event kind


def give_feedback(
    run_id: str, sentiment: str, *, note: str, by: str, ledger: Ledger,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> LedgerEvent:
    """Record one piece of user feedback on the run."""
    kind = (sentiment or "").strip().lower()
    if kind not in FEEDBACK:
        raise InputError(f"SENTIMENT: '{sentiment}' is not one of {', '.join(FEEDBACK)}")
    if not by or not by.strip():
        raise InputError("--as: say who is giving the feedback")
    rec = recorder_for(run_id, ledger=ledger, now=now)  # RunNotFoundError when there is no such run
    payload = {"sentiment": kind, "note": " ".join((note or "").split()), "by": " ".join(by.split())}
    return rec.append(EventKind.USER_FEEDBACK, payload)


def feedback_given(events: Sequence[LedgerEvent]) -> tuple[str, ...]:
    """Every sentiment given on the run, in order."""
    return tuple(str(e.payload.get("sentiment", "")) for e in events if e.kind == USER_FEEDBACK)


def feedback_criterion(events: Sequence[LedgerEvent]) -> Criterion:
    """The criterion "User feedback neutral/positive", judged from the run's events."""
    return judge_user_feedback(feedback_given(events))


__all__ = ["USER_FEEDBACK", "feedback_criterion", "feedback_given", "give_feedback"]
