"""The ritual's communications as use cases over the ports, ready for the runner's steps:

    T-20       open_war_room     channel created or joined, members invited, status pinned with the
                                 Proceed / Hold / Rollback buttons; pager settings read, then yellow,
                                 and a change event
    T0         deployment_started previous deployments inactive, a new one `in_progress`
    as it runs update_status     the pinned status edited in place; post_minute: a thread reply
    T+90       promoted          deployment `success`
    close-out  close_out         deployment `success` (or `failure` after a rollback), pager green
                                 (exactly the settings read at T-20), the one-liner, channel archived

Each part is optional (a port that is None is skipped) and fails soft: a `NotifierError` (or any
`AdapterError`) becomes a failure in the result (`notify_failed` for the ledger) and the next part
goes on. Every result's `details` holds what a later step needs (channel id, status message,
pager snapshot, deployment id); the runner keeps them in the ledger, so a resumed run, or a
close-out after a rollback, restores from the ledger, not from memory. Wired into a run by
`runofshow.app.steps.communications_run` (see README, "Communications").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runofshow.domain.plan import Plan
from runofshow.errors import AdapterError
from runofshow.ports import DeploymentStatus, PagerMode, PagerSnapshot, WarRoomChannel

ACTION_PREFIX = "runofshow_"  # action_id of the decision buttons: runofshow_proceed, ...
IN_PROGRESS = "🟡 Deployment in progress"


@dataclass(frozen=True)
class CommsPorts:
    channel: WarRoomChannel | None = None
    pager: PagerMode | None = None
    deployments: DeploymentStatus | None = None


@dataclass
class CommsResult:
    """What one step's communications did: `details` for the ledger, `failures` as notify_failed
    payloads ({channel, event, error})."""

    details: dict[str, Any] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)

    def attempt(self, channel: str, event: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except AdapterError as err:
            self.failures.append({"channel": channel, "event": event, "error": str(err)})
            return None


@dataclass(frozen=True)
class StatusView:
    """What the pinned status message shows."""

    release: str
    version: str
    stage: int | None  # 1-based; None before T0
    stages: int
    weight: float | None
    t_label: str  # "T-20", "T+35"
    gates: Mapping[str, bool | None] = field(default_factory=dict)  # passing, failing, no data
    last_decision: str = ""
    state: str = IN_PROGRESS


def decision_buttons(run_id: str) -> dict[str, Any]:
    """The Block Kit `actions` block: Proceed, Hold, Rollback (whose reason modal is its confirmation)."""

    def button(action: str, label: str, style: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "button", "action_id": ACTION_PREFIX + action,
            "text": {"type": "plain_text", "text": label},
            "value": json.dumps({"run_id": run_id, "action": action}, separators=(",", ":")),
        }
        if style:
            out["style"] = style
        return out

    # one confirmation, not two: the click opens the reason modal ("Roll back?", a required reason,
    # Roll back / Cancel; web/slack_routes.py), so the button carries no `confirm` dialog of its own
    rollback = button("rollback", "Rollback", "danger")
    return {"type": "actions", "block_id": "runofshow_decision",
            "elements": [button("proceed", "Proceed", "primary"), button("hold", "Hold"), rollback]}


def status_message(
    view: StatusView, run_id: str, *, buttons: bool = True,
) -> tuple[str, list[dict[str, Any]]]:
    """The status text (what notifications show) and its blocks."""
    where = "before T0" if view.stage is None else f"stage {view.stage}/{view.stages}"
    weight = "" if view.weight is None else f" · {view.weight:g} %"
    text = f"{view.state} · {view.release} {view.version} · {view.t_label} · {where}{weight}"
    marks = {True: "✅", False: "❌", None: "⏳"}
    passing = sum(1 for v in view.gates.values() if v is True)
    gate_line = " ".join(f"{marks[v]} {name}" for name, v in view.gates.items())
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"Gates {passing}/{len(view.gates)}: {gate_line}" if view.gates
                                     else "Gates: not judged yet"}},
    ]
    if view.last_decision:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": view.last_decision}]})
    if buttons:
        blocks.append(decision_buttons(run_id))
    return text, blocks


class Communications:
    """The plan's communications over `ports`; every method returns a `CommsResult`."""

    def __init__(self, plan: Plan, ports: CommsPorts) -> None:
        self.plan = plan
        self.ports = ports
        self.slack = plan.communications.slack
        self.deploy = plan.communications.deployments

    def open_war_room(self, run_id: str, view: StatusView, at: datetime) -> CommsResult:
        out = CommsResult()
        channel = self.ports.channel
        if channel is not None and self.slack is not None:
            slack = self.slack
            cid = out.attempt("war_room_channel", "open", channel.open, slack.channel, slack.member_ids)
            if cid:
                out.details["channel_id"] = cid
                text, blocks = status_message(view, run_id)
                ts = out.attempt("war_room_channel", "status", channel.post_status, cid, text, blocks)
                if ts:
                    out.details["status_message"] = ts
        pager = self.ports.pager
        if pager is not None:
            before = out.attempt("pager", "read", pager.read_settings)
            if before is not None:  # never yellow without knowing what green was
                out.details["pager_before"] = _plain(before)
                after = out.attempt("pager", "yellow", pager.set_yellow)
                if after is not None:
                    out.details["pager_yellow"] = _plain(after)
                release = self.plan.release
                text = f"{release.name} {release.version}: canary war room open, pager yellow"
                out.attempt("pager", "change_event", pager.send_change_event, text, at)
        return out

    def deployment_started(self) -> CommsResult:
        out = CommsResult()
        deployments = self.ports.deployments
        if deployments is None or self.deploy is None:
            return out
        env, ref = self.deploy.environment, self.deploy.ref or self.plan.release.version
        did = out.attempt("deployments", "start", deployments.start, env, ref,
                          f"{self.plan.release.name} {self.plan.release.version} canary")
        if did is not None:
            out.details["deployment_id"] = did
            out.attempt("deployments", "in_progress", deployments.set_state, did, "in_progress", IN_PROGRESS)
            marked = out.attempt("deployments", "inactive", deployments.mark_previous_inactive, env, did)
            out.details["marked_inactive"] = list(marked or ())
        return out

    def update_status(self, opened: Mapping[str, Any], run_id: str, view: StatusView) -> CommsResult:
        out = CommsResult()
        cid, ts = opened.get("channel_id"), opened.get("status_message")
        if self.ports.channel is not None and cid and ts:
            text, blocks = status_message(view, run_id)
            out.attempt("war_room_channel", "status", self.ports.channel.update_status, cid, ts, text, blocks)
        return out

    def post_minute(self, opened: Mapping[str, Any], line: str) -> CommsResult:
        out = CommsResult()
        cid, ts = opened.get("channel_id"), opened.get("status_message")
        if self.ports.channel is not None and cid and ts:
            out.attempt("war_room_channel", "minute", self.ports.channel.post_minute, cid, ts, line)
        return out

    def promoted(self, deployment_id: int | None) -> CommsResult:
        out = CommsResult()
        if self.ports.deployments is not None and deployment_id is not None:
            out.attempt("deployments", "success", self.ports.deployments.set_state, deployment_id, "success",
                        "promoted to 100 %")
        return out

    def close_out(
        self, opened: Mapping[str, Any], *, deployment_id: int | None, rolled_back: bool, one_liner: str,
        view: StatusView | None = None, run_id: str = "",
    ) -> CommsResult:
        """Everything back as it was, whatever happened before (a rollback too)."""
        out = CommsResult()
        if self.ports.deployments is not None and deployment_id is not None:
            state, why = ("failure", "rolled back") if rolled_back else ("success", "first night complete")
            out.attempt("deployments", state, self.ports.deployments.set_state, deployment_id, state, why)
        before = opened.get("pager_before")
        if self.ports.pager is not None and before is not None:
            restored = out.attempt("pager", "green", self.ports.pager.restore, PagerSnapshot(before))
            if restored is not None:
                out.details["pager_restored"] = _plain(restored)
                out.details["pager_identical"] = _plain(restored) == before
        channel, cid = self.ports.channel, opened.get("channel_id")
        if channel is not None and cid:
            ts = opened.get("status_message")
            if view is not None and ts:
                text, blocks = status_message(view, run_id, buttons=False)  # no decisions after the end
                out.attempt("war_room_channel", "status", channel.update_status, cid, ts, text, blocks)
            archive = self.slack.archive_at_close if self.slack is not None else False
            out.attempt("war_room_channel", "close", lambda: channel.close(cid, one_liner, archive=archive))
            out.details["archived"] = archive
        return out


def _plain(snapshot: PagerSnapshot) -> dict[str, Any]:
    """The snapshot as JSON-ready data (what the ledger keeps)."""
    plain: dict[str, Any] = json.loads(json.dumps({k: dict(v) for k, v in snapshot.services.items()}))
    return plain


__all__ = ["IN_PROGRESS", "CommsPorts", "CommsResult", "Communications", "StatusView", "decision_buttons",
           "status_message"]
