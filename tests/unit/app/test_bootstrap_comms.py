"""The composition root's communications part: the plan's `communications` + the secrets the
settings module reads -> the real adapters (nothing is contacted while building)."""

from __future__ import annotations

import pytest

from runofshow.adapters.github_deployments import GitHubDeployments
from runofshow.adapters.pager_webhook import WebhookPager
from runofshow.adapters.pagerduty import PagerDutyPager
from runofshow.adapters.slack_warroom import SlackWarRoomChannel
from runofshow.app import settings
from runofshow.app.bootstrap.comms import (
    build_comms_ports,
    build_deployments,
    build_pager,
    build_war_room_channel,
)
from runofshow.domain.communications import (
    CommunicationsSettings,
    DeploymentSettings,
    PagerDutySettings,
    SlackWarRoomSettings,
    WebhookPagerSettings,
)
from runofshow.domain.plan import Plan
from runofshow.errors import InputError


def plan(**parts: object) -> Plan:
    return Plan(communications=CommunicationsSettings(**parts))  # type: ignore[arg-type]


def test_nothing_is_built_for_a_plan_without_communications() -> None:
    ports = build_comms_ports(Plan(), {}, {})
    assert (ports.channel, ports.pager, ports.deployments) == (None, None, None)


def test_each_part_is_built_from_the_plan_and_its_secret() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "PAGERDUTY_TOKEN": "pd", "GITHUB_TOKEN": "gh",
           "GITHUB_API_URL": "https://github.example.com/api/v3"}
    p = plan(slack=SlackWarRoomSettings(), pager=PagerDutySettings(service_ids=("PIJ90N7",)),
             deployments=DeploymentSettings(repo="acme/spark-trading"))
    assert isinstance(build_war_room_channel(p, env), SlackWarRoomChannel)
    assert isinstance(build_pager(p, env), PagerDutyPager)
    deployments = build_deployments(p, env)
    assert isinstance(deployments, GitHubDeployments) and deployments.repo == "acme/spark-trading"
    webhook = plan(pager=WebhookPagerSettings(url="https://pager-bridge.example/hook", token_env="BRIDGE"))
    assert isinstance(build_pager(webhook, {"BRIDGE": "t"}), WebhookPager)


def test_an_override_replaces_the_part_of_the_same_name() -> None:
    fake = object()
    overrides = {"pager": fake}
    ports = build_comms_ports(plan(pager=PagerDutySettings(service_ids=("PIJ90N7",))), {}, overrides)
    assert ports.pager is fake and overrides == {}


@pytest.mark.parametrize(("part", "build", "missing"), [
    ({"slack": SlackWarRoomSettings()}, build_war_room_channel, "SLACK_BOT_TOKEN"),
    ({"pager": PagerDutySettings(service_ids=("PIJ90N7",))}, build_pager, "PAGERDUTY_TOKEN"),
])
def test_a_missing_secret_is_bad_input_naming_the_variable(part: dict, build: object, missing: str) -> None:
    with pytest.raises(InputError, match=missing):
        build(plan(**part), {})  # type: ignore[operator]


def test_the_routing_key_is_optional() -> None:
    pd = PagerDutySettings(service_ids=("PIJ90N7",))
    assert settings.pagerduty_routing_key(pd, {}) is None
    assert settings.pagerduty_routing_key(pd, {"PAGERDUTY_ROUTING_KEY": "R0"}) == "R0"
    assert settings.pager_token(WebhookPagerSettings(url="https://p.example/h"), {}) is None
