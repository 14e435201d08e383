"""The war-room channel on Slack with a bot token (`slack_sdk.WebClient`), behind `WarRoomChannel`.

Web API methods used, and the answers handled:
  conversations.create   `name_taken`: the channel exists; it is found (conversations.list, every
                         page) and joined (conversations.join; a private one must already hold the bot)
  conversations.invite   one user at a time; `already_in_channel` and `cant_invite_self` are fine
  chat.postMessage       the status message, the minutes (thread_ts), the closing one-liner
  chat.update            the status message, edited in place
  pins.add               `already_pinned` is fine
  conversations.archive  `already_archived` is fine
HTTP 429: slack_sdk's `RateLimitErrorRetryHandler` waits the Retry-After seconds and tries again
(at most `rate_limit_retries` times, and never for longer than `max_wait_s`). Any other failure
raises `NotifierError` naming the method and Slack's error code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from runofshow.errors import NotifierError

DEFAULT_API_URL = "https://slack.com/api/"
FINE = {
    "conversations.invite": {"already_in_channel", "cant_invite_self"},
    "pins.add": {"already_pinned"},
    "conversations.archive": {"already_archived"},
    "conversations.join": {"already_in_channel"},
}


def _retry_after_s(response: HttpResponse | None) -> float:
    for key, values in ((response.headers if response is not None else {}) or {}).items():
        if key.lower() == "retry-after" and values:
            try:
                return float(values[0])
            except ValueError:
                return 1.0
    return 1.0


class RateLimitRetry(RateLimitErrorRetryHandler):
    """slack_sdk's handler for HTTP 429, with our sleep (tests record it) and a ceiling: a
    Retry-After longer than `max_wait_s` is not waited for (the caller records the failure)."""

    def __init__(self, max_retry_count: int = 3, *, max_wait_s: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_s = max_wait_s
        self.sleep = sleep
        self.waits: list[float] = []

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        ok = super()._can_retry(state=state, request=request, response=response, error=error)
        return ok and _retry_after_s(response) <= self.max_wait_s

    def prepare_for_next_attempt(
        self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        wait = _retry_after_s(response)
        self.waits.append(wait)
        self.sleep(wait)
        state.increment_current_attempt()


class SlackWarRoomChannel:
    """`WarRoomChannel` on one Slack workspace, as the bot whose token it holds."""

    name = "slack-warroom"

    def __init__(
        self, token: str, *, base_url: str = DEFAULT_API_URL, private: bool = False, timeout_s: float = 10.0,
        rate_limit_retries: int = 3, max_wait_s: float = 30.0, sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not token:
            raise NotifierError("slack-warroom: no bot token", adapter=self.name)
        self.rate_limit = RateLimitRetry(rate_limit_retries, max_wait_s=max_wait_s, sleep=sleep)
        self._client = WebClient(
            token=token, base_url=base_url if base_url.endswith("/") else base_url + "/",
            timeout=max(1, round(timeout_s)),
            retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1), self.rate_limit],
        )
        self._private = private
        self.target = base_url

    # ------------------------------------------------------------------ the port

    def open(self, name: str, members: Sequence[str]) -> str:
        name = name.removeprefix("#")
        answer = self._call("conversations.create", {"name": name, "is_private": self._private},
                            fine={"name_taken"})
        if answer.get("ok"):
            channel_id = str(answer["channel"]["id"])
        else:
            channel_id = self._join_existing(name)
        for user in dict.fromkeys(members):
            self._call("conversations.invite", {"channel": channel_id, "users": user})
        return channel_id

    def post_status(self, channel: str, text: str, blocks: Sequence[Mapping[str, Any]] = ()) -> str:
        ts = self._post(channel, text, blocks)
        self._call("pins.add", {"channel": channel, "timestamp": ts})
        return ts

    def update_status(
        self, channel: str, message: str, text: str, blocks: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self._call("chat.update", {"channel": channel, "ts": message, "text": text, "blocks": list(blocks)})

    def post_minute(self, channel: str, thread: str, text: str) -> str:
        return self._post(channel, text, (), thread_ts=thread)

    def close(self, channel: str, text: str | None = None, *, archive: bool = True) -> None:
        if text:
            self._post(channel, text, ())
        if archive:
            self._call("conversations.archive", {"channel": channel})

    # ------------------------------------------------------------------ Slack

    def _post(self, channel: str, text: str, blocks: Sequence[Mapping[str, Any]],
              thread_ts: str | None = None) -> str:
        args: dict[str, Any] = {"channel": channel, "text": text}
        if blocks:
            args["blocks"] = list(blocks)
        if thread_ts:
            args["thread_ts"] = thread_ts
        return str(self._call("chat.postMessage", args)["ts"])

    def _join_existing(self, name: str) -> str:
        cursor: str | None = None
        for _ in range(100):
            args: dict[str, Any] = {"types": "public_channel,private_channel", "limit": 200,
                                    "exclude_archived": False}
            if cursor:
                args["cursor"] = cursor
            page = self._call("conversations.list", args)
            for c in page.get("channels") or ():
                if c.get("name") != name:
                    continue
                if c.get("is_archived"):
                    raise NotifierError(f"slack-warroom: #{name} exists but is archived; unarchive it "
                                        "or name another channel in the plan", adapter=self.name, target=name)
                if not c.get("is_member"):
                    self._call("conversations.join", {"channel": c["id"]})
                return str(c["id"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        raise NotifierError(f"slack-warroom: #{name} is taken but the bot cannot see it (a private "
                            "channel: invite the bot, or name another channel)",
                            adapter=self.name, target=name)

    def _call(self, method: str, args: dict[str, Any], *, fine: set[str] | None = None) -> dict[str, Any]:
        fine = (fine or set()) | FINE.get(method, set())
        try:
            response = getattr(self._client, method.replace(".", "_"))(**args)  # the SDK's encoding
            return dict(response.data) if isinstance(response.data, dict) else {}
        except SlackApiError as ex:
            data = ex.response.data if isinstance(ex.response.data, dict) else {}
            code = str(data.get("error") or f"HTTP {ex.response.status_code}")
            if code in fine:
                return {"ok": False, "error": code}
            hint = ""
            if code in ("missing_scope", "not_authed", "invalid_auth", "account_inactive"):
                needed = data.get("needed")
                hint = f" (the bot token needs scope {needed})" if needed else " (check SLACK_BOT_TOKEN)"
            elif ex.response.status_code == 429:
                hint = f" (rate limited; Retry-After {_retry_after_s_raw(ex.response.headers)} s)"
            raise NotifierError(f"slack-warroom: {method}: {code}{hint}", adapter=self.name,
                                target=method) from None
        except Exception as ex:  # URLError, socket timeout, SlackRequestError ...
            raise NotifierError(f"slack-warroom: {method}: {type(ex).__name__}: {ex}", adapter=self.name,
                                target=method) from None


def _retry_after_s_raw(headers: Mapping[str, Any] | None) -> str:
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            return str(value[0] if isinstance(value, list) and value else value)
    return "?"


__all__ = ["DEFAULT_API_URL", "RateLimitRetry", "SlackWarRoomChannel"]
