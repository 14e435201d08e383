"""The ritual's communications wired into a whole run on fakes (bootstrap with the in-memory Slack,
pager and GitHub deployments; a fake clock): T-20 channel + pinned status + pager yellow, T0
deployment in progress, status edits and minutes as thread replies, T+90 success, close-out back to
green and the channel archived; after a rollback; resumed by another process from the ledger; and a
channel that fails all along never stops the run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from runofshow.adapters.fakes_comms import (
    ChatWorkspace,
    DeploymentRecords,
    PagerServices,
    RecordingDeployments,
    RecordingPager,
    RecordingWarRoomChannel,
)
from runofshow.adapters.memory import FakeClock, InMemoryLedger, InMemoryRouter, ScriptedMetrics
from runofshow.app.bootstrap import RunOptions, resume_run, start_run
from runofshow.app.run.events import EventKind, RunStatus
from runofshow.domain.communications import (
    CommunicationsSettings,
    DeploymentSettings,
    PagerDutySettings,
    SlackMember,
    SlackWarRoomSettings,
)
from runofshow.domain.plan import Plan
from runofshow.domain.tick import TrackSample
from tests.helpers import passing_t10_handlers

GOOD = {"http_p95_ms": 142, "http_5xx_pct": 0.05, "ws_lag_s": 8, "idempotency_conflict_pct": 0.1,
        "csp_violations": 3, "pgbouncer_pool_util_pct": 40}
SERVICES = ("PIJ90N7", "PQRS123")


def comms_plan() -> Plan:
    return Plan(communications=CommunicationsSettings(
        slack=SlackWarRoomSettings(channel="#spark-warroom-v140", members=(
            SlackMember(name="alice", slack_user_id="U024BE7LH"),
            SlackMember(name="bob", slack_user_id="U024BE7LJ"))),
        pager=PagerDutySettings(service_ids=SERVICES),
        deployments=DeploymentSettings(repo="acme/spark-trading")))


class Outside:
    """The outside world the fakes share: what a second process (a resume) sees too."""

    def __init__(self) -> None:
        self.chat, self.pager, self.deploys = ChatWorkspace(), PagerServices(), DeploymentRecords()
        self.deploys.create("v1.3.9", "production", "the previous release")["statuses"].append(
            {"state": "success", "description": "stable"})
        self.pager.add(SERVICES[0], urgency="low", ack_timeout_s=1800)
        self.pager.add(SERVICES[1], urgency="high", ack_timeout_s=None)
        self.before = {sid: dict(s) for sid, s in self.pager.services.items()}

    def ports(self) -> dict[str, Any]:  # fresh adapters on the same world: a new process
        return {"war_room_channel": RecordingWarRoomChannel(self.chat),
                "pager": RecordingPager(SERVICES, state=self.pager),
                "deployments": RecordingDeployments(self.deploys)}

    @property
    def channel(self) -> Any:
        return self.chat.by_name("spark-warroom-v140")

    def deployment(self) -> dict[str, Any]:
        return max(self.deploys.deployments.values(), key=lambda d: d["id"])

    def states(self, d: dict[str, Any]) -> list[str]:
        return [s["state"] for s in d["statuses"]]


def start(outside: Outside, script: list[Any], **kw: Any) -> tuple[Any, Any]:
    return start_run(comms_plan(), RunOptions(check_windows=False), environ={},
                     ledger=kw.pop("ledger", None) or InMemoryLedger(), clock=kw.pop("clock", None) or FakeClock(),
                     router=kw.pop("router", None) or InMemoryRouter(), metrics=ScriptedMetrics(script),
                     alerts=None, step_handlers=passing_t10_handlers(), **outside.ports(), **kw)


def events(runner: Any, kind: EventKind) -> list[dict[str, Any]]:
    return [dict(e.payload) for e in runner.ports.ledger.events(runner.state.run_id) if e.kind == kind.value]


def step_details(runner: Any, kind: str) -> dict[str, Any]:
    [done] = [e for e in events(runner, EventKind.STEP_COMPLETED) if e["kind"] == kind]
    return dict(done["details"]["communications"])


def good() -> TrackSample:
    return TrackSample(values=GOOD, requests=5000)


def test_a_promoted_run_opens_the_war_room_and_puts_everything_back_at_close_out() -> None:
    outside = Outside()
    world, runner = start(outside, [(good(), good())])
    with world:
        assert runner.run() is RunStatus.PROMOTED
    channel = outside.channel
    assert channel is not None and {"U024BE7LH", "U024BE7LJ"} <= set(channel.members)
    [status_ts] = channel.pinned
    status = channel.messages[status_ts]
    assert status.edits > 3 and status.text.startswith("🟢 Deployment complete · spark-trading v1.4.0")
    assert not any(b.get("type") == "actions" for b in status.blocks)  # no buttons after the end
    minutes = channel.replies(status_ts)
    assert any("Stage 1 (1%)" in m for m in minutes) and any("Canary complete" in m for m in minutes)
    assert channel.archived
    assert [m.text for m in channel.messages.values() if m.thread_ts is None][-1] == "✅ v1.4.0 stable (24h)"
    assert outside.pager.services == outside.before  # green: exactly the settings read at T-20
    assert outside.pager.change_events and "pager yellow" in outside.pager.change_events[0]["summary"]
    deployment = outside.deployment()
    assert deployment["ref"] == "v1.4.0"
    assert outside.states(deployment) == ["in_progress", "success", "success"]  # T0, T+90, close-out
    assert outside.states(outside.deploys.deployments[1_000_001])[-1] == "inactive"
    opened = step_details(runner, "war_room")
    assert opened["channel_id"] == channel.id and opened["status_message"] == status_ts
    assert opened["pager_yellow"][SERVICES[0]]["acknowledgement_timeout"] == 300
    assert opened["pager_before"][SERVICES[1]] == {
        k: outside.before[SERVICES[1]][k] for k in ("incident_urgency_rule", "acknowledgement_timeout")}
    [recorded] = events(runner, EventKind.COMMUNICATIONS)
    assert recorded["details"]["deployment_id"] == deployment["id"]
    closed = step_details(runner, "close_out")
    assert closed["pager_identical"] is True and closed["archived"] is True and not closed["failures"]
    assert not events(runner, EventKind.NOTIFY_FAILED)


def test_after_a_rollback_the_deployment_fails_and_the_pager_still_goes_green() -> None:
    bad = TrackSample(values={**GOOD, "http_5xx_pct": 6.0}, requests=5000)
    outside = Outside()
    world, runner = start(outside, [(good(), good())] * 20 + [(good(), bad)])
    with world:
        assert runner.run() is RunStatus.ROLLED_BACK
    assert outside.states(outside.deployment()) == ["in_progress", "failure"]
    assert outside.pager.services == outside.before
    channel = outside.channel
    assert channel is not None and channel.archived
    status = channel.messages[channel.pinned[0]]
    assert status.text.startswith("🔴 Rolled back")
    assert any("ROLLBACK complete" in m for m in channel.replies(status.ts))
    assert [m.text for m in channel.messages.values() if m.thread_ts is None][-1].startswith(
        "🚨 v1.4.0 canary ROLLED BACK")
    assert step_details(runner, "close_out")["pager_identical"] is True


def test_a_resumed_run_closes_out_from_what_the_ledger_kept() -> None:
    outside, clock, ledger, router = Outside(), FakeClock(), InMemoryLedger(), InMemoryRouter()
    world, runner = start(outside, [(good(), good())], clock=clock, ledger=ledger, router=router,
                          on_interrupt=lambda state: "pause")
    clock.call_at(runner.state.t0_at + timedelta(minutes=30, seconds=30), runner.interrupt)  # Ctrl-C
    assert runner.run() is RunStatus.PAUSED
    world.close()  # what the queue did meanwhile (the T0 deployment's id) is recorded on the way out
    [recorded] = [e for e in ledger.events(runner.state.run_id) if e.kind == "communications"]
    assert recorded.payload["details"]["deployment_id"] == outside.deployment()["id"]
    assert outside.pager.services != outside.before  # yellow while paused
    _, resumed = resume_run(runner.state.run_id, RunOptions(check_windows=False), environ={}, ledger=ledger,
                            clock=clock, router=router, metrics=ScriptedMetrics([(good(), good())]),
                            alerts=None, step_handlers=passing_t10_handlers(), **outside.ports())
    assert resumed.run() is RunStatus.PROMOTED
    assert len(outside.chat.channels) == 1 and outside.channel is not None and outside.channel.archived
    assert any(m.startswith(":30 | Resumed (paused)") for m in outside.channel.replies(outside.channel.pinned[0]))
    assert outside.pager.services == outside.before  # the snapshot came from the ledger
    assert outside.states(outside.deployment()) == ["in_progress", "success", "success"]
    assert len(outside.deploys.deployments) == 2  # not started twice


def test_a_war_room_that_always_fails_is_recorded_and_never_stops_the_run() -> None:
    outside = Outside()
    ports = outside.ports()
    ports["war_room_channel"].fail_next = 10_000
    ports["deployments"].fail_next = 10_000
    world, runner = start_run(comms_plan(), RunOptions(check_windows=False), environ={}, ledger=InMemoryLedger(),
                              clock=FakeClock(), router=InMemoryRouter(),
                              metrics=ScriptedMetrics([(good(), good())]), alerts=None,
                              step_handlers=passing_t10_handlers(), **ports)
    with world:
        assert runner.run() is RunStatus.PROMOTED
    failed = {(f["channel"], f["event"]) for f in events(runner, EventKind.NOTIFY_FAILED)}
    assert ("war_room_channel", "open") in failed and ("deployments", "start") in failed
    assert outside.pager.services == outside.before  # the pager still went yellow and back
    assert not events(runner, EventKind.COMMUNICATIONS)


def test_a_plan_without_communications_builds_none() -> None:
    world, runner = start_run(Plan(), RunOptions(check_windows=False), environ={}, ledger=InMemoryLedger(),
                              clock=FakeClock(), router=InMemoryRouter(),
                              metrics=ScriptedMetrics([(good(), good())]), alerts=None,
                              step_handlers=passing_t10_handlers())
    with world:
        assert world.comms is None and runner.run() is RunStatus.PROMOTED
    assert "communications" not in step_details_or_empty(runner)


def step_details_or_empty(runner: Any) -> dict[str, Any]:
    [done] = [e for e in events(runner, EventKind.STEP_COMPLETED) if e["kind"] == "war_room"]
    return dict(done["details"])
