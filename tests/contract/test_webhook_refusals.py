"""Refused webhook calls leave a trace: the receiver reports each 401 (no, a wrong or a non-bearer
token) to `on_refused` with the time, the caller's address and the reason, never the token; a run
started with a webhook records them in its ledger (rate-limited) and `status` shows them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from runofshow.adapters.alertmanager import AlertmanagerWebhook
from runofshow.adapters.memory import FakeClock, InMemoryLedger, InMemoryRouter, ScriptedMetrics
from runofshow.app.bootstrap import RunOptions, start_run
from runofshow.app.run.events import EventKind
from runofshow.cli.views import event_summary, status_view
from runofshow.domain.plan import Plan
from runofshow.ports import WebhookRefusal
from tests.helpers import passing_t10_handlers

TOKEN = "t0ken-for-tests"
PRESENTED = "Secr3t-presented-by-a-caller"
NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)


def post(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url, json={"alerts": []}, headers=headers, timeout=5)


@pytest.mark.parametrize(("headers", "reason"), [
    ({}, "no bearer token"),
    ({"Authorization": f"Bearer {PRESENTED}"}, "wrong bearer token"),
    ({"Authorization": f"Basic {PRESENTED}"}, "not a bearer token"),
])
def test_each_refusal_is_reported_with_address_and_reason_never_the_token(
    headers: dict[str, str], reason: str,
) -> None:
    got: list[WebhookRefusal] = []
    with AlertmanagerWebhook(token=TOKEN, on_refused=got.append, now=lambda: NOW) as hook:
        assert post(hook.url, headers).status_code == 401
        assert post(hook.url, {"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert got == [WebhookRefusal(at=NOW, source="127.0.0.1", reason=reason, path="/alerts")]
    assert hook.rejected == 1 and PRESENTED not in repr(got)


def test_a_failing_callback_does_not_break_the_receiver() -> None:
    def boom(refusal: WebhookRefusal) -> None:
        raise RuntimeError("runner is busy")

    with AlertmanagerWebhook(token=TOKEN, on_refused=boom) as hook:
        assert post(hook.url, {}).status_code == 401
        assert post(hook.url, {}).status_code == 401
    assert hook.rejected == 2


def test_a_run_records_refusals_and_status_shows_them() -> None:
    clock, ledger = FakeClock(), InMemoryLedger()
    plan = Plan.model_validate({"alert_source": {"webhook_listen": "127.0.0.1:0",
                                                 "webhook_token_env": "HOOK_TOKEN"}})
    world, runner = start_run(plan, RunOptions(check_windows=False), environ={"HOOK_TOKEN": TOKEN},
                              ledger=ledger, clock=clock, router=InMemoryRouter(),
                              metrics=ScriptedMetrics([]), step_handlers=passing_t10_handlers())
    with world:
        url = world.webhook.url
        for _ in range(5):  # a flood from one address within 10 s: one event, the rest counted
            assert post(url, {"Authorization": f"Bearer {PRESENTED}"}).status_code == 401
        assert runner.refusals.record_due() == 1
        assert post(url, {}).status_code == 401
        assert runner.refusals.record_due() == 0  # not yet: 10 s have not passed
        clock.advance(10)
        assert runner.refusals.record_due() == 1
    events = ledger.events(runner.state.run_id)
    refused = [e for e in events if e.kind == EventKind.WEBHOOK_REFUSED.value]
    assert [(e.payload["source"], e.payload["reason"], e.payload["suppressed"]) for e in refused] == [
        ("127.0.0.1", "wrong bearer token", 4), ("127.0.0.1", "no bearer token", 0)]
    assert event_summary(refused[0]) == ("webhook call refused from 127.0.0.1: wrong bearer token "
                                         "(+4 more not recorded one by one)")
    lines = [e.payload["text"] for e in events if e.kind == EventKind.WAR_ROOM.value]
    assert ("Webhook call refused from 127.0.0.1: wrong bearer token (+4 more from there, not recorded "
            "one by one)") in lines
    assert "Webhook call refused from 127.0.0.1: no bearer token" in lines
    view = status_view(ledger.run(runner.state.run_id), runner.state, None)
    assert view["webhook_refusals"] == 6
    assert view["last_webhook_refusal"]["source"] == "127.0.0.1"
    assert view["last_webhook_refusal"]["reason"] == "no bearer token"
    assert PRESENTED not in json.dumps([dict(e.payload) for e in events])
