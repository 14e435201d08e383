"""What the CLI adds to the plan (`RunOptions`), read by every part of the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from runofshow.app.steps.preflight import Override


@dataclass(frozen=True)
class RunOptions:
    """What the CLI adds to the plan."""

    state_url: str | None = None
    speed: float | None = None  # None: 1 for a new run, the recorded speed on resume
    listen: str | None = None  # Alertmanager webhook host:port
    check_windows: bool = True
    repo: str | None = None  # OWNER/NAME whose PRs the freeze labels
    no_freeze: bool = False  # skip the freeze steps whatever the plan says (--no-freeze)
    min_query_window_s: float | None = None
    min_checkin_window_s: float = 0.0  # a first-night check-in looks back at least this long (wall s)
    preflight_override: Override | None = None  # the IC opens T0 despite failed T-10 checks
    ledger_poll_s: float = 0.25  # wall seconds between looks for other processes' events


__all__ = ["RunOptions"]
