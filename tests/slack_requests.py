"""Requests as Slack sends them to `/slack/actions`, signed here with real HMAC-SHA256 exactly as
Slack signs them (`v0=` hex of `v0:{timestamp}:{body}` with the app's signing secret): a click on
one of the war room's buttons (`block_actions`) and the rollback modal's `view_submission`."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from runofshow.app.warroom.slack_actions import REASON_MODAL, decision_buttons

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
RESPONSE_URL = "https://hooks.slack.com/actions/T0TEAM0001/1/abc"


def click_body(action: str, user: str, run_id: str, *, response_url: str = RESPONSE_URL,
               trigger_id: str = "1234.5678.abcd") -> bytes:
    """A block_actions payload as Slack posts it (form-encoded `payload=` JSON)."""
    button = next(b for b in decision_buttons(run_id)["elements"] if b["action_id"] == f"runofshow_{action}")
    payload = {
        "type": "block_actions", "user": {"id": user, "username": "alice", "name": "alice", "team_id": "T0TEAM0001"},
        "api_app_id": "A0APP00001", "token": "deprecated-verification-token", "trigger_id": trigger_id,
        "team": {"id": "T0TEAM0001", "domain": "acme"},
        "container": {"type": "message", "message_ts": "1712345678.000002", "channel_id": "C000000001",
                      "is_ephemeral": False},
        "channel": {"id": "C000000001", "name": "spark-warroom-v140"},
        "response_url": response_url,
        "actions": [{"action_id": button["action_id"], "block_id": "runofshow_decision", "text": button["text"],
                     "value": button["value"], "style": button.get("style", ""), "type": "button",
                     "action_ts": "1712345690.123456"}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def submission_body(view: dict[str, Any], user: str, reason: str) -> bytes:
    """The reason modal `view` (as views.open was given it) submitted by `user` with `reason`."""
    assert view["callback_id"] == REASON_MODAL
    payload = {
        "type": "view_submission", "team": {"id": "T0TEAM0001", "domain": "acme"},
        "user": {"id": user, "username": "alice", "name": "alice", "team_id": "T0TEAM0001"},
        "api_app_id": "A0APP00001", "token": "deprecated-verification-token", "trigger_id": "9876.5432.dcba",
        "view": {"id": "V000000001", "team_id": "T0TEAM0001", "type": "modal", "blocks": view["blocks"],
                 "private_metadata": view["private_metadata"], "callback_id": view["callback_id"],
                 "state": {"values": {"runofshow_reason": {"reason": {"type": "plain_text_input", "value": reason}}}},
                 "hash": "1712345700.abcDEF12", "title": view["title"], "root_view_id": "V000000001",
                 "app_id": "A0APP00001", "bot_id": "B0BOT00001"},
        "response_urls": [], "is_enterprise_install": False,
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def signed(body: bytes, at: datetime, secret: str = SECRET) -> dict[str, str]:
    ts = str(int(at.timestamp()))
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig, "Content-Type":
            "application/x-www-form-urlencoded"}
