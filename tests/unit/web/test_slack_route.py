"""`POST /slack/actions` on the real ASGI app (TestClient), with requests signed by real HMACs: a
click becomes a decision through the same use case as the web page and `runofshow decide` (proof
`slack`); only the IC decides; Rollback asks for a reason in a modal first; forged, stale and
replayed requests are refused (401) and recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from runofshow.adapters.fakes_comms import InMemorySeenRequests, RecordingInteractions
from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.adapters.memory import FakeClock, InMemoryRouter, ScriptedMetrics
from runofshow.app.bootstrap import RunOptions, build_world
from runofshow.app.run.runner import Runner
from runofshow.domain.plan import Plan
from runofshow.ports import LedgerEvent
from runofshow.web import WebDeps, create_app, web_settings
from runofshow.web.config import SlackEndpoint
from tests.slack_requests import RESPONSE_URL, SECRET, click_body, signed, submission_body

ALICE, BOB, STRANGER = "U024BE7LH", "U0G9QF9C6", "U0STRANGER"  # alice is the IC, bob a member


@dataclass
class Now:
    at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Slack:
    ledger: SqlLedger
    run_id: str
    client: TestClient
    chat: RecordingInteractions
    now: Now

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> Any:
        return self.client.post("/slack/actions", content=body, headers=headers or signed(body, self.now()))

    def click(self, action: str, user: str, **kw: Any) -> Any:
        self.now.at += timedelta(seconds=1)
        return self.post(click_body(action, user, self.run_id, **kw))

    def new(self, before: int) -> list[LedgerEvent]:
        return self.ledger.events(self.run_id, before)

    def last_seq(self) -> int:
        return self.ledger.events(self.run_id)[-1].seq


PLAN = {
    "traffic_router": {"kind": "memory"},
    "war_room": {"incident_commanders": ["alice"]},
    "communications": {"slack": {"members": [{"name": "alice", "slack_user_id": ALICE},
                                             {"name": "bob", "slack_user_id": BOB}]}},
}


@pytest.fixture
def slack(tmp_path: Path) -> Iterator[Slack]:
    url = f"sqlite:///{tmp_path / 'runofshow.db'}"
    ledger = SqlLedger(url)
    plan = Plan.model_validate({**PLAN, "evidence_dir": str(tmp_path / "evidence")})
    world = build_world(plan, RunOptions(check_windows=False), environ={}, ledger=ledger, clock=FakeClock(),
                        router=InMemoryRouter(), metrics=ScriptedMetrics(), alerts=None, notifier=None,
                        annotator=None, war_room_channel=None)
    run_id = world.attach(Runner.start(plan, world.ports, state_url=url)).state.run_id
    chat, now = RecordingInteractions(), Now()
    endpoint = SlackEndpoint(SECRET, InMemorySeenRequests(), chat, now)
    deps = WebDeps(ledger=ledger, tokens=ledger, settings=web_settings({}), slack=endpoint)
    with TestClient(create_app(deps)) as client:
        yield Slack(ledger, run_id, client, chat, now)
    ledger.close()


@pytest.mark.parametrize("action", ["proceed", "hold"])
def test_the_ics_click_is_her_decision_with_proof_slack(slack: Slack, action: str) -> None:
    before = slack.last_seq()
    r = slack.click(action, ALICE)
    assert r.status_code == 200, r.text
    decisions = [e for e in slack.new(before) if e.kind in ("ic_decision", "ic_refused")]
    assert len(decisions) == 1
    p = decisions[0].payload
    assert p["by"] == "alice" and p["action"] == action
    assert p["identity"] == {"name": "alice", "subject": f"slack:{ALICE}", "proof": "slack", "role": "ic"}
    [(url, text)] = slack.chat.workspace.ephemeral
    assert url == RESPONSE_URL and text.startswith(f"{action} by alice")
    if action == "proceed":
        assert decisions[0].kind == "ic_decision" and "done" in text
    else:  # no canary stage has started: the use case refuses the hold, as `runofshow decide` does
        assert decisions[0].kind == "ic_refused" and "nothing to hold" in text


def test_a_members_click_is_refused_by_the_use_case_with_an_ephemeral_reply(slack: Slack) -> None:
    before = slack.last_seq()
    assert slack.click("proceed", BOB).status_code == 200
    [refused] = slack.new(before)
    assert refused.kind == "ic_refused" and refused.payload["by"] == "bob"
    assert "not an incident commander" in refused.payload["why"]
    assert refused.payload["identity"]["proof"] == "slack" and refused.payload["identity"]["role"] == "member"
    [(_, text)] = slack.chat.workspace.ephemeral
    assert "refused" in text and "not an incident commander" in text


def test_a_members_rollback_opens_no_modal_and_is_refused(slack: Slack) -> None:
    before = slack.last_seq()
    assert slack.click("rollback", BOB).status_code == 200
    assert slack.chat.workspace.modals == []
    assert [e.kind for e in slack.new(before)] == ["ic_refused"]
    assert "refused" in slack.chat.workspace.ephemeral[0][1]


def test_a_slack_user_the_plan_does_not_list_is_refused_and_recorded(slack: Slack) -> None:
    before = slack.last_seq()
    assert slack.click("rollback", STRANGER).status_code == 200
    [refused] = slack.new(before)
    assert refused.kind == "ic_refused" and refused.payload["by"] == f"slack:{STRANGER}"
    assert "not a war-room member" in refused.payload["why"]
    assert refused.payload["identity"]["proof"] == "slack"
    assert slack.chat.workspace.modals == [] and "refused" in slack.chat.workspace.ephemeral[0][1]


def test_rollback_asks_for_a_reason_then_rolls_back_with_it(slack: Slack) -> None:
    before = slack.last_seq()
    assert slack.click("rollback", ALICE).status_code == 200
    assert slack.new(before) == []  # nothing decided before the reason is given
    [modal] = slack.chat.workspace.modals
    assert modal["trigger_id"] == "1234.5678.abcd"
    view = modal["view"]
    assert view["type"] == "modal" and len(view["title"]["text"]) <= 24 and len(view["private_metadata"]) <= 3000
    assert json.loads(view["private_metadata"])["run_id"] == slack.run_id
    slack.now.at += timedelta(seconds=20)
    body = submission_body(view, ALICE, "checkout errors  climbing in EU")
    r = slack.post(body)
    assert r.status_code == 200 and r.content == b""  # an empty 200 closes the modal
    kinds = [e.kind for e in slack.new(before)]
    assert kinds[0] == "ic_decision" and "rollback_started" in kinds
    decision = slack.new(before)[0].payload
    assert decision["action"] == "rollback" and decision["reason"] == "checkout errors climbing in EU"
    assert decision["identity"]["proof"] == "slack"
    [(url, text)] = slack.chat.workspace.ephemeral
    assert url == RESPONSE_URL and text.startswith("rollback by alice done")


def test_a_modal_that_does_not_open_decides_nothing_and_says_so(slack: Slack) -> None:
    slack.chat.fail_next = 1
    before = slack.last_seq()
    assert slack.click("rollback", ALICE).status_code == 200
    assert slack.new(before) == []
    [(_, text)] = slack.chat.workspace.ephemeral
    assert "did not open" in text and "Nothing was decided" in text


def test_a_submission_by_someone_else_is_refused(slack: Slack) -> None:
    assert slack.click("rollback", ALICE).status_code == 200
    view = slack.chat.workspace.modals[0]["view"]
    before = slack.last_seq()
    slack.now.at += timedelta(seconds=5)
    assert slack.post(submission_body(view, BOB, "I want it gone")).status_code == 200
    assert [e.kind for e in slack.new(before)] == ["ic_refused"]


@pytest.mark.parametrize(
    ("forge", "why"),
    [
        (lambda b, at: signed(b, at, secret="another-apps-secret-0000000000000"), "wrong signature"),
        (lambda b, at: signed(b + b"&x=1", at), "wrong signature"),
        (lambda b, at: signed(b, at - timedelta(minutes=5, seconds=1)), "stale"),
        (lambda b, at: {"Content-Type": "application/x-www-form-urlencoded"}, "not signed"),
    ],
    ids=["other-secret", "tampered", "stale", "unsigned"],
)
def test_forged_and_stale_requests_are_401_and_recorded(slack: Slack, forge: Any, why: str) -> None:
    body = click_body("rollback", ALICE, slack.run_id)
    before = slack.last_seq()
    r = slack.post(body, forge(body, slack.now()))
    assert r.status_code == 401 and why in r.json()["error"]
    [refused] = slack.new(before)
    assert refused.kind == "ic_refused" and refused.payload["action"] == "slack"
    assert why in refused.payload["why"] and "identity" not in refused.payload
    assert slack.chat.workspace.modals == [] and slack.chat.workspace.ephemeral == []


def test_a_replay_is_401_and_recorded_and_decides_nothing_twice(slack: Slack) -> None:
    body = click_body("proceed", ALICE, slack.run_id)
    headers = signed(body, slack.now())
    assert slack.post(body, headers).status_code == 200
    before = slack.last_seq()
    slack.now.at += timedelta(seconds=11)
    r = slack.post(body, headers)
    assert r.status_code == 401 and "replay" in r.json()["error"]
    [refused] = slack.new(before)
    assert refused.kind == "ic_refused" and "replay" in refused.payload["why"]


def test_a_flood_of_forgeries_is_recorded_once_per_window_and_counted(slack: Slack) -> None:
    body = click_body("rollback", ALICE, slack.run_id)
    before = slack.last_seq()
    bad = signed(body, slack.now(), secret="another-apps-secret-0000000000000")
    for _ in range(30):
        assert slack.post(body, bad).status_code == 401
    assert len(slack.new(before)) == 1
    slack.now.at += timedelta(seconds=10)
    assert slack.post(body, signed(body, slack.now(), secret="another-apps-secret-0000000000000")).status_code == 401
    events = slack.new(before)
    assert len(events) == 2 and "+29 more refused" in events[1].payload["why"]


def test_a_click_on_an_unknown_run_is_answered_not_recorded(slack: Slack) -> None:
    body = click_body("proceed", ALICE, "no-such-run")
    assert slack.post(body).status_code == 200
    assert "no run 'no-such-run'" in slack.chat.workspace.ephemeral[0][1]


def test_without_a_signing_secret_the_route_is_404(tmp_path: Path) -> None:
    ledger = SqlLedger(f"sqlite:///{tmp_path / 'r.db'}")
    with TestClient(create_app(WebDeps(ledger=ledger, tokens=ledger, settings=web_settings({})))) as client:
        assert client.post("/slack/actions", content=b"payload=%7B%7D").status_code == 404
    ledger.close()


def test_the_refusal_gate_forgets_old_runs() -> None:
    from runofshow.web.slack_routes import MAX_RUNS_KEPT, RefusedGate

    gate, at = RefusedGate(every_s=10), datetime(2026, 12, 6, tzinfo=UTC)
    for n in range(MAX_RUNS_KEPT + 1):
        assert gate.due(f"run-{n}", at) == 0
    assert gate.due("run-0", at) is None  # within 10 s: counted, not recorded
    assert gate.due("run-new", at + timedelta(seconds=11)) == 0
    assert set(gate._last) == {"run-new"}


def test_serve_builds_the_endpoint_from_the_environment() -> None:
    from runofshow.cli.serve_cmd import slack_endpoint
    from runofshow.ports import ChatInteractions, SeenRequests

    assert slack_endpoint(None, {}) is None  # no signing secret: /slack/actions answers 404
    endpoint = slack_endpoint(None, {"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": "xoxb-1-2-abc"})
    assert endpoint is not None and endpoint.signing_secret == SECRET
    assert isinstance(endpoint.interactions, ChatInteractions) and isinstance(endpoint.seen, SeenRequests)
    named = Plan.model_validate({"communications": {"slack": {"signing_secret_env": "WARROOM_SECRET"}}})
    assert slack_endpoint(named, {"SLACK_SIGNING_SECRET": SECRET}) is None
    assert slack_endpoint(named, {"WARROOM_SECRET": "s3cret-s3cret"}).signing_secret == "s3cret-s3cret"


def test_serve_keeps_the_requests_taken_in_the_ledger_database_for_every_replica(tmp_path) -> None:
    from runofshow.adapters.ledger_sql import SqlLedger
    from runofshow.cli.serve_cmd import slack_endpoint

    with SqlLedger(f"sqlite:///{tmp_path / 'runofshow.db'}") as ledger:
        endpoint = slack_endpoint(None, {"SLACK_SIGNING_SECRET": SECRET}, ledger)
        assert endpoint.seen is ledger  # not this process's memory: a replay to another replica is refused
