"""The war room in a real browser: log in with a token, watch a run advance live, the IC's Hold
then Proceed, an observer without buttons (and 403 from the API), an XSS note shown as text, and
a stream that reconnects with Last-Event-ID and misses nothing. Screenshots for people to look at."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Served, login, screenshot
from tests.helpers import wait_until
from tests.oidc_provider import OidcProvider

pytestmark = pytest.mark.browser


def live_text(page: Any, selector: str) -> str:
    return str(page.locator(selector).inner_text())


def test_board_lists_the_run_and_updates_live(browser: Any, served: Served) -> None:
    page = login(browser, served, "observer")
    assert page.locator(f'tr[data-run="{served.run_id}"]').count() == 1
    assert "carol (observer, token)" in live_text(page, "#whoami")
    page.evaluate("window.__sameDocument = true")
    first = live_text(page, f'tr[data-run="{served.run_id}"]')
    wait_until(lambda: live_text(page, f'tr[data-run="{served.run_id}"]') != first, timeout=20,
               what="the board row to change without a reload")
    assert page.evaluate("window.__sameDocument") is True
    screenshot(page, "board.png")
    page.context.close()


def test_ic_watches_the_run_advance_and_holds_then_proceeds(browser: Any, served: Served) -> None:
    page = login(browser, served, "ic")
    page.goto(f"{served.url}/runs/{served.run_id}")
    page.evaluate("window.__sameDocument = true")
    seen = int(live_text(page, "#run-events"))
    wait_until(lambda: int(live_text(page, "#run-events")) > seen + 3, timeout=20,
               what="new ledger events on the open page")
    # wait for a canary stage (a hold needs one), then Hold
    wait_until(lambda: "/" in live_text(page, "#run-stage"), timeout=30, what="a canary stage")
    page.fill("#reason", "watch the WebSocket lag")
    page.click("#btn-hold")
    wait_until(lambda: "accepted" in live_text(page, "#action-result"), timeout=10, what="the hold accepted")
    wait_until(lambda: "held by IC alice" in live_text(page, "#summary"), timeout=20,
               what="the runner to hold the stage")
    ic_log = live_text(page, "#ic-log")
    assert "alice (token): hold - watch the WebSocket lag" in ic_log
    screenshot(page, "run_held.png")
    page.fill("#reason", "lag is flat")
    page.click("#btn-proceed")
    wait_until(lambda: "held by IC" not in live_text(page, "#summary"), timeout=20,
               what="the runner to carry out the proceed")
    assert "alice (token): proceed - lag is flat" in live_text(page, "#ic-log")
    assert page.evaluate("window.__sameDocument") is True  # all of it without a reload
    events = served.ledger.events(served.run_id)
    decisions = [e for e in events if e.kind == "ic_decision"]
    assert [d.payload["action"] for d in decisions] == ["hold", "proceed"]
    assert all(d.payload["identity"] == {**d.payload["identity"], "name": "alice", "proof": "token", "role": "ic"}
               for d in decisions)
    wait_until(lambda: page.evaluate("document.body.dataset.chartsDrawn"), timeout=20, what="the charts")
    screenshot(page, "run.png")
    page.context.close()


def test_observer_sees_no_buttons_and_the_api_says_403(browser: Any, served: Served) -> None:
    page = login(browser, served, "observer")
    page.goto(f"{served.url}/runs/{served.run_id}")
    assert page.locator("#btn-hold").count() == 0 and page.locator("#btn-note").count() == 0
    before = len(served.ledger.events(served.run_id))
    r = page.request.post(f"{served.url}/api/runs/{served.run_id}/decisions",
                          headers={"Authorization": f"Bearer {served.tokens['observer']}"},
                          data={"decision": "rollback", "reason": "I am only watching"})
    assert r.status == 403
    refused = [e for e in served.ledger.events(served.run_id, before) if e.kind == "ic_refused"]
    assert refused and refused[0].payload["identity"]["name"] == "carol"
    # the browser's own session cannot decide either (and without a CSRF token, not at all)
    r = page.request.post(f"{served.url}/runs/{served.run_id}/decide",
                          form={"decision": "hold", "reason": "x"})
    assert r.status == 403
    page.context.close()


def test_a_script_note_renders_as_text(browser: Any, served: Served) -> None:
    page = login(browser, served, "member")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{served.url}/runs/{served.run_id}")
    assert page.locator("#btn-hold").count() == 0
    page.fill("#note-text", "<script>alert(1)</script>")
    page.click("#btn-note")
    wait_until(lambda: "<script>alert(1)</script>" in live_text(page, "#parking-lot"), timeout=20,
               what="the note on the page")
    assert page.locator("#parking-lot script").count() == 0
    assert dialogs == []
    page.context.close()


def test_a_reconnect_resumes_from_last_event_id(browser: Any, served: Served) -> None:
    page = login(browser, served, "observer")
    page.goto(f"{served.url}/runs/{served.run_id}")
    # the server ends each stream after 3 s; the browser reconnects with Last-Event-ID
    wait_until(lambda: int(page.evaluate("document.body.dataset.sseOpens || '0'")) >= 3, timeout=30,
               what="two reconnects")
    ids = [int(x) for x in page.locator("#stream-log li").all_inner_texts()]
    assert ids, "no events received"
    assert ids == list(range(ids[0], ids[0] + len(ids))), "a gap or a repeat across reconnects"
    last = served.ledger.events(served.run_id)[-1].seq
    wait_until(lambda: int(page.locator("#stream-log li").last.inner_text()) >= last, timeout=10,
               what="the page to catch up with the ledger")
    page.context.close()


def test_oidc_login_in_the_browser(browser: Any, served: Served, idp: OidcProvider) -> None:
    idp.user = {"sub": "u-dana", "email": "dana@example.com", "preferred_username": "dana"}
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{served.url}/login")
    page.click("#oidc-login")  # to the provider (PKCE), which signs dana in and sends her back
    page.wait_for_url(f"{served.url}/")
    assert live_text(page, "#whoami") == "dana (member, oidc)"
    page.goto(f"{served.url}/runs/{served.run_id}")
    assert page.locator("#btn-note").count() == 1 and page.locator("#btn-hold").count() == 0
    page.fill("#note-text", "signed in through the IdP")
    page.click("#btn-note")
    wait_until(lambda: "dana (oidc): signed in through the IdP" in live_text(page, "#parking-lot"), timeout=20,
               what="dana's note")
    note = next(e for e in reversed(served.ledger.events(served.run_id)) if e.kind == "parking_lot")
    assert note.payload["identity"] == {"name": "dana", "subject": "oidc:u-dana", "proof": "oidc", "role": "member"}
    context.close()


def test_anonymous_readers_are_sent_to_log_in(browser: Any, served: Served) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{served.url}/runs/{served.run_id}")
    page.wait_for_url(f"{served.url}/login")
    assert page.locator("#token").count() == 1
    r = page.request.get(f"{served.url}/api/runs/{served.run_id}")
    assert r.status == 401
    context.close()


def test_the_ic_hands_over_and_the_buttons_follow(browser: Any, served: Served) -> None:
    alice = login(browser, served, "ic")
    bob = login(browser, served, "member")
    bob.goto(f"{served.url}/runs/{served.run_id}")
    assert bob.locator("#btn-hold").count() == 0
    alice.goto(f"{served.url}/runs/{served.run_id}")
    alice.fill("#handover-to", "bob")
    alice.fill("#handover-reason", "end of my shift")
    alice.click("#btn-handover")
    wait_until(lambda: "bob is the incident commander now" in live_text(alice, "#action-result"), timeout=10,
               what="the handover accepted")
    wait_until(lambda: live_text(alice, "#current-ic") == "bob", timeout=20, what="the page to name bob")
    screenshot(alice, "run_handover.png")
    bob.reload()
    assert bob.locator("#btn-hold").count() == 1 and bob.locator("#btn-handover").count() == 1
    alice.reload()
    assert alice.locator("#btn-hold").count() == 0 and alice.locator("#btn-note").count() == 1
    handover = next(e for e in served.ledger.events(served.run_id) if e.kind == "ic_handover")
    assert handover.payload["identity"]["name"] == "alice" and handover.payload["to"] == "bob"
    # and back, so the run's IC is alice again
    bob.fill("#handover-to", "alice")
    bob.click("#btn-handover")
    wait_until(lambda: "alice is the incident commander now" in live_text(bob, "#action-result"), timeout=10,
               what="the handover back")
    alice.context.close()
    bob.context.close()
