"""The composition root's part for the war room outside a run (`runofshow serve`, `decide`, `note`,
`handover`): the ledger with the web app's token store, a client of a `serve` JSON API, and what an
incident commander's rollback needs besides the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runofshow.app.bootstrap.ledger import ledger_url
from runofshow.app.bootstrap.notifications import build_notifications
from runofshow.app.bootstrap.router import build_router
from runofshow.domain.plan import Plan
from runofshow.ports import Ledger


def open_war_room(url: str) -> tuple[Ledger, Any]:
    """The ledger and, beside it in the same database, the web app's API token hashes (a TokenStore)."""
    from runofshow.adapters.ledger_sql import SqlLedger

    store = SqlLedger(ledger_url(url))
    return store, store


def war_room_server(url: str, token: str) -> Any:
    """A client of a `runofshow serve` JSON API (`decide|note|handover --server URL`)."""
    from runofshow.adapters.war_room_client import WarRoomClient

    return WarRoomClient(url, token)


def decision_ports(plan: Plan, action: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """What an incident commander's decision needs besides the ledger, as `runofshow decide` builds
    it: for a rollback the plan's router (unless it lives in the runner: memory) and notifications."""
    if action != "rollback":
        return {}
    fanout = build_notifications(plan, environ)
    remote = plan.traffic_router.kind != "memory"
    return {"router": (lambda p: build_router(p, environ)) if remote else None, "notifier": fanout,
            "annotator": fanout}


__all__ = ["decision_ports", "open_war_room", "war_room_server"]
