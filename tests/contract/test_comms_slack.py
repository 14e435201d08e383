"""`WarRoomChannel` contract: the same suite on the in-memory fake and on the Slack adapter, the
latter against a local Slack Web API (tests/contract/comms_servers.py); then Slack specifics:
name_taken (found on a later page and joined), already_in_channel, 429 with Retry-After, missing
scopes and bad tokens as `NotifierError`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from runofshow.adapters.fakes_comms import ChatWorkspace, RecordingWarRoomChannel
from runofshow.adapters.slack_warroom import SlackWarRoomChannel
from runofshow.errors import NotifierError
from runofshow.ports import WarRoomChannel
from tests.contract.comms_servers import SLACK_TOKEN, FakeSlack

ALICE, BOB = "U024BE7LH", "U0G9QF9C6"
STATUS_BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Stage 1* (1 %)"}}]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    server = FakeSlack(ChatWorkspace())
    yield server
    server.close()


def real(server: FakeSlack, **kw: Any) -> SlackWarRoomChannel:
    return SlackWarRoomChannel(SLACK_TOKEN, base_url=server.url, **kw)


@pytest.fixture(params=["memory", "slack"])
def room(request: pytest.FixtureRequest, slack: FakeSlack) -> tuple[WarRoomChannel, ChatWorkspace]:
    if request.param == "memory":
        fake = RecordingWarRoomChannel()
        return fake, fake.workspace
    return real(slack), slack.workspace


# =========================================================================== the contract


def test_is_a_war_room_channel(room: tuple[WarRoomChannel, ChatWorkspace]) -> None:
    assert isinstance(room[0], WarRoomChannel)


def test_open_creates_the_channel_and_invites_the_members(room: tuple[WarRoomChannel, ChatWorkspace]) -> None:
    channel, ws = room
    cid = channel.open("#spark-warroom-v140", [ALICE, BOB, ALICE])
    c = ws.channels[cid]
    assert c.name == "spark-warroom-v140" and not c.archived
    assert c.members == [ws.bot_user, ALICE, BOB]


def test_open_twice_is_one_channel(room: tuple[WarRoomChannel, ChatWorkspace]) -> None:
    channel, ws = room
    first = channel.open("spark-warroom-v140", [ALICE])
    again = channel.open("spark-warroom-v140", [ALICE, BOB])
    assert first == again and len(ws.channels) == 1
    assert ws.channels[first].members == [ws.bot_user, ALICE, BOB]


def test_open_joins_a_channel_someone_else_created(room: tuple[WarRoomChannel, ChatWorkspace]) -> None:
    channel, ws = room
    for name in ("general", "random", "spark-deploys"):
        ws.create(name)
    existing = ws.create("spark-warroom-v140")
    existing.members = [BOB]  # created by a person; the bot is not in it
    cid = channel.open("spark-warroom-v140", [ALICE, BOB])
    assert cid == existing.id and len(ws.channels) == 4
    assert sorted(existing.members) == sorted([BOB, ws.bot_user, ALICE])


def test_an_archived_channel_of_that_name_is_refused(room: tuple[WarRoomChannel, ChatWorkspace]) -> None:
    channel, ws = room
    ws.create("spark-warroom-v140").archived = True
    with pytest.raises(NotifierError, match="archived"):
        channel.open("spark-warroom-v140", [ALICE])


def test_status_is_pinned_edited_in_place_and_minutes_are_thread_replies(
    room: tuple[WarRoomChannel, ChatWorkspace],
) -> None:
    channel, ws = room
    cid = channel.open("spark-warroom-v140", [ALICE])
    ts = channel.post_status(cid, "Stage 1 (1 %) starting", STATUS_BLOCKS)
    c = ws.channels[cid]
    assert c.pinned == [ts] and c.messages[ts].text == "Stage 1 (1 %) starting"
    assert c.messages[ts].blocks == STATUS_BLOCKS
    channel.update_status(cid, ts, "Stage 2 (5 %) running", STATUS_BLOCKS)
    channel.update_status(cid, ts, "Stage 3 (25 %) running", STATUS_BLOCKS)
    assert c.messages[ts].text == "Stage 3 (25 %) running" and c.messages[ts].edits == 2
    reply = channel.post_minute(cid, ts, ":00 | Stage 1 (1%) START | Traffic opened | IC: Monitor")
    assert reply != ts and c.messages[reply].thread_ts == ts
    assert c.replies(ts) == [":00 | Stage 1 (1%) START | Traffic opened | IC: Monitor"]
    assert c.pinned == [ts]  # one pinned status, whatever happens


def test_close_posts_the_one_liner_and_archives(room: tuple[WarRoomChannel, ChatWorkspace]) -> None:
    channel, ws = room
    cid = channel.open("spark-warroom-v140", [ALICE])
    channel.close(cid, "v1.4.0 promoted to 100 % in 90 min, 0 rollbacks")
    c = ws.channels[cid]
    assert c.archived and [m.text for m in c.messages.values()] == ["v1.4.0 promoted to 100 % in 90 min, 0 rollbacks"]
    channel.close(cid, archive=True)  # archiving twice is fine
    with pytest.raises(NotifierError):
        channel.post_status(cid, "too late")


def test_close_without_archiving_keeps_the_channel(room: tuple[WarRoomChannel, ChatWorkspace]) -> None:
    channel, ws = room
    cid = channel.open("spark-warroom-v140", [])
    channel.close(cid, "done", archive=False)
    assert not ws.channels[cid].archived


def test_unknown_channel_and_message_fail(room: tuple[WarRoomChannel, ChatWorkspace]) -> None:
    channel, _ = room
    with pytest.raises(NotifierError, match="channel_not_found"):
        channel.post_status("C0NOSUCH1", "x")
    cid = channel.open("spark-warroom-v140", [])
    with pytest.raises(NotifierError, match="message_not_found"):
        channel.update_status(cid, "1712345678.999999", "x")
    with pytest.raises(NotifierError, match="thread_not_found"):
        channel.post_minute(cid, "1712345678.999999", "x")


# =========================================================================== Slack specifics


def test_the_requests_slack_receives(slack: FakeSlack) -> None:
    channel = real(slack)
    cid = channel.open("spark-warroom-v140", [ALICE])
    ts = channel.post_status(cid, "status", STATUS_BLOCKS)
    assert [api for _, api, _, _ in slack.requests] == [
        "conversations.create", "conversations.invite", "chat.postMessage", "pins.add"]
    assert all(h["Authorization"] == f"Bearer {SLACK_TOKEN}" for _, _, h, _ in slack.requests)
    create, invite, post, pin = (body for *_, body in slack.requests)
    assert create["name"] == "spark-warroom-v140" and str(create["is_private"]).lower() in ("false", "0")
    assert invite == {"channel": cid, "users": ALICE}
    assert post["channel"] == cid and post["text"] == "status"
    assert pin == {"channel": cid, "timestamp": ts}


def test_name_taken_is_found_on_a_later_page_and_joined(slack: FakeSlack) -> None:
    for name in ("general", "random", "spark-deploys", "ops"):
        slack.workspace.create(name)
    existing = slack.workspace.create("spark-warroom-v140")
    existing.members = []
    cid = real(slack).open("spark-warroom-v140", [ALICE])
    apis = [api for _, api, _, _ in slack.requests]
    assert apis == ["conversations.create", "conversations.list", "conversations.list", "conversations.list",
                    "conversations.join", "conversations.invite"]
    assert cid == existing.id


def test_a_private_channel_the_bot_cannot_see(slack: FakeSlack) -> None:
    slack.workspace.create("spark-warroom-v140", private=True).members = [BOB]
    with pytest.raises(NotifierError, match="cannot see it"):
        real(slack).open("spark-warroom-v140", [ALICE])


def test_private_channels_are_created_private(slack: FakeSlack) -> None:
    cid = real(slack, private=True).open("spark-warroom-v140", [ALICE])
    assert slack.workspace.channels[cid].private and cid.startswith("G")


def test_already_in_channel_is_fine(slack: FakeSlack) -> None:
    channel = real(slack)
    cid = channel.open("spark-warroom-v140", [ALICE])
    channel.open("spark-warroom-v140", [ALICE])
    invites = [body for _, api, _, body in slack.requests if api == "conversations.invite"]
    assert len(invites) == 2 and slack.workspace.channels[cid].members.count(ALICE) == 1


def test_429_waits_retry_after_then_succeeds(slack: FakeSlack) -> None:
    sleeps = Sleeps()
    channel = real(slack, sleep=sleeps)
    cid = channel.open("spark-warroom-v140", [])
    slack.throttle("chat.postMessage", n=2, retry_after="3")
    ts = channel.post_status(cid, "status")
    assert sleeps == [3.0, 3.0] and ts in slack.workspace.channels[cid].messages
    assert len(slack.calls("chat.postMessage")) == 3


def test_429_for_longer_than_max_wait_is_a_failure(slack: FakeSlack) -> None:
    sleeps = Sleeps()
    channel = real(slack, sleep=sleeps, max_wait_s=10)
    slack.throttle("conversations.create", n=1, retry_after="45")
    with pytest.raises(NotifierError, match=r"ratelimited.*Retry-After 45"):
        channel.open("spark-warroom-v140", [])
    assert sleeps == []


def test_429_retries_are_bounded(slack: FakeSlack) -> None:
    sleeps = Sleeps()
    channel = real(slack, sleep=sleeps, rate_limit_retries=2)
    slack.throttle("conversations.create", n=5, retry_after="1")
    with pytest.raises(NotifierError, match="ratelimited"):
        channel.open("spark-warroom-v140", [])
    assert sleeps == [1.0, 1.0] and len(slack.calls("conversations.create")) == 3


def test_missing_scope_names_the_scope(slack: FakeSlack) -> None:
    slack.scopes.discard("pins:write")
    channel = real(slack)
    cid = channel.open("spark-warroom-v140", [])
    with pytest.raises(NotifierError, match="missing_scope.*pins:write"):
        channel.post_status(cid, "status")


def test_bad_token(slack: FakeSlack) -> None:
    channel = SlackWarRoomChannel("xoxb-wrong", base_url=slack.url)
    with pytest.raises(NotifierError, match="invalid_auth"):
        channel.open("spark-warroom-v140", [])


def test_slack_unreachable(free_port: Any) -> None:
    channel = SlackWarRoomChannel(SLACK_TOKEN, base_url=f"http://127.0.0.1:{free_port()}/api/", timeout_s=2)
    with pytest.raises(NotifierError, match="conversations.create"):
        channel.open("spark-warroom-v140", [])


def test_no_token() -> None:
    with pytest.raises(NotifierError, match="no bot token"):
        SlackWarRoomChannel("")
