"""User feedback from the run page's form and the JSON API: the same use case as `runofshow
feedback`, identity recorded; members and incident commanders may give it, observers may not; the
form needs the session's CSRF token like every other form."""

from __future__ import annotations

import re

import pytest

from runofshow.app.warroom.feedback import feedback_criterion
from tests.unit.web.conftest import WarRoom
from tests.unit.web.test_session import login


def form_csrf(room: WarRoom) -> str:
    page = room.client.get(f"/runs/{room.run_id}").text
    assert 'id="feedback-form"' in page
    return re.search(r'id="feedback-form".*?name="csrf" value="([^"]+)"', page, re.S).group(1)


@pytest.mark.parametrize("role", ["ic", "member"])
def test_the_form_records_feedback_with_the_identity(room: WarRoom, role: str) -> None:
    login(room, role)
    csrf = form_csrf(room)
    before = len(room.kinds())
    r = room.client.post(f"/runs/{room.run_id}/feedback", headers={"HX-Request": "true"},
                         data={"sentiment": "neutral", "note": "two users saw a slow  login", "csrf": csrf})
    assert r.status_code == 201, r.text
    assert "recorded" in r.text and "User feedback neutral/positive: met" in r.text
    [event] = room.ledger.events(room.run_id, before)
    assert event.kind == "user_feedback"
    assert event.payload["sentiment"] == "neutral" and event.payload["note"] == "two users saw a slow login"
    assert event.payload["identity"]["role"] == role and event.payload["identity"]["proof"] == "token"
    assert feedback_criterion(room.ledger.events(room.run_id)).passed


def test_the_form_needs_the_csrf_token(room: WarRoom) -> None:
    login(room, "member")
    before = len(room.kinds())
    r = room.client.post(f"/runs/{room.run_id}/feedback", data={"sentiment": "positive"})
    assert r.status_code == 403
    [refused] = room.ledger.events(room.run_id, before)
    assert refused.kind == "ic_refused" and refused.payload["why"] == "missing or wrong CSRF token"


def test_observers_see_no_form_and_are_refused(room: WarRoom) -> None:
    csrf = login(room, "observer")
    assert 'id="feedback-form"' not in room.client.get(f"/runs/{room.run_id}").text
    before = len(room.kinds())
    r = room.client.post(f"/runs/{room.run_id}/feedback", data={"sentiment": "positive", "csrf": csrf})
    assert r.status_code == 403
    [refused] = room.ledger.events(room.run_id, before)
    assert refused.kind == "ic_refused" and refused.payload["action"] == "feedback"
    r = room.client.post(f"/api/runs/{room.run_id}/feedback", headers=room.bearer("observer"),
                         json={"sentiment": "positive"})
    assert r.status_code == 403
    assert "user_feedback" not in room.kinds()


def test_the_api_takes_feedback_and_a_negative_fails_the_criterion(room: WarRoom) -> None:
    r = room.client.post(f"/api/runs/{room.run_id}/feedback", headers=room.bearer("member"),
                         json={"sentiment": "negative", "note": "checkout timeouts in EU"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["event"]["payload"]["by"] == "bob" and "NOT MET" in body["criterion"]


@pytest.mark.parametrize("body", [{"sentiment": "great"}, {"sentiment": ""}, {"sentiment": "positive", "note": 3}])
def test_bad_feedback_is_422_and_writes_nothing(room: WarRoom, body: dict) -> None:
    before = len(room.kinds())
    r = room.client.post(f"/api/runs/{room.run_id}/feedback", headers=room.bearer("ic"), json=body)
    assert r.status_code == 422
    assert len(room.kinds()) == before


def test_unknown_run_is_404(room: WarRoom) -> None:
    r = room.client.post("/api/runs/nope/feedback", headers=room.bearer("ic"), json={"sentiment": "positive"})
    assert r.status_code == 404
