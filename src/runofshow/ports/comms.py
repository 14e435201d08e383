"""The ritual's communications: the war-room channel, the pager's yellow mode, deployment status,
signed requests already seen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class WarRoomChannel(Protocol):
    """The war-room chat channel (Slack with a bot token): one pinned status message edited in
    place as the run moves, the war-room minutes as thread replies under it."""

    def open(self, name: str, members: Sequence[str]) -> str:
        """Create channel `name` (or join it when it exists), invite `members` (chat user ids; those
        already in are fine) and return the channel id."""
        ...

    def post_status(self, channel: str, text: str, blocks: Sequence[Mapping[str, Any]] = ()) -> str:
        """Post the status message and pin it; returns its id (Slack: the message `ts`)."""
        ...

    def update_status(
        self, channel: str, message: str, text: str, blocks: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Edit the status message `message` in place."""
        ...

    def post_minute(self, channel: str, thread: str, text: str) -> str:
        """Post one war-room minute as a reply in `thread` (the status message); returns its id."""
        ...

    def close(self, channel: str, text: str | None = None, *, archive: bool = True) -> None:
        """Post `text` (the one-liner) when given, then archive the channel when `archive`."""
        ...


@dataclass(frozen=True)
class PagerSnapshot:
    """A pager's settings as read: service id -> that service's settings (JSON-ready), kept in the
    ledger before yellow so that green (even from a resumed run) restores exactly these."""

    services: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@runtime_checkable
class PagerMode(Protocol):
    """The on-call pager: yellow (high urgency, short acknowledgement timeout) during the canary."""

    def read_settings(self) -> PagerSnapshot:
        ...

    def set_yellow(self) -> PagerSnapshot:
        """Put the services in yellow mode; returns the settings read back after."""
        ...

    def restore(self, snapshot: PagerSnapshot) -> PagerSnapshot:
        """Put back `snapshot` as it was read; returns the settings read back after."""
        ...

    def send_change_event(self, text: str, at: datetime) -> None:
        """Tell the pager something changed (PagerDuty change event), shown beside incidents."""
        ...


@runtime_checkable
class DeploymentStatus(Protocol):
    """Deployment records (GitHub Deployments): one per release and environment, with a state."""

    def start(self, environment: str, ref: str, description: str) -> int:
        """Create a deployment of `ref` to `environment`; returns its id."""
        ...

    def set_state(self, deployment_id: int, state: str, description: str) -> None:
        """Add a status: queued, in_progress, success, failure, error or inactive."""
        ...

    def state(self, deployment_id: int) -> str | None:
        """The deployment's latest state (the read-back of `set_state`); None before any."""
        ...

    def mark_previous_inactive(self, environment: str, keep: int) -> list[int]:
        """Mark every other still-active deployment of `environment` inactive; returns their ids."""
        ...


@runtime_checkable
class ChatInteractions(Protocol):
    """Answers to a person's click in the chat (Slack interactivity): a modal that asks for more (the
    rollback's reason) and a reply only the clicker sees."""

    def open_modal(self, trigger_id: str, view: Mapping[str, Any]) -> str:
        """Open `view` for the click that gave `trigger_id` (valid 3 s); returns the view's id."""
        ...

    def reply_ephemeral(self, response_url: str, text: str) -> None:
        """Post `text` to the click's `response_url`, seen only by the person who clicked."""
        ...


@runtime_checkable
class SeenRequests(Protocol):
    """Signed requests already taken (Slack action clicks): a replay of one is refused."""

    def first_time(self, key: str, at: datetime) -> bool:
        """Remember `key`; True when it had not been seen before (check and remember at once)."""
        ...


__all__ = [
    "ChatInteractions", "DeploymentStatus", "PagerMode", "PagerSnapshot", "SeenRequests", "WarRoomChannel",
]
