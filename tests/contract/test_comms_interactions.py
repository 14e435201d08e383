"""`ChatInteractions` contract: the same suite on the in-memory fake and on the Slack adapter, the
latter against the local Slack Web API (views.open, a click's response_url) answering with Slack's
recorded shapes; then the whole Rollback flow of `/slack/actions` on the real adapter: the click
opens the reason modal on "Slack", its submission rolls back with that reason, the answer is an
ephemeral reply on the click's response_url."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from runofshow.adapters.fakes_comms import ChatWorkspace, InMemorySeenRequests, RecordingInteractions
from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.adapters.memory import FakeClock, InMemoryRouter, ScriptedMetrics
from runofshow.adapters.slack_interactions import SlackInteractions
from runofshow.app.bootstrap import RunOptions, build_world
from runofshow.app.run.runner import Runner
from runofshow.app.warroom.slack_actions import SlackClick, reason_modal
from runofshow.domain.plan import Plan
from runofshow.errors import NotifierError
from runofshow.ports import ChatInteractions
from runofshow.web import WebDeps, create_app, web_settings
from runofshow.web.config import SlackEndpoint
from tests.contract.comms_servers import SLACK_TOKEN, FakeSlack
from tests.slack_requests import SECRET, click_body, signed, submission_body

ALICE = "U024BE7LH"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    server = FakeSlack(ChatWorkspace())
    yield server
    server.close()


def real(server: FakeSlack, token: str = SLACK_TOKEN) -> SlackInteractions:
    return SlackInteractions(token, base_url=server.url, response_hosts=("127.0.0.1",))


@pytest.fixture(params=["memory", "slack"])
def chat(request: pytest.FixtureRequest, slack: FakeSlack) -> tuple[ChatInteractions, ChatWorkspace, str]:
    if request.param == "memory":
        fake = RecordingInteractions()
        return fake, fake.workspace, "https://hooks.slack.com/actions/T0TEAM0001/4711/b9Xc0ffee"
    return real(slack), slack.workspace, slack.response_url


def modal(run_id: str = "v1.4.0-20261206T213000Z-1a2b") -> dict:
    return reason_modal(SlackClick(run_id, "rollback", ALICE, "alice", "C000000001", "1712345678.000002",
                                   "https://hooks.slack.com/actions/T0TEAM0001/1/abc", "1234.5678.abcd"))


def test_is_chat_interactions(chat: tuple[ChatInteractions, ChatWorkspace, str]) -> None:
    assert isinstance(chat[0], ChatInteractions)


def test_open_modal_opens_the_view(chat: tuple[ChatInteractions, ChatWorkspace, str]) -> None:
    interactions, ws, _ = chat
    view_id = interactions.open_modal("1234.5678.abcd", modal())
    assert view_id.startswith("V")
    [opened] = ws.modals
    assert opened["trigger_id"] == "1234.5678.abcd" and opened["view"]["callback_id"] == "runofshow_rollback_reason"


def test_a_missing_trigger_is_an_error(chat: tuple[ChatInteractions, ChatWorkspace, str]) -> None:
    with pytest.raises(NotifierError, match="trigger_id"):
        chat[0].open_modal("", modal())
    assert chat[1].modals == []


def test_an_ephemeral_reply_reaches_the_response_url(chat: tuple[ChatInteractions, ChatWorkspace, str]) -> None:
    interactions, ws, url = chat
    interactions.reply_ephemeral(url, "rollback by alice done: rolled back")
    assert ws.ephemeral == [(url, "rollback by alice done: rolled back")]


# =========================================================================== Slack specifics


def test_the_adapter_sends_what_slack_documents(slack: FakeSlack) -> None:
    real(slack).open_modal("1234.5678.abcd", modal())
    method, api, headers, args = slack.requests[-1]
    assert (method, api) == ("POST", "views.open") and headers["Authorization"] == f"Bearer {SLACK_TOKEN}"
    view = json.loads(args["view"]) if isinstance(args["view"], str) else args["view"]
    assert args["trigger_id"] == "1234.5678.abcd" and view["type"] == "modal"
    real(slack).reply_ephemeral(slack.response_url, "hello")
    _, path, _, body = slack.requests[-1]
    assert path.startswith("/actions/")
    assert body == {"text": "hello", "response_type": "ephemeral", "replace_original": False}


def test_an_expired_trigger_names_slacks_error(slack: FakeSlack) -> None:
    with pytest.raises(NotifierError, match="expired_trigger_id"):
        real(slack).open_modal("expired.1.2", modal())


def test_a_bad_view_names_slacks_error(slack: FakeSlack) -> None:
    view = {**modal(), "title": {"type": "plain_text", "text": "A title far too long for a modal"}}
    with pytest.raises(NotifierError, match="invalid_arguments"):
        real(slack).open_modal("1234.5678.abcd", view)


def test_a_bad_token_and_no_token(slack: FakeSlack) -> None:
    with pytest.raises(NotifierError, match="invalid_auth"):
        real(slack, token="xoxb-wrong").open_modal("1234.5678.abcd", modal())
    with pytest.raises(NotifierError, match="no bot token"):
        real(slack, token="").open_modal("1234.5678.abcd", modal())


def test_a_used_up_response_url_is_an_error(slack: FakeSlack) -> None:
    with pytest.raises(NotifierError, match="404"):
        real(slack).reply_ephemeral(slack.url.removesuffix("/api/") + "/actions/T0TEAM0001/1/gone", "late")


def test_only_slacks_hosts_get_a_reply(slack: FakeSlack) -> None:
    production = SlackInteractions(SLACK_TOKEN, base_url=slack.url)
    with pytest.raises(NotifierError, match="not one of hooks.slack.com"):
        production.reply_ephemeral(slack.response_url, "to 127.0.0.1: no")
    assert slack.workspace.ephemeral == []


# =========================================================================== the flow


def test_rollback_by_the_ic_from_slack_end_to_end(tmp_path: Path, slack: FakeSlack) -> None:
    url = f"sqlite:///{tmp_path / 'runofshow.db'}"
    ledger = SqlLedger(url)
    plan = Plan.model_validate({
        "traffic_router": {"kind": "memory"}, "evidence_dir": str(tmp_path / "evidence"),
        "war_room": {"incident_commanders": ["alice"]},
        "communications": {"slack": {"members": [{"name": "alice", "slack_user_id": ALICE}]}}})
    world = build_world(plan, RunOptions(check_windows=False), environ={}, ledger=ledger, clock=FakeClock(),
                        router=InMemoryRouter(), metrics=ScriptedMetrics(), alerts=None, notifier=None,
                        annotator=None, war_room_channel=None)
    run_id = world.attach(Runner.start(plan, world.ports, state_url=url)).state.run_id
    now = datetime.now(UTC)
    endpoint = SlackEndpoint(SECRET, InMemorySeenRequests(), real(slack), lambda: now)
    with TestClient(create_app(WebDeps(ledger=ledger, tokens=ledger, settings=web_settings({}),
                                       slack=endpoint))) as client:
        click = click_body("rollback", ALICE, run_id, response_url=slack.response_url)
        assert client.post("/slack/actions", content=click, headers=signed(click, now)).status_code == 200
        [opened] = slack.workspace.modals
        now += timedelta(seconds=30)
        submitted = submission_body(opened["view"], ALICE, "EU checkout 5xx at 2 %")
        assert client.post("/slack/actions", content=submitted, headers=signed(submitted, now)).status_code == 200
    decision = next(e for e in ledger.events(run_id) if e.kind == "ic_decision")
    assert decision.payload["reason"] == "EU checkout 5xx at 2 %" and decision.payload["identity"]["proof"] == "slack"
    assert any(e.kind == "rollback_started" for e in ledger.events(run_id))
    [(reply_to, text)] = slack.workspace.ephemeral
    assert reply_to == slack.response_url and text.startswith("rollback by alice done")
    ledger.close()
