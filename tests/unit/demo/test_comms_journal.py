"""The demo's communications sink: every call to the in-memory Slack, pager and GitHub journaled,
one JSON line each, and the sequence a person looks for read back from it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runofshow.app.bootstrap import demo_comms_ports
from runofshow.demo.comms import Journal, demo_communications, demo_overrides, journaled, milestones
from runofshow.domain.plan import Plan
from runofshow.errors import NotifierError
from runofshow.ports import DeploymentStatus, PagerMode, WarRoomChannel


def plan() -> Plan:
    return Plan(communications=demo_communications("ic-on-call"))


def test_the_demo_plan_turns_every_part_on_with_the_ic_in_the_war_room() -> None:
    c = plan().communications
    assert c.slack is not None and c.slack.person(c.slack.members[0].slack_user_id) == "ic-on-call"
    assert c.pager is not None and c.deployments is not None


def test_every_call_is_journaled_in_order_and_read_back_as_the_sequence(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "communications.jsonl")
    ports = demo_overrides(plan(), journal)
    chat, pager, deploy = ports["war_room_channel"], ports["pager"], ports["deployments"]
    assert isinstance(chat, WarRoomChannel) and isinstance(pager, PagerMode) and isinstance(deploy, DeploymentStatus)
    cid = chat.open("spark-warroom-v140", ["U0DEMOIC1"])
    ts = chat.post_status(cid, "🟡 Deployment in progress", [{"type": "section"}])
    before = pager.read_settings()
    pager.set_yellow()
    did = deploy.start("production", "v1.4.0", "canary")
    deploy.set_state(did, "in_progress", "🟡 Deployment in progress")
    chat.update_status(cid, ts, "stage 1")
    deploy.set_state(did, "success", "promoted")
    assert pager.restore(before) == before
    chat.close(cid, "✅ v1.4.0 stable (24h)", archive=True)
    lines = [json.loads(ln) for ln in (tmp_path / "communications.jsonl").read_text().splitlines()]
    assert lines == journal.lines
    assert lines[1]["args"][2] == "[1 blocks]" and lines[2]["result"] == {"services": dict(before.services)}
    assert milestones(lines) == [
        "slack: #spark-warroom-v140 opened", "slack: status pinned", "pager: yellow",
        f"github: deployment {did} to production", f"github: deployment {did} in_progress",
        f"github: deployment {did} success", "pager: green (settings restored)",
        "slack: one-liner posted; channel archived",
    ]


def test_a_failed_call_is_journaled_with_its_error_and_raised() -> None:
    journal = Journal(None)
    fake = demo_comms_ports(plan())["deployments"]
    fake.fail_next = 1  # an outage, as the fakes script it
    deploy = journaled({"deployments": fake}, journal)["deployments"]
    with pytest.raises(NotifierError):
        deploy.start("production", "v1.4.0", "canary")
    [line] = journal.lines
    assert line["call"] == "start" and "unavailable" in line["error"]
    assert milestones(journal.lines) == []
    assert datetime.fromisoformat(line["at"]).tzinfo == UTC
