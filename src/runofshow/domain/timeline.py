"""The T-minus schedule as data: every step of the run-of-show, its offset from T0, what it does.

`schedule(plan)` is the one source of the timeline: `runofshow plan` prints it, the runner walks
it, evidence and reports name its steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from runofshow.domain.plan import Plan


class StepKind(StrEnum):
    FREEZE_START = "freeze_start"
    WAR_ROOM = "war_room"
    PREFLIGHT = "preflight"
    BLAST_RADIUS = "blast_radius"
    STAGE = "stage"
    PROMOTED = "promoted"
    FIRST_NIGHT = "first_night"
    CLOSE_OUT = "close_out"


@dataclass(frozen=True)
class Step:
    """One step of the schedule. `offset` is from T0 (negative before it)."""

    kind: StepKind
    offset: timedelta
    title: str
    does: str
    stage: int | None = None  # 0-based stage index for STAGE steps
    weight: float | None = None

    @property
    def label(self) -> str:
        """T-30, T0, T+15, T+24h ..."""
        return t_label(self.offset)

    def at(self, t0: datetime) -> datetime:
        return t0 + self.offset


def t_label(offset: timedelta) -> str:
    minutes = offset.total_seconds() / 60
    if minutes == 0:
        return "T0"
    sign = "+" if minutes > 0 else "-"
    m = abs(minutes)
    if m >= 24 * 60:
        return f"T{sign}{m / 60:g}h"
    return f"T{sign}{m:g}"


def schedule(plan: Plan) -> tuple[Step, ...]:
    """Every step from the freeze to the close-out, in order."""
    tl = plan.timeline
    rel = plan.release.version
    steps: list[Step] = [
        Step(StepKind.FREEZE_START, timedelta(minutes=tl.freeze_at_min), "Freeze window starts",
             f"label open PRs '{plan.freeze.label}', write freeze_window_start.txt, "
             f"notify {plan.notifications.deploys_channel}"),
        Step(StepKind.WAR_ROOM, timedelta(minutes=tl.war_room_at_min), "War room opens",
             f"open {plan.notifications.war_room_channel}; "
             f"IC: {', '.join(plan.war_room.incident_commanders)}"),
        Step(StepKind.PREFLIGHT, timedelta(minutes=tl.preflight_at_min), "Preflight",
             "9 checks, expect 9/9; write preflight.txt"),
        Step(StepKind.BLAST_RADIUS, timedelta(minutes=tl.preflight_at_min), "Blast-radius probe",
             f"{tl.blast_radius.seconds:g} s at {tl.blast_radius.rate:g} req/s: "
             f"success > {tl.blast_radius.success_min_pct:g} %, p95 < {tl.blast_radius.p95_max_s:g} s"),
    ]
    starts = plan.stage_starts_min()
    for i, (stage, start) in enumerate(zip(plan.stages, starts, strict=True)):
        steps.append(
            Step(StepKind.STAGE, timedelta(minutes=start), f"Stage {i + 1} ({stage.weight:g}%)",
                 f"set canary weight {stage.weight:g} %, watch {len(plan.gates)} gates for "
                 f"{stage.hold_min:g} min", stage=i, weight=stage.weight)
        )
    end = timedelta(minutes=plan.nominal_duration_min)
    steps.append(Step(StepKind.PROMOTED, end, f"Stage {len(plan.stages)} complete",
                      f"{rel} at 100 %, enter first-night monitoring"))
    steps.append(Step(StepKind.FIRST_NIGHT, end, "First night",
                      f"{tl.first_night_h:g} h: SLO burn rate < {tl.burn_rate_24h_max:g}, "
                      f"check-in every {tl.checkin_every_min:g} min"))
    steps.append(Step(StepKind.CLOSE_OUT, end + timedelta(hours=tl.first_night_h), "Close-out",
                      "release one-liner, mini RCA, lift freeze"))
    return tuple(steps)
