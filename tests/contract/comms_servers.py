"""Local stand-ins (127.0.0.1) for Slack's Web API, PagerDuty's REST and Events APIs and GitHub's
Deployments API, answering with the shapes the real services send (field names, error codes,
status codes, headers; ids and times are ours). They keep their state in the same records the
in-memory fakes use (`runofshow.adapters.fakes_comms`), so one contract suite reads both.
`throttle(key, n, retry_after)` answers the next n calls to `key` with HTTP 429."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from runofshow.adapters.fakes_comms import (
    ChatChannel,
    ChatMessage,
    ChatWorkspace,
    DeploymentRecords,
    PagerServices,
)
from tests.contract.conftest import LocalServer, Reply, json_reply

SLACK_TOKEN = "xoxb-1111111111-2222222222222-abcdefABCDEF0123456789ab"
PD_TOKEN = "u+abcdefghijklmno-pq"
ROUTING_KEY = "R0123456789ABCDEF0123456789ABCDE"
GH_TOKEN = "ghp_deployments_test_0123456789"


class _Scripted:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []  # method, path, headers, body
        self._throttles: dict[str, list[Any]] = {}

    def throttle(self, key: str, n: int = 1, retry_after: str | None = "1", status: int = 429) -> None:
        self._throttles[key] = [n, retry_after, status]

    def _throttled(self, key: str, body: Any) -> Reply | None:
        t = self._throttles.get(key)
        if not t or t[0] <= 0:
            return None
        t[0] -= 1
        headers = {"Content-Type": "application/json"}
        if t[1] is not None:
            headers["Retry-After"] = t[1]
        return t[2], headers, json.dumps(body).encode()

    def calls(self, key: str) -> list[Any]:
        return [body for _, path, _, body in self.requests if key in path]


# =========================================================================== Slack Web API


def _channel_shape(c: ChatChannel, bot: str) -> dict[str, Any]:
    return {
        "id": c.id, "name": c.name, "is_channel": not c.private, "is_group": c.private, "is_im": False,
        "is_mpim": False, "is_private": c.private, "created": 1712345678, "is_archived": c.archived,
        "is_general": False, "unlinked": 0, "name_normalized": c.name, "is_shared": False,
        "is_org_shared": False, "is_pending_ext_shared": False, "pending_shared": [],
        "context_team_id": "T0TEAM0001", "updated": 1712345678000, "parent_conversation": None,
        "creator": bot, "is_ext_shared": False, "shared_team_ids": ["T0TEAM0001"], "pending_connected_team_ids": [],
        "is_member": bot in c.members, "last_read": "0000000000.000000",
        "topic": {"value": "", "creator": "", "last_set": 0},
        "purpose": {"value": "", "creator": "", "last_set": 0}, "previous_names": [], "priority": 0,
    }


def _message_shape(m: ChatMessage, bot: str) -> dict[str, Any]:
    out: dict[str, Any] = {"user": bot, "type": "message", "ts": m.ts, "bot_id": "B0BOT00001",
                           "app_id": "A0APP00001", "text": m.text, "team": "T0TEAM0001",
                           "bot_profile": {"id": "B0BOT00001", "name": "runofshow", "deleted": False},
                           "blocks": m.blocks}
    if m.thread_ts:
        out["thread_ts"] = m.thread_ts
        out["parent_user_id"] = bot
    return out


class FakeSlack(_Scripted):
    """Slack's Web API at {url}/api/METHOD; the workspace is `workspace`; `scopes` the token's."""

    SCOPES = ("channels:manage", "groups:write", "channels:read", "groups:read", "channels:join", "chat:write",
              "pins:write")

    def __init__(self, workspace: ChatWorkspace, token: str = SLACK_TOKEN) -> None:
        super().__init__()
        self.workspace, self.token, self.scopes = workspace, token, set(self.SCOPES)
        self.server = LocalServer(self.handle)
        self.url = self.server.url + "/api/"

    def close(self) -> None:
        self.server.close()

    @property
    def response_url(self) -> str:
        """A click's response_url on this server (Slack's are https://hooks.slack.com/actions/...)."""
        return self.server.url + "/actions/T0TEAM0001/4711/b9Xc0ffee"

    def _respond(self, body: bytes) -> Reply:
        """response_url: Slack answers the text `ok`; an unknown or used-up URL gets an error text."""
        payload = json.loads(body or b"{}")
        if not payload.get("text") and not payload.get("blocks"):
            return 400, {"Content-Type": "text/plain"}, b"no_text"
        self.workspace.ephemeral.append((self.response_url, str(payload.get("text", ""))))
        return 200, {"Content-Type": "text/html"}, b"ok"

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        parts = urlsplit(path)
        if parts.path.startswith("/actions/"):
            self.requests.append((method, parts.path, dict(headers.items()), json.loads(body or b"{}")))
            if path != urlsplit(self.response_url).path:
                return 404, {"Content-Type": "text/plain"}, b"expired_url"
            return self._respond(body)
        api = parts.path.removeprefix("/api/")
        ctype = headers.get("Content-Type", "")
        if ctype.startswith("application/json"):
            args = json.loads(body or b"{}")
        else:
            args = {k: v[0] for k, v in parse_qs(body.decode() + "&" + parts.query).items()}
        self.requests.append((method, api, dict(headers.items()), args))
        throttled = self._throttled(api, {"ok": False, "error": "ratelimited"})
        if throttled:
            return throttled
        if headers.get("Authorization") != f"Bearer {self.token}":
            return json_reply(200, {"ok": False, "error": "invalid_auth"})
        needed = {"conversations.create": "channels:manage", "conversations.archive": "channels:manage",
                  "conversations.invite": "channels:manage", "conversations.list": "channels:read",
                  "conversations.join": "channels:join", "chat.postMessage": "chat:write",
                  "chat.update": "chat:write", "pins.add": "pins:write", "views.open": ""}.get(api)
        if needed is None:
            return json_reply(200, {"ok": False, "error": "unknown_method", "req_method": api})
        if needed and needed not in self.scopes:
            return json_reply(200, {"ok": False, "error": "missing_scope", "needed": needed,
                                    "provided": ",".join(sorted(self.scopes))})
        return json_reply(200, getattr(self, "_" + api.replace(".", "_"))(args))

    def _find(self, channel: str) -> ChatChannel | dict[str, Any]:
        c = self.workspace.channels.get(channel)
        if c is None:
            return {"ok": False, "error": "channel_not_found"}
        return c

    def _conversations_create(self, a: dict[str, Any]) -> dict[str, Any]:
        name = a["name"]
        if self.workspace.by_name(name) is not None:
            return {"ok": False, "error": "name_taken"}
        private = str(a.get("is_private", "")).lower() in ("true", "1")
        c = self.workspace.create(name, private)
        return {"ok": True, "channel": _channel_shape(c, self.workspace.bot_user)}

    def _conversations_list(self, a: dict[str, Any]) -> dict[str, Any]:
        everything = list(self.workspace.channels.values())
        visible = [c for c in everything if not c.private or self.workspace.bot_user in c.members]
        start = int(a.get("cursor") or 0)
        page = visible[start:start + 2]  # small pages, so that paging is exercised
        nxt = str(start + 2) if start + 2 < len(visible) else ""
        return {"ok": True, "channels": [_channel_shape(c, self.workspace.bot_user) for c in page],
                "response_metadata": {"next_cursor": nxt}}

    def _conversations_join(self, a: dict[str, Any]) -> dict[str, Any]:
        c = self._find(a["channel"])
        if isinstance(c, dict):
            return c
        if c.private:
            return {"ok": False, "error": "method_not_supported_for_channel_type"}
        if c.archived:
            return {"ok": False, "error": "is_archived"}
        if self.workspace.bot_user in c.members:
            return {"ok": True, "channel": _channel_shape(c, self.workspace.bot_user),
                    "warning": "already_in_channel", "response_metadata": {"warnings": ["already_in_channel"]}}
        c.members.append(self.workspace.bot_user)
        return {"ok": True, "channel": _channel_shape(c, self.workspace.bot_user)}

    def _conversations_invite(self, a: dict[str, Any]) -> dict[str, Any]:
        c = self._find(a["channel"])
        if isinstance(c, dict):
            return c
        if self.workspace.bot_user not in c.members:
            return {"ok": False, "error": "not_in_channel"}
        users = [u for u in str(a["users"]).split(",") if u]
        if any(u in c.members for u in users):
            return {"ok": False, "error": "already_in_channel", "errors": [
                {"user": u, "ok": False, "error": "already_in_channel"} for u in users if u in c.members]}
        c.members.extend(users)
        return {"ok": True, "channel": _channel_shape(c, self.workspace.bot_user)}

    def _chat_postMessage(self, a: dict[str, Any]) -> dict[str, Any]:
        c = self._find(a["channel"])
        if isinstance(c, dict):
            return c
        if c.archived:
            return {"ok": False, "error": "is_archived"}
        if a.get("thread_ts") and a["thread_ts"] not in c.messages:
            return {"ok": False, "error": "thread_not_found"}
        blocks = a.get("blocks") or []
        m = ChatMessage(self.workspace.next_ts(), a.get("text", ""),
                        json.loads(blocks) if isinstance(blocks, str) else blocks, a.get("thread_ts"))
        c.messages[m.ts] = m
        return {"ok": True, "channel": c.id, "ts": m.ts, "message": _message_shape(m, self.workspace.bot_user)}

    def _chat_update(self, a: dict[str, Any]) -> dict[str, Any]:
        c = self._find(a["channel"])
        if isinstance(c, dict):
            return c
        m = c.messages.get(a["ts"])
        if m is None:
            return {"ok": False, "error": "message_not_found"}
        blocks = a.get("blocks") or []
        m.text, m.edits = a.get("text", ""), m.edits + 1
        m.blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        return {"ok": True, "channel": c.id, "ts": m.ts, "text": m.text,
                "message": _message_shape(m, self.workspace.bot_user)}

    def _pins_add(self, a: dict[str, Any]) -> dict[str, Any]:
        c = self._find(a["channel"])
        if isinstance(c, dict):
            return c
        if a.get("timestamp") not in c.messages:
            return {"ok": False, "error": "message_not_found"}
        if a["timestamp"] in c.pinned:
            return {"ok": False, "error": "already_pinned"}
        c.pinned.append(a["timestamp"])
        return {"ok": True}

    def _views_open(self, a: dict[str, Any]) -> dict[str, Any]:
        """views.open (no scope; a trigger_id from a click in the last 3 s)."""
        trigger = str(a.get("trigger_id") or "")
        if not trigger or trigger.startswith("expired"):
            return {"ok": False, "error": "expired_trigger_id" if trigger else "invalid_trigger_id"}
        view = a.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        title = ((view or {}).get("title") or {}).get("text", "")
        if not isinstance(view, dict) or view.get("type") != "modal" or not title or len(title) > 24:
            return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": [
                "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"]}}
        view_id = f"V0{len(self.workspace.modals) + 1:08d}"
        self.workspace.modals.append({"id": view_id, "trigger_id": trigger, "view": view})
        return {"ok": True, "view": {
            "id": view_id, "team_id": "T0TEAM0001", "type": "modal", "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""), "callback_id": view.get("callback_id", ""),
            "state": {"values": {}}, "hash": "1712345690.Kj2aSbYd", "title": view["title"],
            "clear_on_close": False, "notify_on_close": False, "close": view.get("close"),
            "submit": view.get("submit"), "previous_view_id": None, "root_view_id": view_id,
            "app_id": "A0APP00001", "external_id": "", "app_installed_team_id": "T0TEAM0001",
            "bot_id": "B0BOT00001"}}

    def _conversations_archive(self, a: dict[str, Any]) -> dict[str, Any]:
        c = self._find(a["channel"])
        if isinstance(c, dict):
            return c
        if c.archived:
            return {"ok": False, "error": "already_archived"}
        c.archived = True
        return {"ok": True}


