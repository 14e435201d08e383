"""The composition root's communications part (`build_world` calls it): the plan's
`communications` section + secrets read through `runofshow.app.settings` -> the adapters, wired into
the run (`runofshow.app.steps.communications_run`).

    slack         SlackWarRoomChannel with the bot token (communications.slack.bot_token_env)
    pager         PagerDutyPager (token_env, routing_key_env for change events) or WebhookPager
    deployments   GitHubDeployments on communications.deployments.repo (GITHUB_TOKEN, GITHUB_API_URL)

A part that is absent from the plan is not built; tests pass fakes (`war_room_channel`, `pager`,
`deployments` overrides of `build_world`). Only `runofshow.app.bootstrap` imports adapters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runofshow.app import settings
from runofshow.app.run.steps import StepHandler
from runofshow.app.run.world import World
from runofshow.app.steps.communications import CommsPorts
from runofshow.app.steps.communications_run import RunCommunications
from runofshow.domain.communications import PagerDutySettings, SlackWarRoomSettings
from runofshow.domain.plan import Plan
from runofshow.domain.timeline import StepKind
from runofshow.errors import InputError
from runofshow.ports import (
    ChatInteractions,
    DeploymentStatus,
    LedgerEvent,
    PagerMode,
    SeenRequests,
    WarRoomChannel,
)

#: wall seconds queued war-room edits may take when the world closes
COMMS_CLOSE_S = 2.0
#: the build_world keyword overrides this module takes (fakes in tests and the demo)
OVERRIDES = ("war_room_channel", "pager", "deployments")


def build_war_room_channel(plan: Plan, environ: Mapping[str, str]) -> WarRoomChannel | None:
    slack = plan.communications.slack
    if slack is None:
        return None
    from runofshow.adapters.slack_warroom import SlackWarRoomChannel

    return SlackWarRoomChannel(settings.slack_bot_token(slack, environ), base_url=slack.api_url,
                               private=slack.private)


def build_pager(plan: Plan, environ: Mapping[str, str]) -> PagerMode | None:
    pager = plan.communications.pager
    if pager is None:
        return None
    token = settings.pager_token(pager, environ)
    if isinstance(pager, PagerDutySettings):
        from runofshow.adapters.pagerduty import PagerDutyPager

        return PagerDutyPager(pager.service_ids, token=token or "",
                              routing_key=settings.pagerduty_routing_key(pager, environ),
                              ack_timeout_s=pager.ack_timeout_s, api_url=pager.api_url,
                              events_url=pager.events_url, token_env=pager.token_env)
    from runofshow.adapters.pager_webhook import WebhookPager

    return WebhookPager(pager.url, token=token, ack_timeout_s=pager.ack_timeout_s)


def build_deployments(plan: Plan, environ: Mapping[str, str]) -> DeploymentStatus | None:
    deploy = plan.communications.deployments
    if deploy is None:
        return None
    from runofshow.adapters.github import GitHubPullRequestHost
    from runofshow.adapters.github_deployments import GitHubDeployments

    github = settings.github_settings(environ)
    try:
        host = GitHubPullRequestHost(deploy.repo, token=github.token, base_url=github.api_url,
                                     timeout_s=github.timeout_s, max_attempts=github.max_attempts,
                                     max_wait_s=github.max_wait_s)
    except ValueError as ex:
        raise InputError(f"communications.deployments: {ex}") from None
    return GitHubDeployments(host, production=deploy.production)


def build_slack_endpoint(
    plan: Plan | None, environ: Mapping[str, str], seen: SeenRequests | None = None,
) -> tuple[str, SeenRequests, ChatInteractions] | None:
    """What `runofshow serve` answers Slack's button clicks with: the signing secret, the requests
    already taken (`seen`: the ledger's database, shared by every replica; else this process's
    memory), and the bot's modal and ephemeral replies (settings from `--plan`'s
    communications.slack, else the defaults: SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN). None when no
    signing secret is set."""
    slack = (plan.communications.slack if plan is not None else None) or SlackWarRoomSettings()
    secret = settings.slack_signing_secret(slack, environ)
    if secret is None:
        return None
    from runofshow.adapters.fakes_comms import InMemorySeenRequests
    from runofshow.adapters.slack_interactions import SlackInteractions

    token = settings.environment(environ).get(slack.bot_token_env, "").strip()
    return secret, seen or InMemorySeenRequests(), SlackInteractions(token, base_url=slack.api_url)


def demo_comms_ports(plan: Plan) -> dict[str, Any]:
    """The demo's communications, in memory (`build_world` overrides): a chat workspace, a pager and
    deployment records that pass the same contract tests as the Slack, PagerDuty and GitHub adapters."""
    from runofshow.adapters.fakes_comms import RecordingDeployments, RecordingPager, RecordingWarRoomChannel

    pager = plan.communications.pager
    ids = pager.service_ids if isinstance(pager, PagerDutySettings) else ()
    return {"war_room_channel": RecordingWarRoomChannel(),
            "pager": RecordingPager(ids, ack_timeout_s=pager.ack_timeout_s) if pager is not None else None,
            "deployments": RecordingDeployments()}


def build_comms_ports(plan: Plan, environ: Mapping[str, str], overrides: dict[str, Any]) -> CommsPorts:
    """The plan's parts, each replaced by an override of the same name when one is given."""

    def part(name: str, build: Any) -> Any:
        return overrides.pop(name) if name in overrides else build(plan, environ)

    return CommsPorts(channel=part("war_room_channel", build_war_room_channel),
                      pager=part("pager", build_pager), deployments=part("deployments", build_deployments))


def wire_communications(
    plan: Plan, environ: Mapping[str, str], world: World, handlers: dict[StepKind, StepHandler],
    overrides: dict[str, Any],
) -> RunCommunications | None:
    """Build the parts, put the T-20 and close-out handlers in `handlers` (around what is there) and
    the live hook in overrides' `on_event` (after the caller's own). None when nothing is on."""
    ports = build_comms_ports(plan, environ, overrides)
    if ports.channel is None and ports.pager is None and ports.deployments is None:
        return None
    comms = RunCommunications(plan, ports, on_failure=world._notify_failed, record_later=world._record_later)

    def close() -> None:  # what the queue still did (a T0 deployment's id) goes in, if the run may go on
        comms.close(COMMS_CLOSE_S)
        runner = world.runner
        if runner is not None and not runner.state.ended:
            runner.recorder.record_failures()

    world.on_close(close)
    handlers[StepKind.WAR_ROOM] = comms.war_room_handler(handlers[StepKind.WAR_ROOM])

    def state() -> Any:
        assert world.runner is not None, "close-out runs inside a run"
        return world.runner.state

    handlers[StepKind.CLOSE_OUT] = comms.close_out_handler(handlers.get(StepKind.CLOSE_OUT), state)
    outer = overrides.get("on_event")

    def on_event(event: LedgerEvent, st: Any) -> None:
        try:
            if outer is not None:
                outer(event, st)
        finally:  # the caller's view failing must not silence the war room
            comms.on_event(event, st)

    overrides["on_event"] = on_event
    world.comms = comms
    return comms


__all__ = ["OVERRIDES", "build_comms_ports", "build_deployments", "build_pager", "build_slack_endpoint",
           "build_war_room_channel", "demo_comms_ports", "wire_communications"]
