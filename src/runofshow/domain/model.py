"""The one base of the plan's pydantic models: unknown keys are errors and a validated value is
frozen. Every section of the plan (`runofshow.domain.plan` and the modules it composes) derives
from `FrozenModel`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FrozenModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
