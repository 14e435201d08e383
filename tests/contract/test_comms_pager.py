"""`PagerMode` contract: the same suite on the in-memory fake, the PagerDuty adapter (against a local
REST API v2 + Events API v2) and the generic webhook adapter (against a local bridge); then
PagerDuty specifics: headers, exact restore of what was read (support-hours rules included),
401, 429 with Retry-After / ratelimit-reset, change events."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from runofshow.adapters.fakes_comms import PagerServices, RecordingPager
from runofshow.adapters.pager_webhook import WebhookPager
from runofshow.adapters.pagerduty import PagerDutyPager
from runofshow.domain.communications import pager_fields
from runofshow.errors import NotifierError
from runofshow.ports import PagerMode, PagerSnapshot
from tests.contract.comms_servers import PD_TOKEN, ROUTING_KEY, FakePagerDuty
from tests.contract.conftest import LocalServer, Reply, json_reply

AT = datetime(2026, 12, 6, 21, 30, tzinfo=UTC)
SERVICES = ("PIJ90N7", "PQ2K7ZL")
SUPPORT_HOURS_RULE = {
    "type": "use_support_hours",
    "during_support_hours": {"type": "constant", "urgency": "high"},
    "outside_support_hours": {"type": "constant", "urgency": "low"},
}


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def pd_state() -> PagerServices:
    state = PagerServices()
    state.add(SERVICES[0], urgency="low", ack_timeout_s=1800)
    state.add(SERVICES[1], urgency="high", ack_timeout_s=None)
    state.services[SERVICES[1]]["incident_urgency_rule"] = copy.deepcopy(SUPPORT_HOURS_RULE)
    state.services[SERVICES[1]]["scheduled_actions"] = [
        {"type": "urgency_change", "at": {"type": "named_time", "name": "support_hours_start"}, "to_urgency": "high"}]
    return state


class Bridge:
    """A pager bridge answering the generic webhook's JSON, on the same `PagerServices`."""

    def __init__(self, state: PagerServices) -> None:
        self.state, self.posts = state, []
        self.server = LocalServer(self.handle)
        self.url = self.server.url + "/pager"

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        p = json.loads(body)
        self.posts.append(p)
        if p["action"] == "yellow":
            for s in self.state.services.values():
                s.update({"incident_urgency_rule": {"type": "constant", "urgency": p["urgency"]},
                          "acknowledgement_timeout": p["ack_timeout_s"]})
        elif p["action"] == "restore":
            for sid, fields in p["services"].items():
                self.state.services[sid].update(fields)
        elif p["action"] == "change_event":
            self.state.change_events.append({"summary": p["text"], "timestamp": p["at"]})
            return json_reply(204, {})
        return json_reply(200, {"services": {sid: pager_fields(s) for sid, s in self.state.services.items()}})


@pytest.fixture
def pagerduty() -> Iterator[FakePagerDuty]:
    server = FakePagerDuty(pd_state())
    yield server
    server.close()


OPENED: list[PagerDutyPager] = []


@pytest.fixture(autouse=True)
def _close_adapters() -> Iterator[None]:
    yield
    while OPENED:
        OPENED.pop().close()


def real(server: FakePagerDuty, services: tuple[str, ...] = SERVICES, **kw: Any) -> PagerDutyPager:
    kw.setdefault("token", PD_TOKEN)
    kw.setdefault("routing_key", ROUTING_KEY)
    OPENED.append(PagerDutyPager(services, api_url=server.url, events_url=server.url, **kw))
    return OPENED[-1]


@pytest.fixture(params=["memory", "pagerduty", "webhook"])
def pager(request: pytest.FixtureRequest, pagerduty: FakePagerDuty) -> Iterator[tuple[PagerMode, PagerServices]]:
    if request.param == "memory":
        fake = RecordingPager(SERVICES, state=pd_state())
        yield fake, fake.state
    elif request.param == "pagerduty":
        yield real(pagerduty), pagerduty.state
    else:
        bridge = Bridge(pd_state())
        yield WebhookPager(bridge.url), bridge.state
        bridge.server.close()


# =========================================================================== the contract


def test_is_a_pager_mode(pager: tuple[PagerMode, PagerServices]) -> None:
    assert isinstance(pager[0], PagerMode)


def test_yellow_then_green_restores_exactly_what_was_read(pager: tuple[PagerMode, PagerServices]) -> None:
    mode, state = pager
    before_world = copy.deepcopy(state.services)
    before = mode.read_settings()
    assert set(before.services) == set(SERVICES)
    assert before.services[SERVICES[1]]["incident_urgency_rule"] == SUPPORT_HOURS_RULE
    yellow = mode.set_yellow()
    for sid in SERVICES:
        assert yellow.services[sid]["incident_urgency_rule"] == {"type": "constant", "urgency": "high"}
        assert yellow.services[sid]["acknowledgement_timeout"] == 300
        assert state.services[sid]["acknowledgement_timeout"] == 300
    green = mode.restore(before)
    assert green == before
    assert state.services == before_world  # every field as it was, not just the ones we changed


