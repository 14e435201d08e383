"""Roles on the web: the plan's war room (ic, members, observers) gives people their role in a run,
the role follows an IC handover, reading needs an identity (unless public_read), and a scanner's
anonymous refusals do not flood the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.app.warroom.identity import create_token
from runofshow.web import WebDeps, create_app, web_settings
from tests.unit.web.conftest import WarRoom, start_run

WAR_ROOM = {"incident_commanders": ["alice", "erin"], "members": ["bob"], "observers": ["carol"]}


@pytest.fixture
def team(tmp_path: Path) -> Iterator[WarRoom]:
    """A run whose plan names the war room; tokens whose own roles differ from the plan's; the app
    with its defaults (reading needs an identity)."""
    url = f"sqlite:///{tmp_path / 'runofshow.db'}"
    ledger = SqlLedger(url)
    run_id = start_run(ledger, tmp_path, url, WAR_ROOM)
    tokens = {name: create_token(ledger, name, role)[0] for name, role in
              (("alice", "ic"), ("erin", "observer"), ("bob", "member"), ("carol", "ic"), ("zed", "member"))}
    deps = WebDeps(ledger=ledger, tokens=ledger, settings=web_settings({}, refusal_every_s=10))
    with TestClient(create_app(deps)) as client:
        yield WarRoom(ledger, run_id, tokens, client, deps)
    ledger.close()


def post(team: WarRoom, who: str, what: str, body: dict[str, str]) -> tuple[int, dict]:
    r = team.client.post(f"/api/runs/{team.run_id}/{what}", headers=team.bearer(who), json=body)
    return r.status_code, r.json()


def test_the_plan_gives_roles_and_the_role_follows_the_handover(team: WarRoom) -> None:
    assert post(team, "carol", "decisions", {"decision": "proceed", "reason": "x"})[0] == 403  # observer
    assert post(team, "carol", "notes", {"text": "x"})[0] == 403
    assert post(team, "erin", "decisions", {"decision": "proceed", "reason": "ok"})[0] == 201  # plan: IC
    assert post(team, "bob", "decisions", {"decision": "proceed", "reason": "x"})[0] == 403  # member
    status, body = post(team, "bob", "handover", {"to": "alice"})
    assert status == 403 and "may not hand over" in body["error"]

    status, body = post(team, "alice", "handover", {"to": "bob", "reason": "end of shift"})
    assert status == 201, body
    assert body["message"] == "accepted: bob is the incident commander now"
    event = body["event"]
    assert event["kind"] == "ic_handover" and event["payload"]["to"] == "bob"
    assert event["payload"]["identity"]["name"] == "alice" and event["payload"]["identity"]["proof"] == "token"

    status, body = post(team, "bob", "decisions", {"decision": "proceed", "reason": "mine now"})
    assert status == 201 and body["event"]["payload"]["identity"]["name"] == "bob"
    for former in ("alice", "erin"):
        status, body = post(team, former, "decisions", {"decision": "proceed", "reason": "still me?"})
        assert status == 403 and "role member may not decide" in body["error"]
    assert post(team, "alice", "notes", {"text": "I can still write notes"})[0] == 201

    page = team.client.get(f"/runs/{team.run_id}", headers=team.bearer("bob")).text
    assert 'id="btn-handover"' in page and 'id="current-ic">bob<' in page
    assert "alice (token): handover to bob - end of shift" in page
    page = team.client.get(f"/runs/{team.run_id}", headers=team.bearer("alice")).text
    assert 'id="btn-handover"' not in page and 'id="note-form"' in page


def test_handover_bad_input_and_refusals(team: WarRoom) -> None:
    assert post(team, "alice", "handover", {"reason": "no one"})[0] == 422
    status, body = post(team, "alice", "handover", {"to": "carol"})
    assert status == 409 and body["accepted"] is False
    assert "'carol' is not an incident commander or member" in body["message"]
    assert body["event"]["kind"] == "ic_refused"
    r = team.client.post("/api/runs/nope/handover", headers=team.bearer("alice"), json={"to": "bob"})
    assert r.status_code == 404


def test_reading_needs_an_identity(team: WarRoom) -> None:
    c = team.client
    r = c.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert c.get(f"/runs/{team.run_id}", follow_redirects=False).status_code == 303
    for path in ("/api/runs", f"/api/runs/{team.run_id}", f"/api/runs/{team.run_id}/events",
                 f"/api/runs/{team.run_id}/figures", f"/runs/{team.run_id}/report"):
        r = c.get(path, headers={"accept": "application/json"})
        assert r.status_code == 401 and r.json()["error"].startswith("no identity"), path
    for path in ("/login", "/healthz", "/metrics", "/static/style.css", "/assets/plotly.min.js",
                 "/api/openapi.json"):
        assert c.get(path).status_code == 200, path
    # an observer reads everything, and sees no buttons
    assert c.get("/api/runs", headers=team.bearer("carol")).status_code == 200
    page = c.get(f"/runs/{team.run_id}", headers=team.bearer("carol"))
    assert page.status_code == 200 and 'id="actions"' not in page.text
    assert team.kinds().count("ic_refused") == 0  # reads are not recorded


def test_public_read_opens_reading_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runofshow.db'}"
    ledger = SqlLedger(url)
    run_id = start_run(ledger, tmp_path, url)
    deps = WebDeps(ledger=ledger, tokens=ledger, settings=web_settings({}, public_read=True))
    with TestClient(create_app(deps)) as c:
        assert c.get("/api/runs").status_code == 200
        page = c.get(f"/runs/{run_id}").text
        assert 'id="actions"' not in page
        r = c.post(f"/api/runs/{run_id}/notes", json={"text": "anonymous"})
        assert r.status_code == 401
    ledger.close()


def test_a_scanners_anonymous_refusals_do_not_flood_the_ledger(team: WarRoom) -> None:
    before = len(team.kinds())
    for i in range(200):
        what = ("decisions", "notes", "handover")[i % 3]
        r = team.client.post(f"/api/runs/{team.run_id}/{what}", json={"decision": "rollback", "reason": "x"})
        assert r.status_code == 401
    new = team.ledger.events(team.run_id, before)
    assert [e.kind for e in new] == ["ic_refused"]
    assert new[0].payload["by"] == "(anonymous)" and new[0].payload["source"] == "testclient"
    metrics = team.client.get("/metrics").text
    assert 'runofshow_web_refusals_total{code="401"} 200.0' in metrics
    # an authenticated refusal (403) is always recorded: the person is known
    assert post(team, "carol", "notes", {"text": "x"})[0] == 403
    assert team.kinds()[-1] == "ic_refused"
    # the next window's first record tells how many were not recorded one by one
    throttle = team.client.app.state.refusals  # type: ignore[attr-defined]
    throttle._now = lambda: 1e9
    team.client.post(f"/api/runs/{team.run_id}/notes", json={"text": "again"})
    last = team.ledger.events(team.run_id)[-1]
    assert last.payload["by"] == "(anonymous)" and last.payload["suppressed"] == 199
