"""Market-window use cases: `runofshow window check`, the runner's stage gate and the plan's marks.

The rules live in `runofshow.domain.windows`; this module feeds them the calendar's facts and
shapes the answers (JSON rows, ledger payloads, schedule marks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from runofshow.domain.plan import Plan
from runofshow.domain.timeline import Step, StepKind, schedule
from runofshow.domain.windows import (
    Activity,
    ScheduledStep,
    WindowVerdict,
    evaluate_at,
    next_allowed,
    next_fitting_start,
    plan_fits,
)
from runofshow.ports import MarketCalendar


def _iso(at: datetime | None, plan: Plan) -> str | None:
    return None if at is None else at.astimezone(ZoneInfo(plan.market.timezone)).isoformat()


def verdict(plan: Plan, calendar: MarketCalendar, at: datetime) -> WindowVerdict:
    return evaluate_at(at, plan.market, calendar.market_day)


def window_report(plan: Plan, calendar: MarketCalendar, at: datetime) -> dict[str, Any]:
    """The `window check --json` object for one instant.

    next_canary_window is null when a canary stage may start at `at` itself.
    """
    v = verdict(plan, calendar, at)
    nxt = None if v.canary else next_allowed(Activity.CANARY, at, plan.market, calendar.market_day)
    return {
        "at": at.isoformat(),
        "market_open": v.market_open,
        "session_day": v.session_day,
        "holiday": v.holiday,
        "early_close": v.early_close,
        "dst_week": v.dst_week,
        "allowed": {"canary": v.canary, "schema_change": v.schema_change, "rollback": True},
        "canary_preferred": v.canary_preferred,
        "next_canary_window": _iso(nxt, plan),
        "reasons": list(v.reasons),
    }


# --------------------------------------------------------------------------- the runner's gate


@dataclass(frozen=True)
class StageGate:
    """May `activity` start at `at`? If not, when (`resume_at`) and why."""

    activity: Activity
    at: datetime
    allowed: bool
    preferred: bool
    resume_at: datetime | None
    reason: str
    verdict: WindowVerdict

    def ledger_payload(self) -> dict[str, Any]:
        return {
            "activity": self.activity.value, "at": self.at.isoformat(), "allowed": self.allowed,
            "preferred": self.preferred,
            "resume_at": None if self.resume_at is None else self.resume_at.isoformat(),
            "reason": self.reason, "reasons": list(self.verdict.reasons),
        }


def stage_gate(plan: Plan, calendar: MarketCalendar, activity: Activity, at: datetime) -> StageGate:
    """The runner asks before starting a stage (CANARY), a schema change or a rollback.

    A rollback is always allowed. When blocked, `resume_at` is the next moment it may start (None
    when nothing opens within two weeks) and `reason` says why, for the ledger and the war room.
    """
    v = verdict(plan, calendar, at)
    if activity is Activity.ROLLBACK:
        return StageGate(activity, at, True, True, None, "rollback is always allowed", v)
    ok = v.allows(activity)
    preferred = v.canary_preferred if activity is Activity.CANARY else ok
    blocked = [r for r in v.reasons if "blocked" in r]
    if ok:
        reason = "allowed" if preferred else "allowed; preferred outside market hours"
        return StageGate(activity, at, True, preferred, None, reason, v)
    resume = next_allowed(activity, at, plan.market, calendar.market_day)
    when = f"; resumes at {_iso(resume, plan)}" if resume else "; no window within 14 days"
    return StageGate(activity, at, False, False, resume, "; ".join(blocked) + when, v)


# --------------------------------------------------------------------------- the plan's marks


def scheduled_steps(steps: Sequence[Step]) -> tuple[ScheduledStep, ...]:
    """Timeline steps as window steps: canary stages are restricted; the other steps are not."""
    return tuple(
        ScheduledStep(s.title, s.offset, Activity.CANARY if s.kind is StepKind.STAGE else None)
        for s in steps
    )


def schedule_marks(
    plan: Plan, calendar: MarketCalendar, t0: datetime, *, require_preferred: bool = False,
) -> dict[str, Any]:
    """Each step of the schedule at T0 marked allowed/blocked, and the next T0 where all fit.

    {"steps": [{"label", "title", "at", "allowed", "preferred", "reason"}], "fits": bool,
     "next_fitting_start": ISO or null (null also when T0 itself fits)}
    """
    steps = schedule(plan)
    window_steps = scheduled_steps(steps)
    checks = plan_fits(window_steps, t0, plan.market, calendar.market_day)
    rows = [
        {"label": s.label, "title": s.title, "at": c.at.isoformat(), "allowed": c.allowed,
         "preferred": c.preferred, "reason": c.reason}
        for s, c in zip(steps, checks, strict=True)
    ]
    fits = all(c.allowed and (c.preferred or not require_preferred) for c in checks)
    nxt = None
    if not fits:
        nxt = next_fitting_start(
            window_steps, t0, plan.market, calendar.market_day, require_preferred=require_preferred,
            horizon=timedelta(days=14),
        )
    return {"steps": rows, "fits": fits, "next_fitting_start": _iso(nxt, plan)}
