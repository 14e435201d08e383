"""The plan's communications: the Slack war-room channel, the pager's yellow mode, the GitHub
deployment status. Pure data (pydantic); every part is optional and off by default.

    communications:
      slack:                          # a Slack app's bot token (SLACK_BOT_TOKEN) runs the war room
        channel: spark-warroom-v140   # created at T-20 if missing (joined if it exists)
        members:                      # who is invited, and who a button click is
          - {name: alice, slack_user_id: U024BE7LH}
        archive_at_close: true
      pager:
        kind: pagerduty               # or: kind: webhook, url: https://pager-bridge.example/hook
        service_ids: [PIJ90N7]
      deployments:
        repo: acme/spark-trading      # GitHub (GITHUB_TOKEN, GITHUB_API_URL as for the freeze)
        environment: production

Tokens are never in the plan: each part names the environment variable that holds its secret.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from runofshow.domain.addresses import HttpUrlText
from runofshow.domain.model import FrozenModel

#: Slack's rules for a channel name: lower case letters, digits, - and _, at most 80 characters
CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
#: Slack user ids: U... (or W... on Enterprise Grid)
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
#: PagerDuty object ids: P followed by upper-case letters and digits
PAGERDUTY_ID = re.compile(r"^P[A-Z0-9]{5,}$")
REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


# --------------------------------------------------------------------------- Slack


class SlackMember(FrozenModel):
    """One person in the war room: the name the plan uses (as in `war_room.incident_commanders`)
    and their Slack user id (Slack: profile, ⋮, Copy member ID)."""

    name: str = Field(min_length=1)
    slack_user_id: str

    @field_validator("slack_user_id")
    @classmethod
    def _user_id(cls, v: str) -> str:
        if not SLACK_USER_ID.match(v):
            raise ValueError(f"'{v}' is not a Slack user id like U024BE7LH")
        return v


class SlackWarRoomSettings(FrozenModel):
    channel: str = Field(default="spark-warroom-v140", description="channel name, with or without #")
    private: bool = Field(default=False, description="create a private channel (groups:write)")
    members: tuple[SlackMember, ...] = ()
    archive_at_close: bool = True
    bot_token_env: str = Field(default="SLACK_BOT_TOKEN", min_length=1)
    signing_secret_env: str = Field(default="SLACK_SIGNING_SECRET", min_length=1)
    api_url: HttpUrlText = Field(default="https://slack.com/api/", description="Slack Web API base URL")

    @field_validator("channel")
    @classmethod
    def _channel(cls, v: str) -> str:
        name = v.removeprefix("#")
        if not CHANNEL_NAME.match(name):
            raise ValueError(
                f"'{v}' is not a Slack channel name (lower case letters, digits, - and _, at most 80)"
            )
        return name

    @model_validator(mode="after")
    def _unique(self) -> SlackWarRoomSettings:
        seen: dict[str, str] = {}
        for m in self.members:
            if m.slack_user_id in seen and seen[m.slack_user_id] != m.name:
                raise ValueError(f"{m.slack_user_id} is given to both {seen[m.slack_user_id]} and {m.name}")
            seen[m.slack_user_id] = m.name
        return self

    def person(self, slack_user_id: str) -> str | None:
        """The plan's name for a Slack user id, or None when they are not a member."""
        for m in self.members:
            if m.slack_user_id == slack_user_id:
                return m.name
        return None

    @property
    def member_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.slack_user_id for m in self.members))


# --------------------------------------------------------------------------- pager


class PagerDutySettings(FrozenModel):
    """Yellow: each service's urgency high and acknowledgement timeout `ack_timeout_s`; green: the
    settings read before yellow, put back as they were."""

    kind: Literal["pagerduty"] = "pagerduty"
    service_ids: tuple[str, ...] = Field(min_length=1)
    ack_timeout_s: int = Field(default=300, ge=60, description="acknowledgement timeout in yellow")
    token_env: str = Field(default="PAGERDUTY_TOKEN", min_length=1)
    routing_key_env: str | None = Field(
        default="PAGERDUTY_ROUTING_KEY", description="Events API v2 integration key for change events"
    )
    api_url: HttpUrlText = "https://api.pagerduty.com"
    events_url: HttpUrlText = "https://events.pagerduty.com"

    @field_validator("service_ids")
    @classmethod
    def _ids(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for sid in v:
            if not PAGERDUTY_ID.match(sid):
                raise ValueError(f"'{sid}' is not a PagerDuty service id like PIJ90N7")
        return tuple(dict.fromkeys(v))



class WebhookPagerSettings(FrozenModel):
    """Any other pager, through a bridge that answers runofshow's JSON (see the README)."""

    kind: Literal["webhook"] = "webhook"
    url: HttpUrlText
    token_env: str | None = Field(default=None, description="sent as Authorization: Bearer")
    ack_timeout_s: int = Field(default=300, ge=60)



#: the service settings yellow changes, and green puts back
PAGER_FIELDS = ("incident_urgency_rule", "acknowledgement_timeout", "scheduled_actions")


def yellow_settings(ack_timeout_s: int) -> dict[str, Any]:
    return {"incident_urgency_rule": {"type": "constant", "urgency": "high"},
            "acknowledgement_timeout": int(ack_timeout_s)}


def pager_fields(service: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of one service that yellow changes, as read (JSON-ready copies)."""
    return {k: copy.deepcopy(service[k]) for k in PAGER_FIELDS if k in service}


PagerSettings = Annotated[PagerDutySettings | WebhookPagerSettings, Field(discriminator="kind")]


# --------------------------------------------------------------------------- GitHub deployments


class DeploymentSettings(FrozenModel):
    repo: str = Field(description="OWNER/NAME")
    environment: str = Field(default="production", min_length=1)
    ref: str | None = Field(default=None, description="the ref deployed; default: the release version")
    production: bool = True

    @field_validator("repo")
    @classmethod
    def _repo(cls, v: str) -> str:
        if not REPO.match(v):
            raise ValueError(f"'{v}' is not OWNER/NAME")
        return v


# --------------------------------------------------------------------------- all of it


class CommunicationsSettings(FrozenModel):
    """Each part is off while it is absent (None)."""

    slack: SlackWarRoomSettings | None = None
    pager: PagerSettings | None = None
    deployments: DeploymentSettings | None = None

    @property
    def any_on(self) -> bool:
        return any(x is not None for x in (self.slack, self.pager, self.deployments))


__all__ = [
    "CommunicationsSettings", "DeploymentSettings", "PagerDutySettings", "PagerSettings", "SlackMember",
    "SlackWarRoomSettings", "WebhookPagerSettings", "pager_fields", "yellow_settings",
]