# =========================================================================== PagerDuty


def _pd_error(status: int, message: str, code: int, errors: tuple[str, ...] = ()) -> Reply:
    return json_reply(status, {"error": {"message": message, "code": code, "errors": list(errors)}})


class FakePagerDuty(_Scripted):
    """REST API v2 at {url} (GET/PUT /services/ID) and the Events API v2 at {url}/v2/change/enqueue."""

    def __init__(self, state: PagerServices) -> None:
        super().__init__()
        self.state = state
        self.server = LocalServer(self.handle)
        self.url = self.server.url

    def close(self) -> None:
        self.server.close()

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        payload = json.loads(body) if body else None
        self.requests.append((method, path, dict(headers.items()), payload))
        if path == "/v2/change/enqueue":
            return self._change_event(payload)
        throttled = self._throttled("rest", {"error": {"message": "Rate Limit Exceeded", "code": 2020}})
        if throttled:
            return throttled
        if headers.get("Authorization") != f"Token token={PD_TOKEN}":
            return _pd_error(401, "Unauthorized", 2006)  # PagerDuty: 2006 Authentication failed
        if headers.get("Accept") != "application/vnd.pagerduty+json;version=2":
            return _pd_error(406, "Not Acceptable", 2001)
        sid = path.removeprefix("/services/").split("?")[0]
        service = self.state.services.get(sid)
        if service is None:
            return _pd_error(404, "Not Found", 2100)
        if method == "GET":
            return json_reply(200, {"service": service})
        if method == "PUT":
            fields = (payload or {}).get("service")
            if not isinstance(fields, dict):
                return _pd_error(400, "Invalid Input Provided", 2001, ("Service must be an object.",))
            timeout = fields.get("acknowledgement_timeout", service.get("acknowledgement_timeout"))
            if timeout is not None and (not isinstance(timeout, int) or timeout < 60):
                return _pd_error(400, "Invalid Input Provided", 2001,
                                 ("Acknowledgement timeout must be greater than or equal to 60.",))
            service.update({k: v for k, v in fields.items() if k != "type"})
            return json_reply(200, {"service": service})
        return _pd_error(405, "Method Not Allowed", 2001)

    def _change_event(self, payload: Mapping[str, Any] | None) -> Reply:
        throttled = self._throttled("events", {"status": "throttle event", "message": "Requests for this "
                                               "service are arriving too quickly.  Please retry later."})
        if throttled:
            return throttled
        if not payload or payload.get("routing_key") != ROUTING_KEY:
            return json_reply(400, {"status": "invalid event", "message": "Event object is invalid",
                                    "errors": ["'routing_key' is invalid"]})
        summary = (payload.get("payload") or {}).get("summary")
        if not summary:
            return json_reply(400, {"status": "invalid event", "message": "Event object is invalid",
                                    "errors": ["'payload.summary' is missing or blank"]})
        self.state.change_events.append(dict(payload["payload"]))
        return json_reply(202, {"status": "success", "message": "Change event processed"})


