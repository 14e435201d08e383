"""Team mode's settings a plan carries (the plan's `team`): caps on canaries driven at once.

Pure data, validated. The caps are the plan's form of the worker flags `--max-per-service` and
`--max-total`: recorded with the run at `runofshow submit` and honoured by every worker's claim
(the stricter of the plan's and the worker's wins). A run the plan's cap holds back stays queued
and shows as `waiting` in `runs` and `status`, with the cap.
"""

from __future__ import annotations

from pydantic import Field

from runofshow.domain.model import FrozenModel


class TeamSettings(FrozenModel):
    """`max_canaries_per_service`: canaries of this release's service (its `release.name`) driven at
    once, this one included, before it may start; `max_canaries_total`: canaries of any service at
    once. None: no cap from the plan (a worker's own flags may still cap it)."""

    max_canaries_per_service: int | None = Field(default=None, ge=1)
    max_canaries_total: int | None = Field(default=None, ge=1)


__all__ = ["TeamSettings"]
