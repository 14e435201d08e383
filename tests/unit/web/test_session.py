"""Browsers: log in once with a token, then a signed session cookie; CSRF on every state change."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.unit.web.conftest import WarRoom


def login(room: WarRoom, role: str) -> str:
    """Log the test client in; returns the page's CSRF token."""
    page = room.client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = room.client.post("/login", data={"token": room.tokens[role], "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text
    cookie = r.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert room.tokens[role] not in cookie
    board = room.client.get("/").text
    return re.search(r'"X-CSRF-Token": "([^"]+)"', board.replace("&#34;", '"')).group(1)


def test_login_needs_the_form_token_and_a_real_token(room: WarRoom) -> None:
    r = room.client.post("/login", data={"token": room.tokens["ic"], "csrf": "forged"})
    assert r.status_code == 403
    page = room.client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = room.client.post("/login", data={"token": "ros_wrong", "csrf": csrf})
    assert r.status_code == 401 and "unknown or revoked token" in r.text


def test_ic_decides_from_the_browser_with_csrf(room: WarRoom) -> None:
    csrf = login(room, "ic")
    url = f"/runs/{room.run_id}/decide"
    before = len(room.kinds())
    r = room.client.post(url, data={"decision": "proceed", "reason": "fine"})  # no CSRF token
    assert r.status_code == 403
    assert room.ledger.events(room.run_id, before)[-1].payload["why"] == "missing or wrong CSRF token"
    r = room.client.post(url, data={"decision": "proceed", "reason": "fine"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    last = room.ledger.events(room.run_id)[-1]
    assert last.kind == "ic_decision" and last.payload["identity"]["name"] == "alice"


def test_rollback_from_the_browser_needs_a_confirmation(room: WarRoom) -> None:
    csrf = login(room, "ic")
    before = len(room.kinds())
    r = room.client.post(f"/runs/{room.run_id}/decide", data={"decision": "rollback", "reason": "p95", "csrf": csrf},
                         headers={"HX-Request": "true"})
    assert r.status_code == 422 and "confirm rollback" in r.text
    assert len(room.kinds()) == before
    r = room.client.post(f"/runs/{room.run_id}/decide", headers={"HX-Request": "true"},
                         data={"decision": "rollback", "reason": "p95", "csrf": csrf, "confirm": "yes"})
    assert r.status_code == 201, r.text
    kinds = room.kinds()[before:]
    assert kinds[:2] == ["ic_decision", "rollback_started"]
    started = room.ledger.events(room.run_id)[before + 1]
    assert started.payload["identity"]["proof"] == "token"


def test_observer_sees_no_buttons_and_ic_does(room: WarRoom) -> None:
    login(room, "observer")
    page = room.client.get(f"/runs/{room.run_id}").text
    assert 'id="btn-hold"' not in page and 'id="btn-note"' not in page
    login(room, "member")
    page = room.client.get(f"/runs/{room.run_id}").text
    assert 'id="btn-hold"' not in page and 'id="btn-note"' in page
    login(room, "ic")
    page = room.client.get(f"/runs/{room.run_id}").text
    assert 'id="btn-hold"' in page and 'id="btn-rollback"' in page


def test_a_revoked_token_ends_its_sessions(room: WarRoom) -> None:
    csrf = login(room, "member")
    token_id = next(t.token_id for t in room.ledger.tokens() if t.name == "bob")
    assert room.ledger.revoke_token(token_id, datetime.now(UTC))
    r = room.client.post(f"/runs/{room.run_id}/note", data={"text": "late", "csrf": csrf})
    assert r.status_code == 401
