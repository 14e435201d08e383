"""Decisions from Slack: the Proceed / Hold / Rollback buttons on the pinned status message, and the
check of a click before it becomes a decision.

    decision_buttons(run_id)   (app.steps.communications)      -> a Block Kit `actions` block
    verify_click(headers, body, now, signing_secret=..., seen=..., slack=...)  -> ClickVerdict
    reason_modal(click)        the Rollback button's modal (views.open) asking for the reason; its
                               `view_submission` comes back through verify_click as a click with
                               `reason` set (`submitted`)

`verify_click` is what `/slack/actions` runs on each request Slack sends: the signature is
checked with `slack_sdk.signature.SignatureVerifier` (HMAC-SHA256 of `v0:{timestamp}:{body}` with
the app's signing secret; the timestamp within 5 minutes of `now`), a request seen before is a
replay and refused, then the `block_actions` payload is read (our button, its run and action, the
Slack user) and the Slack user id is mapped to a person through the plan
(`communications.slack.members`). It decides nothing: an accepted click is handed to the same
`decide` use case as the web page and the CLI, which checks that the person is an incident
commander and records `ic_decision` or `ic_refused`. A refused request carries the HTTP status to
answer (401 for the signature, timestamp and replay; 400 for a payload that is not ours) and a
`record` payload for the caller to log or append.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import Clock, SignatureVerifier

from runofshow.app.steps.communications import ACTION_PREFIX, decision_buttons
from runofshow.domain.communications import SlackWarRoomSettings
from runofshow.ports import SeenRequests

ACTIONS = ("proceed", "hold", "rollback")
MAX_AGE_S = 5 * 60
REASON_MODAL = ACTION_PREFIX + "rollback_reason"  # the modal's callback_id
REASON_BLOCK, REASON_INPUT = "runofshow_reason", "reason"


@dataclass(frozen=True)
class SlackClick:
    run_id: str
    action: str  # proceed, hold or rollback
    slack_user_id: str
    person: str | None  # the plan's name for the Slack user; None: not a war-room member
    channel_id: str = ""
    message_ts: str = ""
    response_url: str = ""  # where an ephemeral answer goes
    trigger_id: str = ""  # lets the app open a modal (the rollback reason) for 3 s
    reason: str = ""  # the reason typed into the rollback modal (a view_submission)
    submitted: bool = False  # a view_submission of the reason modal, not a button click


@dataclass(frozen=True)
class ClickVerdict:
    accepted: bool
    status: int  # the HTTP status to answer Slack with
    reason: str
    click: SlackClick | None = None
    record: Mapping[str, Any] = field(default_factory=dict)


class _At(Clock):
    def __init__(self, now: datetime) -> None:
        self._now = now.timestamp()

    def now(self) -> float:
        return self._now


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for k, v in headers.items():
        if k.lower() == name:
            return v
    return None


def _refused(status: int, reason: str, **record: Any) -> ClickVerdict:
    return ClickVerdict(False, status, reason, None, {"reason": reason, **record})


def verify_click(
    headers: Mapping[str, str], body: bytes, now: datetime, *, signing_secret: str, seen: SeenRequests,
    slack: SlackWarRoomSettings | Callable[[str], SlackWarRoomSettings | None],
) -> ClickVerdict:
    """Is this request a genuine, first-time click on one of our buttons, and whose?"""
    timestamp = _header(headers, "x-slack-request-timestamp")
    signature = _header(headers, "x-slack-signature")
    if not signing_secret.strip():
        return _refused(401, "no signing secret is configured")
    if not timestamp or not signature:
        return _refused(401, "not signed (X-Slack-Signature / X-Slack-Request-Timestamp missing)")
    try:
        sent_at = int(timestamp)
    except ValueError:
        return _refused(401, f"bad timestamp {timestamp[:20]!r}")
    age = now.timestamp() - sent_at
    if abs(age) > MAX_AGE_S:
        return _refused(401, f"stale: signed {age:.0f} s from now (at most {MAX_AGE_S} s)", timestamp=sent_at)
    verifier = SignatureVerifier(signing_secret, clock=_At(now))
    if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        return _refused(401, "wrong signature", timestamp=sent_at)
    if not seen.first_time(f"slack:{signature}", now):
        return _refused(401, "replay: this request was already taken", timestamp=sent_at)
    parsed = _parse(body)
    if isinstance(parsed, str):
        return _refused(400, f"not one of our button clicks ({parsed})")
    members = slack(parsed.run_id) if callable(slack) else slack  # the run's own plan, for serve
    click = replace(parsed, person=members.person(parsed.slack_user_id) if members is not None else None)
    record = {"slack_user_id": click.slack_user_id, "action": click.action, "run_id": click.run_id}
    if click.person is None:
        reason = f"Slack user {click.slack_user_id} is not a war-room member of this plan"
        return ClickVerdict(False, 200, reason, click, {"reason": reason, **record})
    return ClickVerdict(True, 200, f"{click.action} by {click.person} (Slack {click.slack_user_id})", click,
                        {"by": click.person, **record})


def reason_modal(click: SlackClick) -> dict[str, Any]:
    """The modal a Rollback click opens: the reason (required), Roll back / Cancel. What the
    submission needs to act (run, where to answer) rides in `private_metadata`."""
    meta = {"run_id": click.run_id, "response_url": click.response_url, "channel_id": click.channel_id,
            "message_ts": click.message_ts}
    return {
        "type": "modal", "callback_id": REASON_MODAL,
        "private_metadata": json.dumps(meta, separators=(",", ":")),
        "title": {"type": "plain_text", "text": "Roll back?"},
        "submit": {"type": "plain_text", "text": "Roll back"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": (
                f"All traffic of `{click.run_id}` goes back to the stable version now. "
                "The reason is recorded with your decision.")}},
            {"type": "input", "block_id": REASON_BLOCK, "label": {"type": "plain_text", "text": "Reason"},
             "element": {"type": "plain_text_input", "action_id": REASON_INPUT, "multiline": True,
                         "min_length": 3, "max_length": 500}},
        ],
    }


def claimed_run_id(body: bytes) -> str | None:
    """The run a request says it is about, before (or without) its signature being trusted: where a
    refused request is recorded. None when it names none."""
    parsed = _parse(body)
    return None if isinstance(parsed, str) else parsed.run_id


def _submission(payload: Mapping[str, Any]) -> SlackClick:
    view = payload["view"]
    if view.get("callback_id") != REASON_MODAL:
        raise ValueError(f"a view_submission of {view.get('callback_id')!r}, not ours")
    meta = json.loads(view["private_metadata"])
    reason = str(view["state"]["values"][REASON_BLOCK][REASON_INPUT]["value"] or "")
    return SlackClick(
        run_id=str(meta["run_id"]), action="rollback", slack_user_id=str(payload["user"]["id"]), person=None,
        channel_id=str(meta.get("channel_id") or ""), message_ts=str(meta.get("message_ts") or ""),
        response_url=str(meta.get("response_url") or ""), trigger_id=str(payload.get("trigger_id") or ""),
        reason=reason, submitted=True,
    )


def _parse(body: bytes) -> SlackClick | str:
    """The click in a `block_actions` payload, or the reason modal's `view_submission` (person not
    yet known), or why it is not one."""
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True)
        payload = json.loads(form["payload"][0])
        if payload.get("type") == "view_submission":
            return _submission(payload)
        if payload.get("type") != "block_actions":
            raise ValueError(f"a {payload.get('type')!r} payload, not block_actions")
        act = next(a for a in payload["actions"] if str(a.get("action_id", "")).startswith(ACTION_PREFIX))
        value = json.loads(act["value"])
        action, run_id = str(value["action"]), str(value["run_id"])
        if act["action_id"] != ACTION_PREFIX + action or action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        container = payload.get("container") or {}
        return SlackClick(
            run_id=run_id, action=action, slack_user_id=str(payload["user"]["id"]), person=None,
            channel_id=str(container.get("channel_id") or (payload.get("channel") or {}).get("id") or ""),
            message_ts=str(container.get("message_ts") or ""),
            response_url=str(payload.get("response_url") or ""),
            trigger_id=str(payload.get("trigger_id") or ""),
        )
    except (ValueError, KeyError, TypeError, StopIteration, UnicodeDecodeError) as ex:
        return f"{type(ex).__name__}: {ex}"


__all__ = ["ACTIONS", "REASON_MODAL", "ClickVerdict", "SlackClick", "claimed_run_id", "decision_buttons",
           "reason_modal", "verify_click"]
