"""How a service's series tell the canary from the baseline (the plan's `metrics_source.labels`):
the default gate, request and SLO queries select with these. Pure data, validated."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from runofshow.domain.model import FrozenModel

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class MetricLabels(FrozenModel):
    """How the series of the service tell the tracks apart: the label that names the service (its
    value is `release.service`), the label that names the track, and that label's value on the
    canary and on the baseline. The default gate, request and SLO queries select with these."""

    service: str = Field(default="service", description="label holding release.service, e.g. app, job")
    track: str = Field(default="track", description="label telling canary from baseline, e.g. version")
    canary: str = Field(default="canary", min_length=1, description="the track label's value on the canary")
    baseline: str = Field(default="baseline", min_length=1, description="... and on the baseline")

    @field_validator("service", "track")
    @classmethod
    def _name(cls, v: str) -> str:
        if not LABEL_NAME.match(v):
            raise ValueError(f"'{v}' is not a Prometheus label name (letters, digits, _)")
        return v

    def selector(self, service: str, track: str | None = None) -> str:
        """`service="spark-trading",track="canary"` for `track` "canary" (or "baseline"); without a
        track, the service only."""
        sel = f'{self.service}="{_quoted(service)}"'
        if track is not None:
            value = self.canary if track == "canary" else self.baseline
            sel += f',{self.track}="{_quoted(value)}"'
        return sel


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
