"""A Slack button click, checked before it becomes a decision: real HMAC-SHA256 signatures made here
with the signing secret exactly as Slack makes them (`v0=` hex of `v0:{ts}:{body}`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from runofshow.adapters.fakes_comms import InMemorySeenRequests
from runofshow.app.warroom.slack_actions import (
    ACTIONS,
    REASON_MODAL,
    claimed_run_id,
    decision_buttons,
    reason_modal,
    verify_click,
)
from runofshow.domain.communications import SlackMember, SlackWarRoomSettings
from runofshow.ports import SeenRequests
from tests import slack_requests

SECRET = slack_requests.SECRET
NOW = datetime(2026, 12, 6, 21, 30, tzinfo=UTC)
RUN = "v1.4.0-20261206T213000Z-1a2b"
SLACK = SlackWarRoomSettings(members=(SlackMember(name="alice", slack_user_id="U024BE7LH"),
                                      SlackMember(name="bob", slack_user_id="U0G9QF9C6")))


def click_body(action: str = "rollback", user: str = "U024BE7LH", run_id: str = RUN) -> bytes:
    return slack_requests.click_body(action, user, run_id)


def signed(body: bytes, at: datetime = NOW, secret: str = SECRET) -> dict[str, str]:
    return slack_requests.signed(body, at, secret)


def check(headers: dict[str, str], body: bytes, *, now: datetime = NOW, seen: SeenRequests | None = None,
          secret: str = SECRET):
    return verify_click(headers, body, now, signing_secret=secret, seen=seen or InMemorySeenRequests(),
                        slack=SLACK)


@pytest.mark.parametrize("action", ACTIONS)
def test_a_valid_click_is_accepted_and_mapped_to_the_person(action: str) -> None:
    body = click_body(action)
    verdict = check(signed(body), body)
    assert verdict.accepted and verdict.status == 200
    click = verdict.click
    assert click is not None
    assert (click.run_id, click.action, click.slack_user_id, click.person) == (RUN, action, "U024BE7LH", "alice")
    assert (click.channel_id, click.message_ts) == ("C000000001", "1712345678.000002")
    assert click.response_url.startswith("https://hooks.slack.com/") and click.trigger_id
    assert verdict.record == {"by": "alice", "slack_user_id": "U024BE7LH", "action": action, "run_id": RUN}


def test_headers_are_case_insensitive() -> None:
    body = click_body()
    headers = {k.lower(): v for k, v in signed(body).items()}
    assert check(headers, body).accepted


def test_timestamp_within_five_minutes_either_way() -> None:
    body = click_body()
    assert check(signed(body, NOW - timedelta(seconds=299)), body).accepted
    assert check(signed(body, NOW + timedelta(seconds=299)), body).accepted


@pytest.mark.parametrize(
    ("headers_of", "why"),
    [
        (lambda b: signed(b, secret="another-apps-secret-0000000000000"), "wrong signature"),
        (lambda b: signed(b + b"&x=1"), "wrong signature"),  # signed, then the body changed
        (lambda b: {**signed(b), "X-Slack-Signature": "v0=" + "0" * 64}, "wrong signature"),
        (lambda b: signed(b, NOW - timedelta(minutes=5, seconds=1)), "stale"),
        (lambda b: signed(b, NOW + timedelta(minutes=6)), "stale"),
        (lambda b: {"Content-Type": "application/x-www-form-urlencoded"}, "not signed"),
        (lambda b: {**signed(b), "X-Slack-Request-Timestamp": "yesterday"}, "bad timestamp"),
    ],
    ids=["other-secret", "tampered-body", "zero-signature", "stale-past", "stale-future", "unsigned",
         "bad-timestamp"],
)
def test_forged_and_stale_requests_are_refused_401(headers_of, why: str) -> None:
    body = click_body()
    seen = InMemorySeenRequests()
    verdict = check(headers_of(body), body, seen=seen)
    assert not verdict.accepted and verdict.status == 401 and why in verdict.reason
    assert verdict.click is None and verdict.record["reason"] == verdict.reason
    assert seen.seen == {}  # a refused request is not remembered (it cannot block the real one)


def test_a_replay_is_refused_401() -> None:
    body = click_body()
    headers = signed(body)
    seen = InMemorySeenRequests()
    assert check(headers, body, seen=seen).accepted
    again = check(headers, body, seen=seen, now=NOW + timedelta(seconds=30))
    assert not again.accepted and again.status == 401 and "replay" in again.reason


def test_two_genuine_clicks_are_two() -> None:
    seen = InMemorySeenRequests()
    first, second = click_body("hold"), click_body("proceed")
    assert check(signed(first), first, seen=seen).accepted
    assert check(signed(second, NOW + timedelta(seconds=1)), second, seen=seen).accepted


def test_a_stranger_is_authenticated_but_not_a_member() -> None:
    body = click_body(user="U0STRANGER")
    verdict = check(signed(body), body)
    assert not verdict.accepted and verdict.status == 200
    assert verdict.click is not None and verdict.click.person is None
    assert "not a war-room member" in verdict.reason and verdict.record["slack_user_id"] == "U0STRANGER"


@pytest.mark.parametrize(
    "body",
    [
        urlencode({"payload": json.dumps({"type": "view_submission", "user": {"id": "U024BE7LH"}})}).encode(),
        urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "U024BE7LH"}, "actions": [
            {"action_id": "someone_elses_button", "value": "x"}]})}).encode(),
        urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "U024BE7LH"}, "actions": [
            {"action_id": "runofshow_proceed", "value": json.dumps({"run_id": RUN, "action": "launch"})}]})}).encode(),
        b"payload=%7Bnot+json",
        b"",
    ],
    ids=["view-submission", "other-button", "unknown-action", "bad-json", "empty"],
)
def test_signed_but_not_our_click_is_400(body: bytes) -> None:
    verdict = check(signed(body), body)
    assert not verdict.accepted and verdict.status == 400 and "not one of our button clicks" in verdict.reason


def test_no_signing_secret_refuses_everything() -> None:
    body = click_body()
    verdict = check(signed(body), body, secret=" ")
    assert not verdict.accepted and verdict.status == 401


def test_seen_requests_forget_old_keys() -> None:
    seen = InMemorySeenRequests(keep_s=600)
    assert seen.first_time("a", NOW) and not seen.first_time("a", NOW + timedelta(seconds=599))
    assert seen.first_time("b", NOW + timedelta(seconds=700)) and "a" not in seen.seen


def test_buttons_carry_run_and_action_and_rollback_confirms_once_in_its_modal() -> None:
    block = decision_buttons(RUN)
    assert block["type"] == "actions"
    by_id = {b["action_id"]: b for b in block["elements"]}
    assert list(by_id) == ["runofshow_proceed", "runofshow_hold", "runofshow_rollback"]
    assert json.loads(by_id["runofshow_hold"]["value"]) == {"run_id": RUN, "action": "hold"}
    # one confirmation: the reason modal (asserted below), not a confirm dialog before it as well
    assert "confirm" not in by_id["runofshow_rollback"] and by_id["runofshow_rollback"]["style"] == "danger"
    assert all(len(b["value"]) <= 2000 for b in block["elements"])  # Slack's limit for a button value


def test_the_signature_is_slacks_own_example() -> None:
    """Slack's documented example (docs.slack.dev, verifying requests from Slack): our signing
    gives the documented signature, and verify_click takes it."""
    body = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
            b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
            b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZ"
            b"RskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    then = datetime.fromtimestamp(1531420618, UTC)
    headers = {"X-Slack-Request-Timestamp": "1531420618",
               "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"}
    assert signed(body, then) == {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    at_the_time = check(headers, body, now=then + timedelta(seconds=3))
    assert at_the_time.status == 400  # the signature passed; a slash command is not a button click
    assert check(headers, body, now=NOW).status == 401  # today it is stale


def test_the_reason_modal_comes_back_as_a_submitted_rollback_with_its_reason() -> None:
    click = check(signed(click_body()), click_body()).click
    assert click is not None
    view = reason_modal(click)
    assert view["callback_id"] == REASON_MODAL and len(view["title"]["text"]) <= 24
    assert (view["submit"]["text"], view["close"]["text"]) == ("Roll back", "Cancel")  # the confirmation
    body = slack_requests.submission_body(view, "U024BE7LH", "EU checkout errors")
    verdict = check(signed(body), body)
    assert verdict.accepted and verdict.click is not None
    done = verdict.click
    assert (done.submitted, done.action, done.reason, done.person) == (True, "rollback", "EU checkout errors", "alice")
    assert (done.run_id, done.response_url, done.message_ts) == (RUN, click.response_url, click.message_ts)
    assert claimed_run_id(body) == RUN and claimed_run_id(b"payload=x") is None


def test_members_may_come_from_the_runs_own_plan() -> None:
    body = click_body()
    asked: list[str] = []

    def members(run_id: str) -> SlackWarRoomSettings | None:
        asked.append(run_id)
        return SLACK

    verdict = verify_click(signed(body), body, NOW, signing_secret=SECRET, seen=InMemorySeenRequests(), slack=members)
    assert verdict.accepted and asked == [RUN]
    unknown = verify_click(signed(body), body, NOW, signing_secret=SECRET, seen=InMemorySeenRequests(),
                           slack=lambda _run: None)
    assert not unknown.accepted and unknown.click is not None and unknown.click.person is None
