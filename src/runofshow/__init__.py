"""runofshow: runs a canary release's run-of-show from one plan file.

The public API is small and lazy (importing `runofshow` stays cheap for `runofshow replay`):

    from runofshow import Plan, load_plan, decide, Tick, TrackSample, Decision, Action
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Plan": "runofshow.domain.plan",
    "load_plan": "runofshow.app.plan_file",
    "decide": "runofshow.domain.decide",
    "schedule": "runofshow.domain.timeline",
    "Tick": "runofshow.domain.tick",
    "TrackSample": "runofshow.domain.tick",
    "Alert": "runofshow.domain.tick",
    "Decision": "runofshow.domain.tick",
    "Action": "runofshow.domain.tick",
    "Verdict": "runofshow.domain.tick",
    "RunOfShowError": "runofshow.errors",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'runofshow' has no attribute {name!r}")
