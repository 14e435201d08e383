"""User feedback from the run page in a real browser: a member picks a sentiment, writes what users
said, and the result (with how the criterion now stands) appears without a reload; an observer has
no form."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Served, login
from tests.helpers import wait_until

pytestmark = pytest.mark.browser


def test_a_member_records_user_feedback_from_the_run_page(browser: Any, served: Served) -> None:
    page = login(browser, served, "member")
    page.goto(f"{served.url}/runs/{served.run_id}")
    page.evaluate("window.__sameDocument = true")
    page.select_option("#feedback-sentiment", "positive")
    page.fill("#feedback-note", "charts load faster <b>really</b>")
    page.click("#btn-feedback")
    wait_until(lambda: "recorded" in page.locator("#action-result").inner_text(), timeout=10,
               what="the feedback recorded")
    assert "User feedback neutral/positive: met (1 positive)" in page.locator("#action-result").inner_text()
    assert page.evaluate("window.__sameDocument") is True
    [given] = [e for e in served.ledger.events(served.run_id) if e.kind == "user_feedback"]
    assert given.payload["note"] == "charts load faster <b>really</b>" and given.payload["by"] == "bob"
    assert given.payload["identity"]["role"] == "member"
    page.context.close()


def test_an_observer_has_no_feedback_form(browser: Any, served: Served) -> None:
    page = login(browser, served, "observer")
    page.goto(f"{served.url}/runs/{served.run_id}")
    assert page.locator("#feedback-form").count() == 0
    page.context.close()