# =========================================================================== GitHub Deployments


class FakeGitHubDeployments(_Scripted):
    """/repos/OWNER/NAME/deployments[...] on {url} (or {url}/api/v3 for GitHub Enterprise)."""

    def __init__(self, records: DeploymentRecords, repo: str = "acme/spark-trading", prefix: str = "") -> None:
        super().__init__()
        self.records, self.repo, self.prefix = records, repo, prefix
        self.server = LocalServer(self.handle)
        self.url = self.server.url + prefix

    def close(self) -> None:
        self.server.close()

    def _deployment(self, d: dict[str, Any]) -> dict[str, Any]:
        base = f"https://api.github.com/repos/{self.repo}/deployments/{d['id']}"
        return {"url": base, "id": d["id"], "node_id": f"DE_kwDOA{d['id']}", "sha": "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d",
                "ref": d["ref"], "task": "deploy", "payload": {"source": "runofshow"}, "original_environment":
                d["environment"], "environment": d["environment"], "description": d["description"],
                "creator": {"login": "runofshow-bot", "id": 1, "type": "Bot"}, "created_at": "2026-12-06T21:00:00Z",
                "updated_at": "2026-12-06T21:00:00Z", "statuses_url": base + "/statuses",
                "repository_url": f"https://api.github.com/repos/{self.repo}", "transient_environment": False,
                "production_environment": True}

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        payload = json.loads(body) if body else None
        self.requests.append((method, path, dict(headers.items()), payload))
        rate = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999", "x-ratelimit-reset": "1900000000"}
        throttled = self._throttled("deployments", {"message": "You have exceeded a secondary rate limit."})
        if throttled:
            return throttled
        if headers.get("Authorization") != f"Bearer {GH_TOKEN}":
            return json_reply(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        parts = urlsplit(path)
        route = parts.path.removeprefix(self.prefix).removeprefix(f"/repos/{self.repo}/deployments").strip("/")
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        status, answer = self._route(method, route.split("/") if route else [], query, payload)
        code, hdrs, data = json_reply(status, answer)
        return code, {**hdrs, **rate}, data

    def _route(self, method: str, route: list[str], query: dict[str, str], payload: Any) -> tuple[int, Any]:
        if not route and method == "POST":
            if not payload.get("ref"):
                return 422, {"message": "Invalid request.\n\n\"ref\" wasn't supplied.", "status": "422"}
            d = self.records.create(payload["ref"], payload.get("environment", "production"),
                                    payload.get("description") or "")
            return 201, self._deployment(d)
        if not route and method == "GET":
            rows = [d for d in reversed(self.records.deployments.values())
                    if d["environment"] == query.get("environment", d["environment"])]
            return 200, [self._deployment(d) for d in rows]
        deployment = self.records.deployments.get(int(route[0])) if route[0].isdigit() else None
        if deployment is None:
            return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}
        if route[1:] == ["statuses"] and method == "POST":
            if payload.get("state") not in ("error", "failure", "inactive", "in_progress", "queued", "pending",
                                            "success"):
                return 422, {"message": "Validation Failed", "errors": [
                    {"resource": "DeploymentStatus", "code": "custom", "field": "state",
                     "message": "state is not included in the list"}], "status": "422"}
            deployment["statuses"].append({"state": payload["state"], "description": payload.get("description", "")})
            n = len(deployment["statuses"])
            return 201, {"id": deployment["id"] * 10 + n, "state": payload["state"],
                         "description": payload.get("description", ""), "environment": deployment["environment"],
                         "deployment_url": self._deployment(deployment)["url"], "created_at": "2026-12-06T21:00:00Z"}
        if route[1:] == ["statuses"] and method == "GET":
            rows = list(reversed(deployment["statuses"]))[: int(query.get("per_page", 30))]
            return 200, [{"id": deployment["id"] * 10 + i, "state": s["state"], "description": s["description"]}
                         for i, s in enumerate(rows)]
        return 404, {"message": "Not Found", "status": "404"}
