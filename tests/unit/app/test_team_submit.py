"""Team mode's submission options and takeover event, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

from runofshow.app.plan_file import default_plan_text, parse_plan
from runofshow.app.run import event_types as et
from runofshow.app.steps.preflight import Override
from runofshow.app.team.submit import Submission, run_options, submitted_plan
from runofshow.cli.views import event_summary, run_row
from runofshow.ports import Lease, LedgerEvent, RunRecord

AT = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)


def test_what_was_submitted_comes_back_as_run_options_and_plan() -> None:
    plan = parse_plan(default_plan_text())
    sub = Submission(speed=60, check_windows=False, repo="acme/x", override=Override("ic", "drill"))
    options = sub.to_options(plan)
    got = run_options(options, "postgresql://db/x")
    assert (got.speed, got.check_windows, got.repo, got.state_url) == (60.0, False, "acme/x", "postgresql://db/x")
    assert got.preflight_override == Override("ic", "drill")
    # the ledger's JSON sorts keys: the gate order comes back from the options
    record = RunRecord(run_id="r", release="a", version="v", status="queued", stage=None, weight=None,
                       started_at=AT, plan={**plan.model_dump(mode="json"),
                                            "gates": dict(sorted(plan.model_dump(mode="json")["gates"].items()))})
    assert list(submitted_plan(record, options).gates) == list(plan.gates)
    assert run_options({}, "u").speed is None and run_options({}, "u").preflight_override is None


def test_the_plans_team_caps_travel_with_the_submission() -> None:
    plan = parse_plan(default_plan_text())
    assert "caps" not in Submission().to_options(plan)  # no cap in the plan: nothing recorded
    capped = parse_plan("team: {max_canaries_per_service: 1}\n")
    assert Submission().to_options(capped)["caps"] == {"per_service": 1, "total": None}
    both = parse_plan("team: {max_canaries_per_service: 2, max_canaries_total: 5}\n")
    assert Submission().to_options(both)["caps"] == {"per_service": 2, "total": 5}


def test_takeover_event_round_trips_and_reads() -> None:
    payload = {"old_owner": "wa", "new_owner": "wb", "epoch": 2, "t_s": 605.0}
    typed = et.parse(LedgerEvent(run_id="r", seq=9, at=AT, kind="takeover", payload=payload))
    assert isinstance(typed, et.Takeover) and typed.to_payload() == payload
    assert event_summary(typed) == "taken over by wb from wa (epoch 2)"


def test_run_row_shows_the_lease() -> None:
    record = RunRecord(run_id="r", release="a", version="v", status="running", stage=0, weight=1.0,
                       started_at=AT)
    assert {k: run_row(record)[k] for k in ("owner", "lease_expires_at", "epoch")} == {
        "owner": None, "lease_expires_at": None, "epoch": None}
    lease = Lease(run_id="r", status="running", owner="w1", epoch=3, expires_at=AT)
    row = run_row(record, lease)
    assert (row["owner"], row["lease_expires_at"], row["epoch"]) == ("w1", AT.isoformat(), 3)
