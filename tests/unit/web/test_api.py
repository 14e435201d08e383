"""The JSON API: identity, roles, bad input, refusals recorded, the decision's identity."""

from __future__ import annotations

import json

from tests.unit.web.conftest import WarRoom


def test_board_and_run_are_listed(room: WarRoom) -> None:
    runs = room.client.get("/api/runs").json()
    assert [r["run_id"] for r in runs] == [room.run_id]
    one = room.client.get(f"/api/runs/{room.run_id}").json()
    assert one["status"] == "running" and one["last_seq"] == len(room.kinds())
    assert len(one["gates"]) == 6


def test_a_run_whose_runner_is_gone_shows_as_stalled(room: WarRoom) -> None:
    # the fixture's runner started the run (on a fake clock, a day ago) and never moved again
    [row] = room.client.get("/api/runs").json()
    assert row["stalled"] is True
    assert "is the runner alive?" in room.client.get("/").text


def test_unknown_run_is_a_404_in_json_and_as_a_page(room: WarRoom) -> None:
    r = room.client.get("/api/runs/nope")
    assert r.status_code == 404 and r.json() == {"error": "no run 'nope'"}
    page = room.client.get("/runs/nope", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "no run &#39;nope&#39;" in page.text


def test_ic_decision_is_recorded_with_the_identity(room: WarRoom) -> None:
    r = room.client.post(f"/api/runs/{room.run_id}/decisions", headers=room.bearer("ic"),
                         json={"decision": "proceed", "reason": "all green"})
    assert r.status_code == 201, r.text
    event = r.json()["event"]
    assert event["kind"] == "ic_decision"
    assert event["payload"]["by"] == "alice" and event["payload"]["reason"] == "all green"
    assert event["payload"]["identity"]["proof"] == "token"
    assert event["payload"]["identity"]["name"] == "alice"
    assert event["payload"]["identity"]["subject"].startswith("token:")


def test_no_identity_is_401_and_recorded(room: WarRoom) -> None:
    before = len(room.kinds())
    r = room.client.post(f"/api/runs/{room.run_id}/decisions", json={"decision": "rollback", "reason": "x"})
    assert r.status_code == 401
    events = room.ledger.events(room.run_id, before)
    assert [e.kind for e in events] == ["ic_refused"]
    assert events[0].payload["by"] == "(anonymous)" and "no identity" in events[0].payload["why"]


def test_a_bad_token_is_401(room: WarRoom) -> None:
    r = room.client.post(f"/api/runs/{room.run_id}/notes", headers={"Authorization": "Bearer ros_guess"},
                         json={"text": "hi"})
    assert r.status_code == 401


def test_wrong_role_is_403_and_recorded_with_who_tried(room: WarRoom) -> None:
    for role in ("member", "observer"):
        before = len(room.kinds())
        r = room.client.post(f"/api/runs/{room.run_id}/decisions", headers=room.bearer(role),
                             json={"decision": "hold", "reason": "worried"})
        assert r.status_code == 403, r.text
        [refused] = room.ledger.events(room.run_id, before)
        assert refused.kind == "ic_refused" and refused.payload["identity"]["role"] == role
    r = room.client.post(f"/api/runs/{room.run_id}/notes", headers=room.bearer("observer"), json={"text": "hm"})
    assert r.status_code == 403


def test_an_ic_token_the_plan_does_not_name_is_refused_by_the_use_case(room: WarRoom) -> None:
    r = room.client.post(f"/api/runs/{room.run_id}/decisions", headers=room.bearer("ic-not-in-plan"),
                         json={"decision": "proceed", "reason": "me"})
    assert r.status_code == 403
    body = r.json()
    assert body["accepted"] is False and "not an incident commander" in body["message"]
    assert body["event"]["payload"]["identity"]["name"] == "mallory"


def test_a_member_writes_a_note(room: WarRoom) -> None:
    r = room.client.post(f"/api/runs/{room.run_id}/notes", headers=room.bearer("member"),
                         json={"text": "<script>alert(1)</script>"})
    assert r.status_code == 201
    assert r.json()["payload"] == {**r.json()["payload"], "by": "bob", "text": "<script>alert(1)</script>"}
    page = room.client.get(f"/runs/{room.run_id}").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_bad_input_writes_nothing(room: WarRoom) -> None:
    url = f"/api/runs/{room.run_id}/decisions"
    before = len(room.kinds())
    cases = [
        (b"{not json", 400, "malformed JSON"),
        (b"[1, 2]", 400, "the body must be a JSON object"),
        (json.dumps({"decision": "launch", "reason": "x"}).encode(), 422, "decision: must be one of"),
        (json.dumps({"decision": "hold", "reason": "   "}).encode(), 422, "reason: say why"),
        (json.dumps({"decision": "hold"}).encode(), 422, "reason: say why"),
    ]
    for body, status, message in cases:
        r = room.client.post(url, headers={**room.bearer("ic"), "Content-Type": "application/json"}, content=body)
        assert r.status_code == status, (body, r.text)
        assert r.json()["error"].startswith(message) and "\n" not in r.json()["error"]
    r = room.client.post(f"/api/runs/{room.run_id}/notes", headers=room.bearer("ic"), json={"text": ""})
    assert r.status_code == 422
    assert len(room.kinds()) == before


def test_oversize_bodies_are_refused_unread(room: WarRoom) -> None:
    before = len(room.kinds())
    big = json.dumps({"text": "x" * (65 * 1024)})
    r = room.client.post(f"/api/runs/{room.run_id}/notes", headers={**room.bearer("ic"),
                                                                    "Content-Type": "application/json"},
                         content=big)
    assert r.status_code == 413 and "64 KiB" in r.json()["error"]

    def chunks():  # no Content-Length: the guard counts what arrives
        for _ in range(70):
            yield b"x" * 1024

    r = room.client.post(f"/api/runs/{room.run_id}/notes", headers=room.bearer("ic"), content=chunks())
    assert r.status_code == 413
    assert len(room.kinds()) == before


def test_security_headers_on_pages_and_api(room: WarRoom) -> None:
    for path in ("/", f"/runs/{room.run_id}", "/api/runs", "/healthz", "/login"):
        r = room.client.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
    page = room.client.get(f"/runs/{room.run_id}").text
    assert "<script>" not in page.replace("<script src=", "")  # no inline script


def test_healthz_and_metrics(room: WarRoom) -> None:
    assert room.client.get("/healthz").json() == {"status": "ok"}
    room.client.post(f"/api/runs/{room.run_id}/decisions", headers=room.bearer("ic"),
                     json={"decision": "hold", "reason": "look closer"})
    text = room.client.get("/metrics").text
    assert 'runofshow_web_runs{status="running"} 1.0' in text
    assert 'runofshow_web_decisions_total{action="hold",outcome="refused"} 1.0' in text or \
        'runofshow_web_decisions_total{action="hold",outcome="accepted"} 1.0' in text
    assert "runofshow_web_sse_clients 0.0" in text
    assert "runofshow_web_request_seconds_bucket" in text


def test_assets_are_served_locally(room: WarRoom) -> None:
    for path in ("/static/htmx.min.js", "/static/sse.min.js", "/static/app.js", "/assets/plotly.min.js"):
        r = room.client.get(path)
        assert r.status_code == 200 and len(r.content) > 1000, path


def test_openapi_is_served_and_no_cdn_docs_page(room: WarRoom) -> None:
    spec = room.client.get("/api/openapi.json").json()
    assert "/api/runs/{run_id}/decisions" in spec["paths"]
    assert room.client.get("/api/docs").status_code == 404
