"""The real web app on loopback (uvicorn in a thread) over a SQLite ledger, a real run going on in
another thread (a compressed clock: T-30 .. the stages in seconds), tokens for each role, and
Playwright driving Debian's /usr/bin/chromium (never a downloaded browser). Chromium missing is a
failure in CI (CI=true), a skip elsewhere."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.adapters.memory import InMemoryRouter, StaticAlerts
from runofshow.app.bootstrap import RunOptions, start_run
from runofshow.app.warroom.identity import create_token
from runofshow.domain.plan import Plan
from runofshow.loopback import free_port
from runofshow.web import WebDeps, create_app, web_settings
from tests.helpers import missing_service, wait_until
from tests.oidc_provider import OidcProvider
from tests.report_runs import SplitTraffic, stand_in_handlers

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
#: plan seconds per wall second: T-2 .. T0 in 2 s, each 15-minute stage in 15 s (time for the IC)
SPEED = 60.0


@dataclass
class Served:
    url: str
    ledger: SqlLedger
    run_id: str
    tokens: dict[str, str]
    runner: Any


@pytest.fixture(scope="module")
def chromium_path() -> str:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing_service(f"{CHROMIUM} (apt-get install chromium)")  # a failure, never a skip
    return CHROMIUM


@pytest.fixture(scope="module")
def idp() -> Iterator[OidcProvider]:
    with OidcProvider(client_id="war-room", client_secret="browser-test-secret") as provider:
        yield provider


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, idp: OidcProvider) -> Iterator[Served]:
    import uvicorn

    tmp = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{tmp / 'runofshow.db'}"
    ledger = SqlLedger(url)
    plan = Plan.model_validate({"traffic_router": {"kind": "memory"}, "evidence_dir": str(tmp / "evidence"),
                                "war_room": {"incident_commanders": ["alice"], "members": ["bob"],
                                             "observers": ["carol"]},
                                "timeline": {"freeze_at_min": -2, "war_room_at_min": -1.5, "preflight_at_min": -1}})
    router = InMemoryRouter()
    world, runner = start_run(plan, RunOptions(check_windows=False, speed=SPEED, ledger_poll_s=0.1), environ={},
                              ledger=ledger, router=router, alerts=StaticAlerts(), notifier=None, annotator=None,
                              metrics=SplitTraffic(router, None), step_handlers=stand_in_handlers())
    tokens = {role: create_token(ledger, name, role)[0]
              for name, role in (("alice", "ic"), ("bob", "member"), ("carol", "observer"))}
    env = {"RUNOFSHOW_OIDC_ISSUER": idp.issuer, "RUNOFSHOW_OIDC_CLIENT_ID": "war-room",
           "RUNOFSHOW_OIDC_CLIENT_SECRET": "browser-test-secret", "RUNOFSHOW_OIDC_ROLES": "dana@example.com=member"}
    settings = web_settings(env, poll_s=0.1, stream_max_s=3.0)  # streams end often: reconnects are exercised
    app = create_app(WebDeps(ledger=ledger, tokens=ledger, settings=settings))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    running = threading.Thread(target=runner.run, daemon=True)
    running.start()
    wait_until(lambda: server.started, timeout=20, what="the web app to listen")
    try:
        yield Served(f"http://127.0.0.1:{port}", ledger, runner.state.run_id, tokens, runner)
    finally:
        runner.request_stop("the browser tests are over")
        running.join(30)
        world.close()
        server.should_exit = True
        serving.join(10)
        ledger.close()


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def login(browser: Any, served: Served, role: str) -> Any:
    """A new browser context logged in with `role`'s token; returns its page."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{served.url}/login")
    page.fill("#token", served.tokens[role])
    page.click("#login-button")
    page.wait_for_url(f"{served.url}/")
    return page


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
