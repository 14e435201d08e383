"""A started run (runner not running: in-memory router) in a SQLite ledger, tokens for each role,
and the web app over them (Starlette's TestClient: no server, no network)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.adapters.memory import FakeClock, InMemoryRouter, ScriptedMetrics
from runofshow.app.bootstrap import RunOptions, build_world
from runofshow.app.run.runner import Runner
from runofshow.app.warroom.identity import create_token
from runofshow.domain.plan import Plan
from runofshow.web import WebDeps, create_app, web_settings


@dataclass
class WarRoom:
    ledger: SqlLedger
    run_id: str
    tokens: dict[str, str]  # role -> token
    client: TestClient
    deps: WebDeps

    def bearer(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def kinds(self) -> list[str]:
        return [e.kind for e in self.ledger.events(self.run_id)]


def start_run(ledger: SqlLedger, tmp_path: Path, url: str, war_room: dict[str, Any] | None = None) -> str:
    plan = Plan.model_validate({"traffic_router": {"kind": "memory"}, "evidence_dir": str(tmp_path / "evidence"),
                                "war_room": war_room or {"incident_commanders": ["alice"]}})
    world = build_world(plan, RunOptions(check_windows=False), environ={}, ledger=ledger, clock=FakeClock(),
                        router=InMemoryRouter(), metrics=ScriptedMetrics(), alerts=None, notifier=None,
                        annotator=None)
    runner = world.attach(Runner.start(plan, world.ports, state_url=url))
    return runner.state.run_id


@pytest.fixture
def room(tmp_path: Path) -> Iterator[WarRoom]:
    url = f"sqlite:///{tmp_path / 'runofshow.db'}"
    ledger = SqlLedger(url)
    run_id = start_run(ledger, tmp_path, url)
    tokens = {
        "ic": create_token(ledger, "alice", "ic")[0],
        "member": create_token(ledger, "bob", "member")[0],
        "observer": create_token(ledger, "carol", "observer")[0],
        "ic-not-in-plan": create_token(ledger, "mallory", "ic")[0],
    }
    deps = WebDeps(ledger=ledger, tokens=ledger, settings=web_settings({}, poll_s=0.02, stream_max_s=0.5,
                                                                       public_read=True))
    with TestClient(create_app(deps)) as client:
        yield WarRoom(ledger, run_id, tokens, client, deps)
    ledger.close()
