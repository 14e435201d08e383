"""The ritual's communications over the in-memory fakes: T-20 war room and pager yellow, T0
deployment, status edits and minutes, close-out back to green (after a promotion, after a
rollback, from a resumed process), and every part failing soft."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from runofshow.adapters.fakes_comms import (
    ChatWorkspace,
    DeploymentRecords,
    PagerServices,
    RecordingDeployments,
    RecordingPager,
    RecordingWarRoomChannel,
)
from runofshow.app.steps.communications import (
    IN_PROGRESS,
    CommsPorts,
    Communications,
    StatusView,
    status_message,
)
from runofshow.domain.plan import Plan

AT = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)
RUN = "v1.4.0-20261206T212000Z-1a2b"
PLAN = Plan.model_validate({
    "war_room": {"incident_commanders": ["alice"]},
    "communications": {
        "slack": {"channel": "spark-warroom-v140", "members": [
            {"name": "alice", "slack_user_id": "U024BE7LH"}, {"name": "bob", "slack_user_id": "U0G9QF9C6"}]},
        "pager": {"kind": "pagerduty", "service_ids": ["PIJ90N7"]},
        "deployments": {"repo": "acme/spark-trading"},
    },
})
BEFORE_T0 = StatusView("spark-trading", "v1.4.0", None, 5, None, "T-20")
STAGE_2 = StatusView("spark-trading", "v1.4.0", 2, 5, 5, "T+17",
                     {"http_p95_ms": True, "http_5xx_pct": True, "ws_lag_s": None}, "IC alice: proceed")


class World:
    """The outside world the fakes keep (shared by every process that builds fakes on it)."""

    def __init__(self) -> None:
        self.chat, self.pager, self.deploys = ChatWorkspace(), PagerServices(), DeploymentRecords()
        self.pager.add("PIJ90N7", urgency="low", ack_timeout_s=1800)

    def ports(self) -> tuple[CommsPorts, RecordingWarRoomChannel, RecordingPager, RecordingDeployments]:
        ch = RecordingWarRoomChannel(self.chat)
        pg = RecordingPager(("PIJ90N7",), state=self.pager)
        dp = RecordingDeployments(self.deploys)
        return CommsPorts(ch, pg, dp), ch, pg, dp


def test_the_whole_ritual_and_back_to_green() -> None:
    world = World()
    green = json.loads(json.dumps(world.pager.services))
    ports, *_ = world.ports()
    comms = Communications(PLAN, ports)
    old = world.deploys.create("v1.3.2", "production", "v1.3.2")
    old["statuses"].append({"state": "success", "description": "live"})

    opened = comms.open_war_room(RUN, BEFORE_T0, AT)
    assert opened.failures == []
    channel = world.chat.channels[opened.details["channel_id"]]
    assert channel.name == "spark-warroom-v140" and channel.members[1:] == ["U024BE7LH", "U0G9QF9C6"]
    status = channel.messages[opened.details["status_message"]]
    assert channel.pinned == [status.ts] and status.text.startswith(IN_PROGRESS)
    assert [b["action_id"] for b in status.blocks[-1]["elements"]] == [
        "runofshow_proceed", "runofshow_hold", "runofshow_rollback"]
    assert world.pager.services["PIJ90N7"]["acknowledgement_timeout"] == 300
    assert opened.details["pager_before"]["PIJ90N7"]["acknowledgement_timeout"] == 1800
    assert "pager yellow" in world.pager.change_events[0]["summary"]

    started = comms.deployment_started()
    did = started.details["deployment_id"]
    assert started.failures == [] and started.details["marked_inactive"] == [old["id"]]
    assert world.deploys.latest(did) == "in_progress" and world.deploys.latest(old["id"]) == "inactive"
    assert world.deploys.deployments[did]["ref"] == "v1.4.0"

    assert comms.update_status(opened.details, RUN, STAGE_2).failures == []
    assert "stage 2/5 · 5 %" in status.text and status.edits == 1
    comms.post_minute(opened.details, ":15 | Stage 1 complete | 6/6 metrics PASS | IC: Proceed to Stage 2")
    assert channel.replies(status.ts) == [":15 | Stage 1 complete | 6/6 metrics PASS | IC: Proceed to Stage 2"]
    comms.promoted(did)

    ledger_copy = json.loads(json.dumps(opened.details))  # what the ledger gives back
    closed = comms.close_out(ledger_copy, deployment_id=did, rolled_back=False, one_liner="v1.4.0 promoted",
                             view=STAGE_2, run_id=RUN)
    assert closed.failures == []
    assert [s["state"] for s in world.deploys.deployments[did]["statuses"]] == ["in_progress", "success", "success"]
    assert world.pager.services == green and closed.details["pager_identical"] is True
    assert channel.archived and list(channel.messages.values())[-1].text == "v1.4.0 promoted"
    assert status.blocks[-1]["type"] != "actions"  # no buttons once it is over


def test_close_out_after_a_rollback_from_a_resumed_process() -> None:
    world = World()
    green = json.loads(json.dumps(world.pager.services))
    first, *_ = world.ports()
    opened = Communications(PLAN, first).open_war_room(RUN, BEFORE_T0, AT)
    did = Communications(PLAN, first).deployment_started().details["deployment_id"]
    details = json.loads(json.dumps(opened.details))
    resumed, *_ = world.ports()  # the first process died; a new one reads the ledger
    closed = Communications(PLAN, resumed).close_out(details, deployment_id=did, rolled_back=True,
                                                    one_liner="v1.4.0 rolled back at stage 2")
    assert closed.failures == [] and world.pager.services == green
    assert world.deploys.latest(did) == "failure"


def test_parts_fail_soft_and_the_rest_goes_on() -> None:
    world = World()
    ports, channel, pager, deployments = world.ports()
    channel.fail_next = 1
    deployments.fail_next = 1
    comms = Communications(PLAN, ports)
    opened = comms.open_war_room(RUN, BEFORE_T0, AT)
    assert [(f["channel"], f["event"]) for f in opened.failures] == [("war_room_channel", "open")]
    assert "unavailable" in opened.failures[0]["error"]
    assert world.pager.services["PIJ90N7"]["acknowledgement_timeout"] == 300  # the pager still went yellow
    started = comms.deployment_started()
    assert [f["event"] for f in started.failures] == ["start"] and "deployment_id" not in started.details
    closed = comms.close_out(opened.details, deployment_id=None, rolled_back=False, one_liner="done")
    assert closed.failures == [] and closed.details["pager_identical"] is True


def test_never_yellow_without_knowing_green() -> None:
    world = World()
    ports, _, pager, _ = world.ports()
    pager.fail_next = 1  # the read fails
    opened = Communications(PLAN, ports).open_war_room(RUN, BEFORE_T0, AT)
    assert [f["event"] for f in opened.failures] == ["read"]
    assert world.pager.services["PIJ90N7"]["acknowledgement_timeout"] == 1800
    assert "pager_before" not in opened.details and world.pager.change_events == []


@pytest.mark.parametrize("plan", [Plan(), Plan.model_validate({"communications": {"slack": None}})])
def test_nothing_configured_nothing_done(plan: Plan) -> None:
    world = World()
    ports, *_ = world.ports()
    comms = Communications(plan, CommsPorts(ports.channel, None, None))
    assert comms.open_war_room(RUN, BEFORE_T0, AT).details == {}
    assert comms.deployment_started().details == {}
    assert world.chat.channels == {}


def test_status_message_text_and_gates() -> None:
    text, blocks = status_message(STAGE_2, RUN)
    assert text == f"{IN_PROGRESS} · spark-trading v1.4.0 · T+17 · stage 2/5 · 5 %"
    assert blocks[1]["text"]["text"] == "Gates 2/3: ✅ http_p95_ms ✅ http_5xx_pct ⏳ ws_lag_s"
    assert blocks[2]["elements"][0]["text"] == "IC alice: proceed"
    _, before = status_message(BEFORE_T0, RUN, buttons=False)
    assert before[1]["text"]["text"] == "Gates: not judged yet" and len(before) == 2