def test_the_snapshot_survives_the_ledger(pager: tuple[PagerMode, PagerServices]) -> None:
    """A resumed run restores from the snapshot as the ledger gives it back (JSON)."""
    mode, state = pager
    before_world = copy.deepcopy(state.services)
    before = mode.read_settings()
    mode.set_yellow()
    reread = PagerSnapshot(json.loads(json.dumps({k: dict(v) for k, v in before.services.items()})))
    mode.restore(reread)
    assert state.services == before_world


def test_change_event(pager: tuple[PagerMode, PagerServices]) -> None:
    mode, state = pager
    mode.send_change_event("v1.4.0 canary: stage 1 (1 %) started", AT)
    assert [e["summary"] for e in state.change_events] == ["v1.4.0 canary: stage 1 (1 %) started"]
    assert datetime.fromisoformat(state.change_events[0]["timestamp"]) == AT


# =========================================================================== PagerDuty specifics


def test_rest_headers_and_bodies(pagerduty: FakePagerDuty) -> None:
    mode = real(pagerduty)
    mode.set_yellow()
    mode.send_change_event("canary started", AT)
    rest = [r for r in pagerduty.requests if r[1].startswith("/services/")]
    assert [(m, p) for m, p, _, _ in rest] == [("PUT", "/services/PIJ90N7"), ("PUT", "/services/PQ2K7ZL")]
    for _, _, headers, body in rest:
        assert headers["Authorization"] == f"Token token={PD_TOKEN}"
        assert headers["Accept"] == "application/vnd.pagerduty+json;version=2"
        assert body == {"service": {"type": "service", "acknowledgement_timeout": 300,
                                    "incident_urgency_rule": {"type": "constant", "urgency": "high"}}}
    _, path, headers, body = pagerduty.requests[-1]
    assert path == "/v2/change/enqueue" and "Authorization" not in headers  # the routing key is the auth
    assert body["routing_key"] == ROUTING_KEY and body["payload"]["source"] == "runofshow"


def test_401_fails_at_once_naming_the_token(pagerduty: FakePagerDuty) -> None:
    sleeps = Sleeps()
    mode = real(pagerduty, token="u+wrong", token_env="PD_API_KEY", sleep=sleeps)
    with pytest.raises(NotifierError, match=r"401 Unauthorized \(code 2006\).*PD_API_KEY"):
        mode.read_settings()
    assert sleeps == [] and len(pagerduty.requests) == 1


def test_429_honours_retry_after(pagerduty: FakePagerDuty) -> None:
    sleeps = Sleeps()
    mode = real(pagerduty, sleep=sleeps)
    pagerduty.throttle("rest", n=2, retry_after="7")
    assert set(mode.read_settings().services) == set(SERVICES)
    assert sleeps == [7.0, 7.0]


def test_429_without_retry_after_uses_ratelimit_reset_or_backs_off(pagerduty: FakePagerDuty) -> None:
    sleeps = Sleeps()
    mode = real(pagerduty, sleep=sleeps, backoff_s=0.5)
    pagerduty.throttle("rest", n=1, retry_after=None)
    mode.read_settings()
    assert sleeps == [0.5]


def test_429_gives_up_after_the_attempts(pagerduty: FakePagerDuty) -> None:
    sleeps = Sleeps()
    mode = real(pagerduty, sleep=sleeps, attempts=3)
    pagerduty.throttle("rest", n=10, retry_after="2")
    with pytest.raises(NotifierError, match="gave up after 3 attempts.*429"):
        mode.set_yellow()
    assert sleeps == [2.0, 2.0]


def test_change_event_throttled_then_accepted(pagerduty: FakePagerDuty) -> None:
    sleeps = Sleeps()
    mode = real(pagerduty, sleep=sleeps)
    pagerduty.throttle("events", n=1, retry_after=None)
    mode.send_change_event("canary started", AT)
    assert len(pagerduty.state.change_events) == 1 and len(sleeps) == 1


def test_change_event_with_a_wrong_routing_key(pagerduty: FakePagerDuty) -> None:
    mode = real(pagerduty, routing_key="R-wrong")
    with pytest.raises(NotifierError, match="routing_key' is invalid"):
        mode.send_change_event("canary started", AT)


def test_change_event_without_a_routing_key(pagerduty: FakePagerDuty) -> None:
    with pytest.raises(NotifierError, match="no routing key"):
        real(pagerduty, routing_key=None).send_change_event("x", AT)


def test_an_unknown_service(pagerduty: FakePagerDuty) -> None:
    mode = real(pagerduty, ("PNOSUCH1",))
    with pytest.raises(NotifierError, match="404 Not Found"):
        mode.read_settings()


def test_no_token() -> None:
    with pytest.raises(NotifierError, match="PAGERDUTY_TOKEN"):
        PagerDutyPager(SERVICES, token="")


def test_a_bridge_without_services_in_its_answer() -> None:
    server = LocalServer(lambda *a: json_reply(200, {"ok": True}))
    try:
        with pytest.raises(NotifierError, match="no services"):
            WebhookPager(server.url, token="t").read_settings()
    finally:
        server.close()
