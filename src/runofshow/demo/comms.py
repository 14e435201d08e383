"""The demo's communications: the plan's Slack war room, PagerDuty yellow mode and GitHub deployment,
on the in-memory workspace, pager and deployment records (`bootstrap.demo_comms_ports`: the
fakes that pass the same contract tests as the real adapters), every call journaled, one JSON
object a line, in `<out>/communications.jsonl`: the sink that shows the whole sequence (channel
created, status pinned and edited, pager yellow, deployment in_progress then success, one-liner,
pager green with the settings read before, channel archived).

    journal = Journal(out / "communications.jsonl")
    overrides = journaled(bootstrap.demo_comms_ports(plan), journal)    # build_world overrides
    milestones(journal.lines)    -> ["slack: #spark-warroom-v140 opened", "pager: yellow", ...]

The demo also relays one piece of user feedback at the start of the first night (support's
"neutral: no user complaints"), through the same use case as `runofshow feedback`, so the
checklist's "User feedback neutral/positive" is judged, as in a real first night.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runofshow.domain.communications import (
    CommunicationsSettings,
    DeploymentSettings,
    PagerDutySettings,
    SlackMember,
    SlackWarRoomSettings,
)

JOURNAL_FILE = "communications.jsonl"
DEMO_PAGER_SERVICE = "PDEMO01"
DEMO_SLACK_IC = "U0DEMOIC1"
FEEDBACK_BY = "support (demo)"
FEEDBACK = ("neutral", "no user complaints in the first hour (simulated)")


def demo_communications(ic: str) -> CommunicationsSettings:
    """The demo plan's communications: all three parts on, the IC a member of the war room."""
    return CommunicationsSettings(
        slack=SlackWarRoomSettings(members=(SlackMember(name=ic, slack_user_id=DEMO_SLACK_IC),)),
        pager=PagerDutySettings(service_ids=(DEMO_PAGER_SERVICE,)),
        deployments=DeploymentSettings(repo="acme/spark-trading"),
    )


def _short(value: Any) -> Any:
    """A call's argument or result, small enough for a journal line."""
    if is_dataclass(value) and not isinstance(value, type):
        return _short(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _short(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, Mapping) and "type" in v for v in value):
            return f"[{len(value)} blocks]"
        return [_short(v) for v in value]
    if isinstance(value, str) and len(value) > 300:
        return value[:300] + "..."
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class Journal:
    """Calls as they happen, kept in `lines` and appended to `path` (any thread)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.lines: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record(self, system: str, call: str, args: Sequence[Any], result: Any = None,
               error: str | None = None) -> None:
        line: dict[str, Any] = {"at": datetime.now(UTC).isoformat(), "system": system, "call": call,
                                "args": _short(list(args))}
        if error is not None:
            line["error"] = error
        elif result is not None:
            line["result"] = _short(result)
        with self._lock:
            self.lines.append(line)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(line, default=str, ensure_ascii=False) + "\n")


class Journaled:
    """A port whose every public call is journaled (and then answered as the port answers it)."""

    def __init__(self, port: Any, system: str, journal: Journal) -> None:
        self._port, self._system, self._journal = port, system, journal
        self.name = getattr(port, "name", system)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._port, name)
        if name.startswith("_") or not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            shown = [*args, *({k: v} for k, v in kwargs.items())]
            try:
                result = attr(*args, **kwargs)
            except Exception as err:
                self._journal.record(self._system, name, shown, error=str(err))
                raise
            self._journal.record(self._system, name, shown, result)
            return result

        return call


def journaled(ports: Mapping[str, Any], journal: Journal) -> dict[str, Any]:
    systems = {"war_room_channel": "slack", "pager": "pager", "deployments": "github"}
    return {k: None if p is None else Journaled(p, systems.get(k, k), journal) for k, p in ports.items()}


def milestones(lines: Sequence[Mapping[str, Any]]) -> list[str]:
    """The sequence a person looks for, from the journal (failed calls left out)."""
    out: list[str] = []
    for line in lines:
        if "error" in line:
            continue
        system, call, args = line["system"], line["call"], line.get("args") or []
        if (system, call) == ("slack", "open"):
            out.append(f"slack: #{str(args[0]).removeprefix('#')} opened")
        elif (system, call) == ("slack", "post_status"):
            out.append("slack: status pinned")
        elif (system, call) == ("slack", "close"):
            archived = not any(isinstance(a, Mapping) and a.get("archive") is False for a in args)
            out.append("slack: one-liner posted" + ("; channel archived" if archived else ""))
        elif (system, call) == ("pager", "set_yellow"):
            out.append("pager: yellow")
        elif (system, call) == ("pager", "restore"):
            out.append("pager: green (settings restored)")
        elif (system, call) == ("github", "start"):
            out.append(f"github: deployment {line.get('result')} to {args[0]}")
        elif (system, call) == ("github", "set_state"):
            out.append(f"github: deployment {args[0]} {args[1]}")
    return out




def demo_overrides(plan: Any, journal: Journal) -> dict[str, Any]:
    """The `build_world` overrides for the plan's communications: in memory, journaled."""
    from runofshow.app.bootstrap import demo_comms_ports

    return journaled(demo_comms_ports(plan), journal)


def relay_feedback(ledger: Any, run_id: str) -> None:
    """Support relays what users said, as `runofshow feedback` would record it."""
    from runofshow.app.warroom.feedback import give_feedback

    give_feedback(run_id, FEEDBACK[0], note=FEEDBACK[1], by=FEEDBACK_BY, ledger=ledger)


__all__ = ["DEMO_PAGER_SERVICE", "DEMO_SLACK_IC", "FEEDBACK", "FEEDBACK_BY", "JOURNAL_FILE", "Journal",
           "Journaled", "demo_communications", "demo_overrides", "journaled", "milestones", "relay_feedback"]
