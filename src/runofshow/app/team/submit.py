"""`runofshow submit`: a validated plan becomes a queued run that any worker may pick up.

What the submitter asked for (speed, window check, the IC's preflight override, --repo) travels
with the lease as its options, with the plan's gate order (the ledger's JSON sorts keys) and the
plan's team caps (`caps`: per_service, total), which every worker's claim honours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runofshow.app.bootstrap import RunOptions
from runofshow.app.run.runner import new_run_id
from runofshow.app.steps.preflight import Override
from runofshow.domain.plan import Plan
from runofshow.errors import LedgerError
from runofshow.ports import Leases, RunRecord

QUEUED = "queued"
ID_TRIES = 20


@dataclass(frozen=True)
class Submission:
    speed: float | None = None
    check_windows: bool = True
    repo: str | None = None
    override: Override | None = None

    def to_options(self, plan: Plan) -> dict[str, Any]:
        out: dict[str, Any] = {"speed": self.speed, "check_windows": self.check_windows, "repo": self.repo,
                               "gate_order": list(plan.gates)}
        if self.override is not None:
            out["override"] = {"by": self.override.by, "reason": self.override.reason}
        team = plan.team  # the plan's caps, read by every worker's claim (`lease_sql`)
        caps = {"per_service": team.max_canaries_per_service, "total": team.max_canaries_total}
        if any(v is not None for v in caps.values()):
            out["caps"] = caps
        return out


def submit(plan: Plan, leases: Leases, submission: Submission, now: datetime | None = None) -> str:
    """Record `plan` as a queued run; its id. The IC's override is checked now (bad input: exit 2)."""
    if submission.override is not None:
        from runofshow.app.warroom.commander import check_override

        check_override(plan, submission.override)
    at = now or datetime.now(UTC)
    data, options = plan.model_dump(mode="json"), submission.to_options(plan)
    for _ in range(ID_TRIES):  # run ids are unique per second only by a short random suffix
        run_id = new_run_id(plan, at)
        record = RunRecord(run_id=run_id, release=plan.release.name, version=plan.release.version,
                           status=QUEUED, stage=None, weight=None, started_at=at, plan=data)
        if leases.submit(record, options):
            return run_id
    raise LedgerError(f"no free run id for {plan.release.version} at {at.isoformat()} after {ID_TRIES} tries")


def submitted_plan(record: RunRecord, options: Mapping[str, Any]) -> Plan:
    """The plan a queued run was submitted with, gates in their original order."""
    data = dict(record.plan)
    order = list(options.get("gate_order") or ())
    gates = data.get("gates")
    if order and isinstance(gates, Mapping) and set(order) == set(gates):
        data["gates"] = {name: gates[name] for name in order}
    return Plan.model_validate(data)


def run_options(options: Mapping[str, Any], state_url: str) -> RunOptions:
    """The `RunOptions` a worker drives a submitted run with."""
    ov = options.get("override")
    override = Override(str(ov["by"]), str(ov["reason"])) if isinstance(ov, Mapping) else None
    speed = options.get("speed")
    return RunOptions(
        state_url=state_url, speed=None if speed is None else float(speed),
        check_windows=bool(options.get("check_windows", True)), repo=options.get("repo"),
        preflight_override=override,
    )


__all__ = ["Submission", "run_options", "submit", "submitted_plan"]
