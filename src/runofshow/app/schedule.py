"""The schedule read model: the plan's timeline as rows with absolute times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from runofshow.domain.plan import Plan
from runofshow.domain.timeline import schedule


def schedule_rows(plan: Plan, t0: datetime | None) -> list[dict[str, Any]]:
    """One row per step: label, kind, title, does and, when T0 is known, its local and UTC time."""
    zone = ZoneInfo(plan.market.timezone)
    rows: list[dict[str, Any]] = []
    for step in schedule(plan):
        row: dict[str, Any] = {
            "label": step.label, "kind": step.kind.value, "title": step.title, "does": step.does,
            "offset_min": step.offset.total_seconds() / 60,
        }
        if t0 is not None:
            at = step.at(t0)
            row["local"] = at.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")
            row["utc"] = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
            row["at"] = at.isoformat()
        rows.append(row)
    return rows
