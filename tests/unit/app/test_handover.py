"""The IC handover (`runofshow.app.warroom.commander.handover`): the current IC names the next, the
role follows, and every refusal is recorded; the plan's `war_room` (ic, members, observers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from runofshow.adapters.memory import FakeClock, InMemoryLedger, InMemoryRouter, ScriptedMetrics
from runofshow.app.bootstrap import RunOptions, build_world
from runofshow.app.run.event_types import IcHandover, parse
from runofshow.app.run.runner import Runner
from runofshow.app.run.state import fold
from runofshow.app.warroom import commander
from runofshow.app.warroom.identity import Identity, Proof, Role, handover_as, local_identity, run_role
from runofshow.app.warroom.throttle import Throttle
from runofshow.domain.plan import Plan
from runofshow.errors import InputError
from runofshow.reports.evidence_render import RunView, war_room_lines

WAR_ROOM = {"incident_commanders": ["alice", "Bob Smith"], "members": ["carol"], "observers": ["dave"]}


def started(tmp_path: Path, war_room: dict[str, Any] | None = None) -> tuple[InMemoryLedger, str]:
    plan = Plan.model_validate({"traffic_router": {"kind": "memory"}, "evidence_dir": str(tmp_path / "ev"),
                                "war_room": war_room or WAR_ROOM})
    ledger = InMemoryLedger()
    world = build_world(plan, RunOptions(check_windows=False), environ={}, ledger=ledger, clock=FakeClock(),
                        router=InMemoryRouter(), metrics=ScriptedMetrics(), alerts=None, notifier=None,
                        annotator=None)
    runner = world.attach(Runner.start(plan, world.ports, state_url="memory://"))
    return ledger, runner.state.run_id


def decide(ledger: InMemoryLedger, rid: str, by: str) -> commander.Decided:
    return commander.ic_decide(rid, "proceed", by=by, reason="looks fine", ledger=ledger)


def test_before_any_handover_every_incident_commander_holds_the_role(tmp_path: Path) -> None:
    ledger, rid = started(tmp_path)
    assert decide(ledger, rid, "alice").accepted
    assert decide(ledger, rid, "bob smith").accepted
    refused = decide(ledger, rid, "carol")
    assert not refused.accepted and "not an incident commander" in refused.message


def test_the_role_follows_the_handover(tmp_path: Path) -> None:
    ledger, rid = started(tmp_path)
    done = commander.handover(rid, "carol", by="alice", reason="end of shift", ledger=ledger)
    assert done.accepted and done.message == "accepted: carol is the incident commander now"
    [event] = [parse(e) for e in ledger.events(rid) if e.kind == "ic_handover"]
    assert isinstance(event, IcHandover) and (event.by, event.to, event.reason) == ("alice", "carol", "end of shift")
    state = fold(ledger.events(rid))
    assert state.current_ic == "carol"
    assert commander.current_ics(state.plan(), state) == ("carol",)
    assert decide(ledger, rid, "carol").accepted  # a member, handed the role, decides
    for former in ("alice", "Bob Smith"):
        refused = decide(ledger, rid, former)
        assert not refused.accepted and refused.message == (
            f"refused: '{former}' does not hold the IC role now (carol does)")
    lines = war_room_lines(RunView.of(ledger.events(rid)))
    assert any("IC handover: alice hands the incident commander role to carol: end of shift" in line
               for line in lines)
    # and on again: only the current IC hands over
    assert not commander.handover(rid, "alice", by="Bob Smith", ledger=ledger).accepted
    assert commander.handover(rid, "alice", by="carol", ledger=ledger).accepted
    assert decide(ledger, rid, "alice").accepted and not decide(ledger, rid, "carol").accepted


@pytest.mark.parametrize(("by", "to", "why"), [
    ("carol", "alice", "'carol' does not hold the IC role now (alice, Bob Smith do)"),
    ("alice", "dave", "'dave' is not an incident commander or member of this war room"),
    ("alice", "mallory", "'mallory' is not an incident commander or member of this war room"),
])
def test_refused_handovers_are_recorded_and_change_nothing(tmp_path: Path, by: str, to: str, why: str) -> None:
    ledger, rid = started(tmp_path)
    result = commander.handover(rid, to, by=by, reason="r", ledger=ledger)
    assert not result.accepted and result.message == f"refused: {why}"
    last = ledger.events(rid)[-1]
    assert last.kind == "ic_refused" and last.payload["action"] == "handover" and last.payload["why"] == why
    assert fold(ledger.events(rid)).current_ic is None


def test_a_handover_needs_both_names(tmp_path: Path) -> None:
    ledger, rid = started(tmp_path)
    with pytest.raises(InputError, match="--to"):
        commander.handover(rid, " ", by="alice", ledger=ledger)
    with pytest.raises(InputError, match="--as"):
        commander.handover(rid, "carol", by="", ledger=ledger)


def test_the_plans_ic_alone_holds_the_role_at_the_start(tmp_path: Path) -> None:
    ledger, rid = started(tmp_path, {**WAR_ROOM, "ic": "bob smith"})
    assert decide(ledger, rid, "Bob Smith").accepted
    assert not decide(ledger, rid, "alice").accepted
    assert commander.handover(rid, "alice", by="Bob Smith", ledger=ledger).accepted
    assert decide(ledger, rid, "alice").accepted


def test_the_handover_carries_the_identity(tmp_path: Path) -> None:
    ledger, rid = started(tmp_path)
    who = Identity("alice", "token:ab12", Proof.TOKEN, Role.IC)
    assert handover_as(who, rid, "carol", "shift", ledger=ledger).accepted
    event = next(e for e in ledger.events(rid) if e.kind == "ic_handover")
    assert event.payload["identity"] == {"name": "alice", "subject": "token:ab12", "proof": "token", "role": "ic"}


def test_run_roles_come_from_the_plan_then_the_token(tmp_path: Path) -> None:
    ledger, rid = started(tmp_path)
    plan = fold(ledger.events(rid)).plan()

    def role(name: str, own: Role = Role.OBSERVER) -> Role:
        state = fold(ledger.events(rid))
        return run_role(Identity(name, "s", Proof.TOKEN, own), plan, state)

    assert [role("alice"), role("carol"), role("dave", Role.IC), role("mallory", Role.MEMBER)] == [
        Role.IC, Role.MEMBER, Role.OBSERVER, Role.MEMBER]
    commander.handover(rid, "carol", by="alice", ledger=ledger)
    assert [role("alice", Role.IC), role("carol")] == [Role.MEMBER, Role.IC]


def test_local_identity_is_proven_only_by_the_os_user() -> None:
    who = local_identity("  alice ", "deploy", Role.IC)
    assert who.payload() == {"name": "alice", "subject": "local:deploy", "proof": "local", "role": "ic"}


@pytest.mark.parametrize(("war_room", "problem"), [
    ({"incident_commanders": ["alice"], "ic": "bob"}, "'bob' is not one of incident_commanders"),
    ({"incident_commanders": ["alice"], "observers": ["Alice"]}, "'Alice' is also an incident commander"),
    ({"incident_commanders": ["alice"], "members": ["bob"], "observers": ["bob"]}, "'bob' is also"),
    ({"incident_commanders": ["alice"], "members": ["alice"]}, "listed again as a member"),
    ({"incident_commanders": ["alice", "ALICE"]}, "named twice"),
    ({"incident_commanders": ["alice"], "members": [" "]}, "a name is empty"),
])
def test_bad_war_rooms_are_refused(war_room: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Plan.model_validate({"war_room": war_room})


def test_a_flood_of_refusals_is_one_record_per_address_per_window() -> None:
    now = [0.0]
    throttle = Throttle(every_s=10, max_sources=2, now=lambda: now[0])
    told = [throttle.admit("10.0.0.1") for _ in range(1000)]
    assert told[0] == 0 and told[1:] == [None] * 999
    assert throttle.admit("10.0.0.2") == 0
    assert throttle.admit("10.0.0.3") == 0  # the third address in the window: counted as "other"
    assert throttle.admit("10.0.0.4") is None
    assert throttle.suppressed() == 1000
    now[0] = 10.0
    assert throttle.admit("10.0.0.1") == 1000  # the next record tells what was not recorded
    assert throttle.suppressed() == 0
