"""`runofshow window check` end to end on the real XIST calendar, the XIST adapter's facts, and the
window use cases the runner and `runofshow plan` call (stage gate, schedule marks)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from runofshow.adapters.xist_calendar import XistMarketCalendar
from runofshow.app.bootstrap import market_calendar
from runofshow.app.steps.windows import schedule_marks, stage_gate, window_report
from runofshow.domain.plan import Plan
from runofshow.domain.windows import Activity
from runofshow.errors import InputError
from runofshow.ports import MarketCalendar
from tests.helpers import run_cli as run

IST = ZoneInfo("Europe/Istanbul")
XIST = XistMarketCalendar()
PLAN = Plan()
KEYS = {"at", "market_open", "session_day", "holiday", "early_close", "dst_week", "allowed",
        "canary_preferred", "next_canary_window", "reasons"}


# --------------------------------------------------------------------------- the XIST adapter


def test_xist_adapter_facts():
    assert isinstance(XIST, MarketCalendar)
    first, last = XIST.bounds()
    assert first <= date(2025, 1, 2) and last >= date(2026, 12, 31)
    eve = XIST.market_day(date(2026, 10, 28))  # Republic Day eve: 10:00-12:30
    assert eve.session and eve.early_close and eve.note == "Republic Day eve"
    assert eve.open_at == datetime(2026, 10, 28, 10, tzinfo=IST)
    assert eve.close_at == datetime(2026, 10, 28, 12, 30, tzinfo=IST)
    assert XIST.market_day(date(2026, 10, 29)).holiday == "Republic Day"
    bayram_eve = XIST.market_day(date(2026, 3, 19))
    assert bayram_eve.early_close and bayram_eve.note == "Ramazan Bayrami eve"
    assert XIST.market_day(date(2026, 3, 20)).holiday == "Ramazan Bayrami (day 1)"
    assert XIST.market_day(date(2026, 5, 27)).holiday == "Kurban Bayrami (day 1)"
    normal = XIST.market_day(date(2026, 3, 10))
    assert normal.session and not normal.early_close
    assert normal.close_at == datetime(2026, 3, 10, 18, tzinfo=IST)
    weekend = XIST.market_day(date(2026, 3, 14))
    assert not weekend.session and weekend.holiday is None and weekend.known
    beyond = XIST.market_day(last + timedelta(days=40))
    assert not beyond.known and "last session" in beyond.note


def test_unknown_calendar_is_a_plan_problem():
    with pytest.raises(InputError, match="unknown exchange calendar 'XNOPE'"):
        market_calendar(Plan.model_validate({"market": {"calendar": "XNOPE"}}))


# --------------------------------------------------------------------------- window check


def test_window_check_json_one_object_per_at_in_order(capsys):
    ats = ["2026-10-28T11:00:00+03:00", "2026-10-28T12:30:00+03:00", "2026-03-10T06:30:00Z",
           "2026-10-29T12:00:00+03:00", "2026-03-24T07:00:00+03:00"]
    code, out, err = run(["window", "check", *sum((["--at", a] for a in ats), []), "--json"], capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["at"] for r in rows] == [datetime.fromisoformat(a).isoformat() for a in ats]
    assert all(set(r) == KEYS and r["allowed"]["rollback"] is True for r in rows)
    eve, eve_close, tue, holiday, dst_morning = rows
    assert eve["market_open"] and eve["early_close"] and eve["dst_week"]
    assert eve["allowed"] == {"canary": False, "schema_change": False, "rollback": True}
    assert eve["next_canary_window"] == "2026-10-29T06:00:00+03:00"
    assert not eve_close["market_open"] and eve_close["allowed"]["schema_change"]
    assert tue["market_open"] and tue["allowed"]["canary"] and not tue["canary_preferred"]
    assert tue["next_canary_window"] is None
    assert holiday["holiday"] == "Republic Day" and not holiday["session_day"]
    assert dst_morning["dst_week"] and dst_morning["allowed"]["canary"]
    assert dst_morning["canary_preferred"] and dst_morning["next_canary_window"] is None


def test_window_check_defaults_to_now(capsys):
    code, out, _ = run(["window", "check", "--json"], capsys)
    (row,) = [json.loads(line) for line in out.splitlines()]
    at = datetime.fromisoformat(row["at"])
    assert code == 0 and abs((at - datetime.now(UTC)).total_seconds()) < 60


def test_window_check_table(capsys):
    code, out, _ = run(["window", "check", "--at", "2026-10-29T12:00:00+03:00"], capsys)
    assert code == 0 and "Republic Day" in out and "Market windows" in out


@pytest.mark.parametrize("bad", ["2026-10-28T11:00:00", "tomorrow", "2026-13-01T00:00:00Z"])
def test_bad_timestamp_is_one_line_and_exit_2(capsys, bad):
    code, out, err = run(["window", "check", "--at", "2026-10-28T11:00:00Z", "--at", bad], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--at" in err and "Traceback" not in err


def test_window_check_uses_the_plans_market(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "market:\n  hours: {start: '10:00', end: '17:00'}\n  dst_watch_zones: [Europe/Istanbul]\n"
    )
    code, out, err = run(["window", "check", "--plan", str(plan), "--json",
                          "--at", "2026-03-10T09:45:00+03:00", "--at", "2026-03-24T12:00:00+03:00"], capsys)
    assert code == 0, err
    early, london_week = (json.loads(line) for line in out.splitlines())
    assert not early["market_open"] and early["allowed"]["schema_change"]
    assert not london_week["dst_week"]  # London is not watched by this plan


def test_beyond_the_calendar_is_reported(capsys):
    _, last = XIST.bounds()
    at = datetime.combine(last + timedelta(days=60), datetime.min.time(), tzinfo=IST) + timedelta(hours=12)
    row = window_report(PLAN, XIST, at)
    assert any("possibly trading" in r for r in row["reasons"])
    assert row["allowed"]["schema_change"] is (not row["market_open"])


# --------------------------------------------------------------------------- runner gate, plan marks


def test_stage_gate_blocks_and_says_when_it_resumes():
    at = datetime(2026, 10, 28, 11, tzinfo=IST)
    gate = stage_gate(PLAN, XIST, Activity.CANARY, at)
    assert not gate.allowed and gate.resume_at == datetime(2026, 10, 29, 6, tzinfo=IST)
    assert "morning window" in gate.reason and "resumes at 2026-10-29T06:00:00+03:00" in gate.reason
    payload = gate.ledger_payload()
    assert payload["allowed"] is False and payload["resume_at"] == "2026-10-29T06:00:00+03:00"
    schema = stage_gate(PLAN, XIST, Activity.SCHEMA_CHANGE, at)
    assert not schema.allowed and schema.resume_at == datetime(2026, 10, 28, 12, 30, tzinfo=IST)
    rollback = stage_gate(PLAN, XIST, Activity.ROLLBACK, at)
    assert rollback.allowed and rollback.resume_at is None
    warn = stage_gate(PLAN, XIST, Activity.CANARY, datetime(2026, 3, 10, 12, tzinfo=IST))
    assert warn.allowed and not warn.preferred and "preferred outside market hours" in warn.reason


def test_schedule_marks_and_next_fitting_start():
    marks = schedule_marks(PLAN, XIST, datetime(2026, 10, 28, 9, 30, tzinfo=IST))
    assert not marks["fits"]
    stages = [s for s in marks["steps"] if s["title"].startswith("Stage ") and "%" in s["title"]]
    assert [s["allowed"] for s in stages] == [True, True, False, False, False]  # 09:30 .. 10:30
    assert marks["next_fitting_start"] == "2026-10-29T06:00:00+03:00"
    ok = schedule_marks(PLAN, XIST, datetime(2026, 3, 10, 19, tzinfo=IST))
    assert ok["fits"] and ok["next_fitting_start"] is None
    pref = schedule_marks(PLAN, XIST, datetime(2026, 3, 10, 12, tzinfo=IST), require_preferred=True)
    assert not pref["fits"] and pref["next_fitting_start"] == "2026-03-10T18:00:00+03:00"
