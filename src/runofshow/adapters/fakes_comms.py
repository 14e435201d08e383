"""In-memory communications: a chat workspace, a pager and deployment records that behave like the
real ones (Slack, PagerDuty, GitHub Deployments) and keep everything they were told.

They pass the same contract tests as the real adapters (tests/contract/test_comms_*.py); the
`ChatWorkspace`, `PagerServices` and `DeploymentRecords` they keep their state in are also what the
tests' local Slack, PagerDuty and GitHub servers keep theirs in, so one suite reads both.
`fail_next = N` makes the next N calls raise `NotifierError`, as an outage would.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runofshow.domain.communications import pager_fields, yellow_settings
from runofshow.errors import NotifierError
from runofshow.ports import PagerSnapshot

# --------------------------------------------------------------------------- chat (Slack)


@dataclass
class ChatMessage:
    ts: str
    text: str
    blocks: list[Mapping[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    edits: int = 0


@dataclass
class ChatChannel:
    id: str
    name: str
    private: bool = False
    members: list[str] = field(default_factory=list)
    messages: dict[str, ChatMessage] = field(default_factory=dict)
    pinned: list[str] = field(default_factory=list)
    archived: bool = False

    def replies(self, thread_ts: str) -> list[str]:
        return [m.text for m in self.messages.values() if m.thread_ts == thread_ts]


@dataclass
class ChatWorkspace:
    """Channels by id; the bot is `bot_user`."""

    bot_user: str = "U0BOT00001"
    channels: dict[str, ChatChannel] = field(default_factory=dict)
    modals: list[dict[str, Any]] = field(default_factory=list)  # views opened: {id, trigger_id, view}
    ephemeral: list[tuple[str, str]] = field(default_factory=list)  # (response_url, text) replies
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def by_name(self, name: str) -> ChatChannel | None:
        return next((c for c in self.channels.values() if c.name == name), None)

    def create(self, name: str, private: bool = False) -> ChatChannel:
        n = next(self._ids)
        channel = ChatChannel(id=f"{'G' if private else 'C'}0{n:08d}", name=name, private=private,
                              members=[self.bot_user])
        self.channels[channel.id] = channel
        return channel

    def next_ts(self) -> str:
        return f"1712345678.{next(self._ids):06d}"


class RecordingWarRoomChannel:
    """`WarRoomChannel` on a `ChatWorkspace`: errors as Slack names them."""

    name = "memory-chat"

    def __init__(self, workspace: ChatWorkspace | None = None) -> None:
        self.workspace = workspace if workspace is not None else ChatWorkspace()
        self.fail_next = 0

    def _error(self, what: str, target: str) -> NotifierError:
        return NotifierError(f"{self.name}: {what}", adapter=self.name, target=target)

    def _check(self) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise self._error("unavailable (scripted)", "")

    def _channel(self, channel: str, *, writable: bool = True) -> ChatChannel:
        found = self.workspace.channels.get(channel)
        if found is None:
            raise self._error(f"channel_not_found: {channel}", channel)
        if writable and found.archived:
            raise self._error(f"is_archived: {channel}", channel)
        return found

    def open(self, name: str, members: Sequence[str]) -> str:
        self._check()
        name = name.removeprefix("#")
        channel = self.workspace.by_name(name)
        if channel is None:
            channel = self.workspace.create(name)
        elif channel.archived:
            raise self._error(f"#{name} exists but is archived", name)
        for user in [self.workspace.bot_user, *members]:
            if user not in channel.members:
                channel.members.append(user)
        return channel.id

    def post_status(self, channel: str, text: str, blocks: Sequence[Mapping[str, Any]] = ()) -> str:
        ts = self.post(channel, text, blocks)
        self._channel(channel).pinned.append(ts)
        return ts

    def post(self, channel: str, text: str, blocks: Sequence[Mapping[str, Any]] = (),
             thread_ts: str | None = None) -> str:
        self._check()
        c = self._channel(channel)
        ts = self.workspace.next_ts()
        c.messages[ts] = ChatMessage(ts, text, list(blocks), thread_ts)
        return ts

    def update_status(
        self, channel: str, message: str, text: str, blocks: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self._check()
        found = self._channel(channel).messages.get(message)
        if found is None:
            raise self._error(f"message_not_found: {message}", channel)
        found.text, found.blocks, found.edits = text, list(blocks), found.edits + 1

    def post_minute(self, channel: str, thread: str, text: str) -> str:
        if thread not in self._channel(channel).messages:
            raise self._error(f"thread_not_found: {thread}", channel)
        return self.post(channel, text, thread_ts=thread)

    def close(self, channel: str, text: str | None = None, *, archive: bool = True) -> None:
        c = self._channel(channel, writable=False)
        if text and not c.archived:
            self.post(channel, text)
        if archive:
            self._check()
            c.archived = True


class RecordingInteractions:
    """`ChatInteractions` on a `ChatWorkspace`: modals opened and ephemeral replies, kept."""

    name = "memory-chat-interactions"

    def __init__(self, workspace: ChatWorkspace | None = None) -> None:
        self.workspace = workspace if workspace is not None else ChatWorkspace()
        self.fail_next = 0

    def _check(self) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise NotifierError(f"{self.name}: unavailable (scripted)", adapter=self.name)

    def open_modal(self, trigger_id: str, view: Mapping[str, Any]) -> str:
        self._check()
        if not trigger_id:
            raise NotifierError(f"{self.name}: invalid_trigger_id", adapter=self.name)
        view_id = f"V0{len(self.workspace.modals) + 1:08d}"
        opened = {"id": view_id, "trigger_id": trigger_id, "view": copy.deepcopy(dict(view))}
        self.workspace.modals.append(opened)
        return view_id

    def reply_ephemeral(self, response_url: str, text: str) -> None:
        self._check()
        self.workspace.ephemeral.append((response_url, text))


# --------------------------------------------------------------------------- pager (PagerDuty)

@dataclass
class PagerServices:
    """Services by id, each a PagerDuty-shaped dict; change events as sent."""

    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    change_events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, service_id: str, *, urgency: str = "low", ack_timeout_s: int | None = 1800) -> None:
        self.services[service_id] = {
            "id": service_id, "type": "service", "name": f"service {service_id}",
            "incident_urgency_rule": {"type": "constant", "urgency": urgency},
            "acknowledgement_timeout": ack_timeout_s, "auto_resolve_timeout": 14400, "status": "active",
        }


class RecordingPager:
    """`PagerMode` on `PagerServices`."""

    name = "memory-pager"

    def __init__(self, services: Sequence[str], *, ack_timeout_s: int = 300,
                 state: PagerServices | None = None) -> None:
        self.state = state if state is not None else PagerServices()
        for sid in services:
            if sid not in self.state.services:
                self.state.add(sid)
        self.service_ids = tuple(services)
        self.ack_timeout_s = ack_timeout_s
        self.fail_next = 0

    def _check(self) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise NotifierError("memory-pager: unavailable (scripted)", adapter=self.name)

    def read_settings(self) -> PagerSnapshot:
        self._check()
        return PagerSnapshot({sid: pager_fields(self.state.services[sid]) for sid in self.service_ids})

    def _put(self, sid: str, fields: Mapping[str, Any]) -> None:
        self.state.services[sid].update(copy.deepcopy(dict(fields)))

    def set_yellow(self) -> PagerSnapshot:
        self._check()
        for sid in self.service_ids:
            self._put(sid, yellow_settings(self.ack_timeout_s))
        return self.read_settings()

    def restore(self, snapshot: PagerSnapshot) -> PagerSnapshot:
        self._check()
        for sid, fields in snapshot.services.items():
            if sid not in self.state.services:
                raise NotifierError(f"memory-pager: no service {sid}", adapter=self.name, target=sid)
            self._put(sid, fields)
        return self.read_settings()

    def send_change_event(self, text: str, at: datetime) -> None:
        self._check()
        self.state.change_events.append({"summary": text, "timestamp": at.isoformat()})


# --------------------------------------------------------------------------- deployments (GitHub)


@dataclass
class DeploymentRecords:
    """Deployments by id: {id, ref, environment, description, statuses: [{state, description}]}."""

    deployments: dict[int, dict[str, Any]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_000_001))

    def create(self, ref: str, environment: str, description: str) -> dict[str, Any]:
        n = next(self._ids)
        self.deployments[n] = {"id": n, "ref": ref, "environment": environment,
                               "description": description, "statuses": []}
        return self.deployments[n]

    def latest(self, deployment_id: int) -> str | None:
        statuses = self.deployments[deployment_id]["statuses"]
        return str(statuses[-1]["state"]) if statuses else None


DEPLOYMENT_STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")
ACTIVE_STATES = ("success", "in_progress", "queued", "pending")


class RecordingDeployments:
    """`DeploymentStatus` on `DeploymentRecords`."""

    name = "memory-deployments"

    def __init__(self, records: DeploymentRecords | None = None) -> None:
        self.records = records if records is not None else DeploymentRecords()
        self.fail_next = 0

    def _check(self) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise NotifierError("memory-deployments: unavailable (scripted)", adapter=self.name)

    def start(self, environment: str, ref: str, description: str) -> int:
        self._check()
        return int(self.records.create(ref, environment, description)["id"])

    def set_state(self, deployment_id: int, state: str, description: str) -> None:
        self._check()
        if state not in DEPLOYMENT_STATES:
            raise NotifierError(f"memory-deployments: state '{state}' is not one of {DEPLOYMENT_STATES}",
                                adapter=self.name)
        if deployment_id not in self.records.deployments:
            raise NotifierError(f"memory-deployments: no deployment {deployment_id}", adapter=self.name)
        statuses = self.records.deployments[deployment_id]["statuses"]
        statuses.append({"state": state, "description": description})

    def state(self, deployment_id: int) -> str | None:
        self._check()
        if deployment_id not in self.records.deployments:
            raise NotifierError(f"memory-deployments: no deployment {deployment_id}", adapter=self.name)
        return self.records.latest(deployment_id)

    def mark_previous_inactive(self, environment: str, keep: int) -> list[int]:
        self._check()
        marked = []
        for d in list(self.records.deployments.values()):
            active = self.records.latest(d["id"]) in ACTIVE_STATES
            if d["environment"] == environment and d["id"] != keep and active:
                self.set_state(d["id"], "inactive", "superseded")
                marked.append(int(d["id"]))
        return marked


# --------------------------------------------------------------------------- seen requests


class InMemorySeenRequests:
    """`SeenRequests` in a dict; keys older than `keep_s` are forgotten (a replay that old is
    refused anyway, as stale)."""

    def __init__(self, keep_s: float = 600.0) -> None:
        self.keep_s = keep_s
        self.seen: dict[str, datetime] = {}

    def first_time(self, key: str, at: datetime) -> bool:
        for old in [k for k, t in self.seen.items() if (at - t).total_seconds() > self.keep_s]:
            del self.seen[old]
        if key in self.seen:
            return False
        self.seen[key] = at
        return True


__all__ = [
    "ChatChannel", "ChatMessage", "ChatWorkspace", "DeploymentRecords", "PagerServices",
    "InMemorySeenRequests", "RecordingDeployments", "RecordingInteractions", "RecordingPager",
    "RecordingWarRoomChannel",
]
